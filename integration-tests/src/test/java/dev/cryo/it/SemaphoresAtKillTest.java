package dev.cryo.it;

import dev.cryo.engine.dump.SemaphoresAtKill;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SysvIpc;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The dump's kill applies the tree's SEM_UNDO adjustments to the host's semaphores, and the dump puts them back.
 * A killed task stuck in the kernel before its exit's SEM_UNDO step applies them after the dump has returned; no
 * test here can hold a killed task there (a FUSE request in flight would, but it holds the task from the seize
 * too), so a task still running at the hand-over stands for it: the watcher puts back what its exit changes.
 */
class SemaphoresAtKillTest {
    @TempDir
    Path tmp;

    @Test
    void whatTheExitOfAKilledTaskNotGoneYetChangesIsPutBackOnceItIsGone() throws Exception {
        // its child took 2 of 5 with SEM_UNDO: its exit gives them back
        try (DetachedProcess p = Workloads.program(tmp.resolve("semundoexit.out"), "semundoexit")) {
            Pid child = ProcFs.children(p.pid()).get(0);
            int id = SysvIpc.list("sem").stream().filter(e -> e.size() == 1 && SysvIpc.semPids(e.id(), 1)[0] == child.value())
                    .findFirst().orElseThrow().id();
            assertEquals(3, SysvIpc.semValues(id, 1)[0]);
            SemaphoresAtKill s = SemaphoresAtKill.snapshot(List.of(p.pid().value(), child.value()));
            List<String> notes = s.putBackAfter(List.of(child));
            assertEquals(1, notes.size(), notes.toString());
            assertTrue(notes.get(0).startsWith("pid " + child + " of the killed tree had not exited"), notes.get(0));
            Sys.kill(child, Signals.SIGKILL); // a zombie of its parent's: gone for the watcher, its undo applied
            DetachedProcess.awaitProbe(() -> SysvIpc.semValues(id, 1)[0] == 3 && SysvIpc.semPids(id, 1)[0] != child.value(),
                    Duration.ofSeconds(60), "the 2 the child's exit gave back to be taken again");
            Sys.kill(p.pid(), Signals.SIGUSR2); // the parent reaps it and removes the set
            p.awaitOutput("3 before the child's exit, 3 after", Duration.ofSeconds(30));
        }
    }
}
