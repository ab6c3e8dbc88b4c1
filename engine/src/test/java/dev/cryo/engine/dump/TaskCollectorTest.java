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
import dev.cryo.engine.model.SigAction;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
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
            public dev.cryo.engine.files.TakenTtyBytes ttyBytes() {
                return new dev.cryo.engine.files.TakenTtyBytes();
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

    /**
     * Every disposition is read exactly — a handler with flags and mask, SIG_IGN, a default one that
     * kept SA_RESTART and a restorer — in one ptrace round trip where the thread can take a batch,
     * call by call where it cannot (SIGURG and SIGWINCH blocked: nothing to stop the batch with);
     * both give what rt_sigaction injected one by one gives.
     */
    @ParameterizedTest
    @ValueSource(strings = {"batch", "block"})
    void sigactionsAreReadExactlyBatchedOrNot(String mode) throws Exception {
        Path prog = TestPrograms.compile("/c/sigdisp.c");
        try (DetachedProcess proc = DetachedProcess.start(tmp.resolve("sigdisp.out"), prog.toString(), mode)) {
            proc.awaitOutput("tick 2", Duration.ofSeconds(10));
            Pid pid = proc.pid();
            List<SigAction> collected;
            List<SigAction> reference = new java.util.ArrayList<>();
            long trips;
            try (Tracer tracer = new Tracer()) {
                List<Integer> tids = TaskSeizer.seize(tracer, pid);
                long before = tracer.roundTrips();
                collected = TaskCollector.collect(tracer, pid, tids, context()).task().sigactions();
                trips = tracer.roundTrips() - before;
                try (RemoteTask remote = new RemoteTask(tracer, pid, dev.cryo.kernel.proc.ProcFs.maps(pid), 1);
                     Injector inj = remote.injector(pid.value())) {
                    for (int sig = 1; sig <= Signals.MAX; sig++) {
                        if (sig == Signals.SIGKILL || sig == Signals.SIGSTOP) {
                            continue;
                        }
                        inj.call("rt_sigaction", SyscallNr.RT_SIGACTION, sig, 0, remote.scratch(), 8);
                        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(remote.readScratch(32))
                                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                        reference.add(new SigAction(sig, b.getLong(0), b.getLong(8), b.getLong(16), b.getLong(24)));
                    }
                }
                TaskSeizer.release(tracer, pid, tids);
            }
            System.out.println("sigdisp (" + mode + "): the task's state collected in " + trips + " ptrace round trips");
            assertEquals(reference, collected);
            java.util.Map<Integer, SigAction> by = new java.util.HashMap<>();
            collected.forEach(a -> by.put(a.signal(), a));
            SigAction usr1 = by.get(Signals.SIGUSR1);
            assertNotEquals(0, usr1.handler());
            assertEquals(SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_RESTORER, usr1.flags());
            assertEquals(1L << (Signals.SIGTERM - 1) | 1L << (34 + 3 - 1), usr1.mask());
            assertEquals(1, by.get(Signals.SIGPIPE).handler(), "SIG_IGN");
            SigAction hup = by.get(Signals.SIGHUP);
            assertEquals(0, hup.handler(), "SIG_DFL");
            assertNotEquals(0, hup.flags() & SA_RESTART, "a default disposition keeps the flags it was set with");
            assertNotEquals(0, hup.restorer());
            // 62 signals one by one cost two round trips each; a batch costs one for all of them
            if (mode.equals("batch")) {
                // and the main thread's other reads (dumpable, subreaper, itimers) join its batch, the
                // thread's securebits its own: 8 in all with the scratch page's map and unmap and brk,
                // read on its own as the area is mapped (it takes the mm lock for writing) (20 before)
                assertTrue(trips <= 8, "a batch: " + trips + " round trips for the whole task");
            } else {
                assertTrue(trips > 2 * 62, "call by call: " + trips + " round trips");
            }
            int lines = proc.outputText().split("\n").length;
            DetachedProcess.awaitCondition(() -> {
                try {
                    return proc.outputText().split("\n").length > lines + 3;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(5), "sigdisp to go on");
        }
    }

    /**
     * cryo's area in a task is an area of its own, whatever the program maps beside it: mapped right below the
     * task's lowest area, rwx and anonymous (varnish's thread stacks), it merged with it, so a pre-copy's area
     * mapped before the freeze was "no longer mapped as it was" and mapped again frozen, and observers of the
     * frozen tree saw one area of both (RealServersTest's varnish dumped with --pre-copy: "maps
     * 7fb9f6612000-7fb9f6641000: dumped 'rwxp ...', restored (absent)"); so did one mapped MAP_NORESERVE (SBCL's
     * spaces, "rd wr ex mr mw me nr") with an area mapped MAP_NORESERVE.
     */
    @ParameterizedTest
    @ValueSource(strings = {"accounted", "noreserve"})
    void cryosAreaStaysApartFromTheProgramsAreaRightAboveIt(String kind) throws Exception {
        Path prog = TestPrograms.compile("/c/rwxlowest.c");
        try (DetachedProcess proc = DetachedProcess.start(tmp.resolve("rwxlowest.out"), prog.toString(), kind)) {
            proc.awaitOutput("ready", Duration.ofSeconds(10));
            long area = Long.parseLong(proc.outputText().trim().split(" ")[1].substring(2), 16);
            Pid pid = proc.pid();
            try (Tracer tracer = new Tracer()) {
                List<Integer> tids = TaskSeizer.seize(tracer, pid);
                try (RemoteTask remote = new RemoteTask(tracer, pid, dev.cryo.kernel.proc.ProcFs.maps(pid), 1)) {
                    List<dev.cryo.kernel.proc.MapsEntry> maps = dev.cryo.kernel.proc.ProcFs.maps(pid);
                    assertTrue(remote.mappedAlone(maps), "cryo's area at 0x" + Long.toHexString(remote.scratch())
                            + " is not an area of its own: " + maps);
                    assertTrue(maps.stream().anyMatch(m -> m.start() == area && m.end() == area + (64 << 10)),
                            "the program's area as it was: " + maps);
                } finally {
                    TaskSeizer.release(tracer, pid, tids);
                }
            }
        }
    }

    private static final long SA_SIGINFO = 4, SA_ONSTACK = 0x08000000, SA_RESTART = 0x10000000,
            SA_RESTORER = 0x04000000;
}
