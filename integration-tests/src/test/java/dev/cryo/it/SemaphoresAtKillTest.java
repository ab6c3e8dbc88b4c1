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

    /**
     * cryo killed between a killing dump's kill and its put-back: a JVM of its own takes the values, arms the watcher
     * as the dump does before its kill ({@link SemaphoresAtKill#armAgainstDeath}), and is SIGKILLed; the child's exit
     * then gives back the 2 it took, and the watcher takes them again. Before, they stayed given back.
     */
    @Test
    void whatTheKillChangesIsPutBackShouldCryoDieBeforeItDoes() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("semundoexit.out"), "semundoexit")) {
            Pid child = ProcFs.children(p.pid()).get(0);
            int id = SysvIpc.list("sem").stream().filter(e -> e.size() == 1 && SysvIpc.semPids(e.id(), 1)[0] == child.value())
                    .findFirst().orElseThrow().id();
            String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            Process cryo = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-XX:-UsePerfData", "-cp", cp, Armed.class.getName(), child.toString())
                    .redirectErrorStream(true).redirectOutput(tmp.resolve("armed.out").toFile()).start();
            try {
                DetachedProcess.awaitProbe(() -> java.nio.file.Files.readString(tmp.resolve("armed.out")).contains("armed")
                        || !cryo.isAlive(), Duration.ofSeconds(120), "the watcher armed");
                assertTrue(cryo.isAlive(), java.nio.file.Files.readString(tmp.resolve("armed.out")));
            } finally {
                cryo.destroyForcibly(); // SIGKILL, as cryo dies
                cryo.waitFor();
            }
            Sys.kill(child, Signals.SIGKILL); // its exit gives the 2 back: 5
            DetachedProcess.awaitProbe(() -> SysvIpc.semValues(id, 1)[0] == 3 && SysvIpc.semPids(id, 1)[0] != child.value(),
                    Duration.ofSeconds(60), "the watcher to take the 2 the child's exit gave back");
            Sys.kill(p.pid(), Signals.SIGUSR2); // the parent reaps it and removes the set
            p.awaitOutput("3 before the child's exit, 3 after", Duration.ofSeconds(30));
        }
    }

    /** As a killing dump before its kill: the values taken, the watcher armed; then waits to be killed. */
    public static final class Armed {
        public static void main(String[] args) throws Exception {
            SemaphoresAtKill s = SemaphoresAtKill.snapshot(List.of(Integer.parseInt(args[0])));
            String note = s.armAgainstDeath();
            System.out.println(note == null ? "armed" : note);
            System.out.flush();
            Thread.sleep(600_000);
        }
    }
}
