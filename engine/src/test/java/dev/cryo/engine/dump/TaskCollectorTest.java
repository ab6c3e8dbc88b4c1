package dev.cryo.engine.dump;

import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.RegularFileHandler;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TaskCollectorTest {
    @TempDir
    Path tmp;

    private static FdHandler.DumpContext context() {
        GhostFiles ghosts = new GhostFiles(1 << 20);
        return new FdHandler.DumpContext() {
            @Override
            public boolean claimPipeData(long pipeId) {
                return true;
            }

            @Override
            public boolean shellJob() {
                return false;
            }

            @Override
            public SharedMemoryClaims sharedMemory() {
                return new SharedMemoryClaims();
            }

            @Override
            public GhostFiles ghostFiles() {
                return ghosts;
            }

            @Override
            public void requireUnshared(dev.cryo.engine.files.FdProbe fd, String kind) {
                // one task only
            }

            @Override
            public dev.cryo.engine.files.SocketDumpState sockets() {
                return new dev.cryo.engine.files.SocketDumpState(dev.cryo.engine.files.SocketDumpState.Options.NONE,
                        dev.cryo.kernel.Pid.of(1), java.util.List.of());
            }
        };
    }

    @Test
    void collectsAFrozenProcessAndLeavesNoTrace() throws Exception {
        Path ticker = TestPrograms.compile("/c/ticker.c");
        try (DetachedProcess proc = DetachedProcess.start(tmp.resolve("ticker.out"), ticker.toString())) {
            proc.awaitOutput("tick 3", Duration.ofSeconds(10));
            Pid pid = proc.pid();
            String mapsBefore = Files.readString(Path.of("/proc/" + pid + "/maps"));
            TaskCollector.Snapshot snap;
            try (Tracer tracer = new Tracer()) {
                List<Integer> tids = TaskSeizer.seize(tracer, pid);
                assertEquals(List.of(pid.value()), tids);
                snap = TaskCollector.collect(tracer, pid, tids, context());
                TaskSeizer.release(tracer, pid, tids);
            }
            assertEquals(mapsBefore, Files.readString(Path.of("/proc/" + pid + "/maps")), "scratch page unmapped");
            TaskImage t = snap.task();
            assertEquals(pid.value(), t.pid());
            assertEquals("ticker", t.comm());
            assertEquals(ticker.toString(), t.exe().path());
            assertEquals(1, t.threads().size());
            long[] regs = t.threads().get(0).regs();
            assertNotEquals(0, regs[Registers.FS_BASE]);
            assertTrue(t.threads().get(0).rseqAddress() != 0, "glibc registers rseq");
            assertTrue(t.threads().get(0).clearChildTid() != 0, "glibc sets clear_child_tid");
            assertTrue(t.mm().brk() >= t.mm().startBrk());
            assertEquals(64 - 2, t.sigactions().size());
            assertTrue(t.vmas().stream().anyMatch(v -> v.kind() == MemoryKinds.VDSO));
            assertTrue(t.vmas().stream().anyMatch(v -> v.kind() == MemoryKinds.STACK));
            assertTrue(t.fds().stream().anyMatch(f -> f.fd() == 1 && f.desc() instanceof RegularFileHandler.RegularFile));
            assertTrue(snap.memory().runs().size() > 0);
            assertTrue(snap.memory().runs().stream().noneMatch(r -> t.vmas().get(r.vmaIndex()).kind() instanceof dev.cryo.engine.memory.VdsoArea));
            // it keeps running after release
            int lines = proc.outputText().split("\n").length;
            DetachedProcess.awaitCondition(() -> {
                try {
                    return proc.outputText().split("\n").length > lines + 3;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(5), "ticker to go on");
        }
    }
}
