package dev.cryo.it;

import dev.cryo.engine.dump.RemoteTask;
import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A thread let go in the middle of an injected syscall — what the kernel does when cryo dies —
 * goes back to its own registers through its return pad and carries on unharmed. The detach
 * here stands for the tracer's death (both unlink the tracee and let it run as it is).
 */
class TracerVanishesTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"before", "entry", "exit", "between", "batch-before", "batch-done"})
    void aThreadLetGoMidInjectionCarriesOn(String where) throws Exception {
        for (String workload : List.of("counter", "threads")) {
            Path dir = java.nio.file.Files.createDirectories(tmp.resolve(workload + "-" + where));
            try (DetachedProcess p = workload.equals("counter") ? Workloads.counter(dir) : Workloads.threads(dir)) {
                Thread.sleep(50);
                Pid pid = p.pid();
                Tracer tracer = new Tracer();
                List<Integer> tids = TaskSeizer.seize(tracer, pid);
                RemoteTask remote = new RemoteTask(tracer, pid, ProcFs.maps(pid), tids.size());
                for (int tid : where.startsWith("batch") ? tids.subList(0, 1) : tids) { // one batch per task at a time
                    Injector inj = remote.injector(tid);
                    var frame = inj.savedRegisters().forSyscall(inj.gadget(), SyscallNr.GETPID, new long[0]);
                    switch (where) {
                        case "before" -> tracer.setRegisters(tid, frame);
                        case "entry" -> {
                            tracer.setRegisters(tid, frame);
                            tracer.toNextSyscallStop(tid);
                        }
                        case "exit" -> {
                            tracer.setRegisters(tid, frame);
                            tracer.toNextSyscallStop(tid);
                            tracer.toNextSyscallStop(tid);
                        }
                        case "batch-before", "batch-done" -> {
                            // a batch of syscalls let go before it ran, or after it stopped at its end
                            int signal = SyscallBatch.stopSignal(ProcFs.status(pid, Pid.of(tid)), tracer.getSigmask(tid),
                                    tracer.pendingSignals(tid));
                            assertTrue(signal != 0, "SIGURG is free in " + workload);
                            List<SyscallBatch.Call> calls = java.util.stream.IntStream.rangeClosed(1, 40)
                                    .mapToObj(sig -> new SyscallBatch.Call(SyscallNr.RT_SIGACTION, sig, 0,
                                            remote.batchArea() + 4096 + 32L * sig, 8)).toList();
                            long stop = SyscallBatch.prepare(tracer, inj, remote.batchArea(), calls, signal);
                            if (where.equals("batch-done")) { // stopped at its end, still in its code
                                tracer.continueToOwnSignal(pid.value(), tid, signal, stop);
                            }
                        }
                        default -> inj.call("getpid", SyscallNr.GETPID); // back at the exit stop, as between calls
                    }
                    // never closed: the registers stay as the injection left them
                }
                TaskSeizer.release(tracer, pid, tids);
                Thread.sleep(100);
                String verdict = Workloads.check(p);
                assertTrue(verdict.contains("PASS"), workload + " let go " + where + ": " + verdict);
            }
        }
    }

    /**
     * cryo dies while a thread runs a batch of its code, when every signal is blocked (so that none
     * stops it and loses its siginfo): the batch runs to its end, and the return pad puts the
     * thread's own signal mask back on its way back, so the workload still takes its check signal.
     * The tracer here is a thread that ends, as cryo would: the kernel lets its tracees go.
     */
    @org.junit.jupiter.api.Test
    void aThreadWhoseTracerDiesWhileItRunsABatchGetsItsOwnSignalMaskBack() throws Throwable {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Thread.sleep(50);
            Pid pid = p.pid();
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            Thread cryo = new Thread(() -> {
                try {
                    Tracer tracer = new Tracer();
                    List<Integer> tids = TaskSeizer.seize(tracer, pid);
                    RemoteTask remote = new RemoteTask(tracer, pid, ProcFs.maps(pid), tids.size());
                    int tid = pid.value();
                    Injector inj = remote.injector(tid);
                    int signal = SyscallBatch.stopSignal(ProcFs.status(pid, pid), tracer.getSigmask(tid), tracer.pendingSignals(tid));
                    assertTrue(signal != 0, "SIGURG is free in the counter");
                    long ts = remote.batchOutput();
                    dev.cryo.kernel.Sys.write(pid, ts, java.nio.ByteBuffer.allocate(16)
                            .order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(0).putLong(300_000_000L).array());
                    SyscallBatch.prepare(tracer, inj, remote.batchArea(),
                            List.of(new SyscallBatch.Call(SyscallNr.NANOSLEEP, ts, 0)), signal);
                    tracer.setSigmask(tid, -1L); // as while cryo's code runs
                    tracer.cont(tid, 0);
                } catch (Throwable t) {
                    failed.set(t);
                }
            }, "tracer that dies");
            cryo.start();
            cryo.join();
            if (failed.get() != null) {
                throw failed.get();
            }
            Thread.sleep(500); // the batch's nanosleep ends
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS"), "let go while running a batch: " + verdict);
        }
    }

    /**
     * The calls that map and unmap the pads' area cannot run through a pad: a thread let go in
     * the middle of one (an mmap and a munmap of the same size, as RemoteTask makes them) carries
     * on through the process's sigreturn route. The counter sits in a relative nanosleep and the
     * threads' main thread in sigtimedwait: both are restarted by the frame the route returns to.
     */
    @ParameterizedTest
    @ValueSource(strings = {"before", "entry", "exit", "unmap-entry", "unmap-exit"})
    void aThreadLetGoWhileTheAreaIsMappedOrUnmappedCarriesOn(String where) throws Exception {
        for (String workload : List.of("counter", "threads")) {
            Path dir = java.nio.file.Files.createDirectories(tmp.resolve(workload + "-area-" + where));
            try (DetachedProcess p = workload.equals("counter") ? Workloads.counter(dir) : Workloads.threads(dir)) {
                Thread.sleep(50);
                Pid pid = p.pid();
                Tracer tracer = new Tracer();
                List<Integer> tids = TaskSeizer.seize(tracer, pid);
                var maps = ProcFs.maps(pid);
                Injector inj = RemoteTask.areaInjector(tracer, pid, maps);
                assertTrue(inj.gadget() != vdsoSyscall(pid, maps), "the area is mapped through the vDSO, unprotected");
                long length = 2 * RemoteTask.PAGE;
                var frame = inj.frameFor(SyscallNr.MMAP, 0, length, 7, 0x22, -1, 0);
                if (where.startsWith("unmap")) {
                    long area = inj.call("mmap", SyscallNr.MMAP, 0, length, 7, 0x22, -1, 0);
                    frame = inj.frameFor(SyscallNr.MUNMAP, area, length);
                }
                tracer.setRegisters(pid.value(), frame);
                if (!where.equals("before")) {
                    tracer.toNextSyscallStop(pid.value());
                }
                if (where.endsWith("exit")) {
                    tracer.toNextSyscallStop(pid.value());
                }
                // never closed: the registers stay as the injection left them
                TaskSeizer.release(tracer, pid, tids);
                Thread.sleep(100);
                String verdict = Workloads.check(p);
                assertTrue(verdict.contains("PASS"), workload + " let go " + where + ": " + verdict);
            }
        }
    }

    private static long vdsoSyscall(Pid pid, List<dev.cryo.kernel.proc.MapsEntry> maps) {
        var vdso = maps.stream().filter(dev.cryo.kernel.proc.MapsEntry::isVdso).findFirst().orElseThrow();
        return dev.cryo.kernel.ptrace.SyscallGadget.find(pid, vdso.start(), vdso.end());
    }
}
