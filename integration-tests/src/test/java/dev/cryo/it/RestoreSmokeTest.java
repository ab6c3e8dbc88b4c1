package dev.cryo.it;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.ImageContents;
import dev.cryo.engine.restore.PageWriter;
import dev.cryo.engine.restore.PipeHub;
import dev.cryo.engine.restore.RestoreValidator;
import dev.cryo.engine.restore.TaskRestorer;
import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The restore steps driven serially on one thread: the mechanics without the actors. */
class RestoreSmokeTest {
    @TempDir
    Path tmp;

    @Test
    void aSingleThreadedCounterComesBack() throws Exception {
        String verdict = restoreSerially(stub -> { });
        assertTrue(verdict.contains("PASS sigusr1=0"), verdict);
    }

    /**
     * A signal sent to the stub between its spawn and its adoption (a migration's prepared stub waits
     * through every pre-copy round): the stub blocks every signal from its birth, so the SIGUSR1
     * waits pending instead of killing it (sleep's default action), and the restored counter takes
     * it with its own handler once its mask is back.
     */
    @Test
    void aSignalSentToTheStubBeforeItsAdoptionReachesTheRestoredProgram() throws Exception {
        String verdict = restoreSerially(stub -> Sys.kill(stub, dev.cryo.kernel.Signals.SIGUSR1));
        assertTrue(verdict.contains("PASS sigusr1=1"), verdict);
    }

    private String restoreSerially(java.util.function.Consumer<Pid> beforeAdoption) throws Exception {
        Path img = tmp.resolve("img");
        int pid;
        Path out;
        DumpRestore dumped;
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Thread.sleep(200);
            pid = p.pid().value();
            out = p.output();
            dumped = DumpRestore.dump(pid, img);
        }
        ImageContents image = ImageContents.read(img, 64 << 20);
        RestoreValidator.validate(image, Duration.ofSeconds(5), System.out::println);
        TaskImage task = image.task(pid);
        BootstrapArea boot = BootstrapArea.choose(image.tasks());
        Pid stub = ExactPidSpawner.spawn(pid, pid, "/bin/sleep", List.of("sleep", "1000"), true);
        assertEquals(pid, stub.value());
        beforeAdoption.accept(stub);
        dumped.alsoKnown(new StateComparator.Known("the SIGUSR1 sent to the stub before its adoption waits pending",
                d -> d.item().equals("status ShdPnd") && "0000000000000000".equals(d.dumped())
                        && "0000000000000200".equals(d.restored())));
        Thread.sleep(50);
        try (Tracer tracer = new Tracer(); PipeHub pipes = PipeHub.of(image.tasks());
             dev.cryo.engine.restore.SocketHub sockets = dev.cryo.engine.restore.SocketHub.of(image.tasks(), false);
             dev.cryo.engine.restore.SharedMemoryHub shared = dev.cryo.engine.restore.SharedMemoryHub.of(image.tasks());
             PageWriter pages = new PageWriter(img, 64 << 20)) {
            TaskRestorer r = new TaskRestorer(tracer, task, boot, java.util.Set.of(pid));
            try {
                r.adopt(true);
                r.mapMemory(shared);
                pages.write(stub, image.pagesOf(pid));
                r.protectMemory();
                r.restoreFiles(pipes, sockets, shared);
                r.leadSessionAndGroup();
                r.joinGroup();
                r.restoreState();
                dumped.compareFrozen();
                r.resume();
            } catch (Throwable e) {
                r.kill();
                Sys.wait4(pid, 0);
                throw e;
            }
        }
        DetachedProcess restored = DetachedProcess.restored(Pid.of(pid), out);
        Thread.sleep(300);
        String verdict = Workloads.check(restored);
        Sys.wait4(pid, 0);
        assertEquals(1, verdict.split("ready", -1).length - 1, "the restored process did not start over: " + verdict);
        return verdict;
    }
}
