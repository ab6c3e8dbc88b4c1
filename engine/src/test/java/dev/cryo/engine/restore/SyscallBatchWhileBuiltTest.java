package dev.cryo.engine.restore;

import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The restore's syscall batch (as ProcessState sets every sigaction with it): in a thread with
 * every signal blocked, as a restored task is while it is built, 62 rt_sigaction calls take one
 * ptrace round trip, set exactly what one-by-one injection reads back, touch no disposition the
 * batch did not set (its own stop signal's included), and leave every signal blocked.
 */
class SyscallBatchWhileBuiltTest {
    @TempDir
    Path tmp;

    private static final int PROT_RWX = 7, MAP_PRIVATE_ANON = 0x22, PAGE = 4096;

    @Test
    void sixtyTwoSigactionsInOneRoundTrip() throws Exception {
        Path ticker = TestPrograms.compile("/c/ticker.c");
        try (DetachedProcess proc = DetachedProcess.start(tmp.resolve("ticker.out"), ticker.toString())) {
            proc.awaitOutput("tick 2", Duration.ofSeconds(10));
            Pid pid = proc.pid();
            try (Tracer tracer = new Tracer()) {
                List<Integer> tids = TaskSeizer.seize(tracer, pid);
                long mask = tracer.getSigmask(pid.value());
                tracer.setSigmask(pid.value(), -1L);
                long allBlocked = tracer.getSigmask(pid.value()); // all but SIGKILL and SIGSTOP
                try (Injector inj = new Injector(tracer, pid, pid.value(), SyscallGadget.inVdso(pid))) {
                    long area = inj.call("mmap", SyscallNr.MMAP, 0, 4 * PAGE, PROT_RWX, MAP_PRIVATE_ANON, -1, 0);
                    List<long[]> before = read(inj, area);
                    // every disposition set to SIG_IGN with flags SA_RESTART and a mask naming the signal
                    List<SyscallBatch.Call> calls = new ArrayList<>();
                    ByteBuffer structs = ByteBuffer.allocate(64 * 32).order(ByteOrder.LITTLE_ENDIAN);
                    int i = 0;
                    for (int sig = 1; sig <= Signals.MAX; sig++) {
                        if (sig == Signals.SIGKILL || sig == Signals.SIGSTOP) {
                            continue;
                        }
                        structs.putLong(1).putLong(0x10000000L).putLong(0).putLong(1L << (sig - 1));
                        calls.add(new SyscallBatch.Call(SyscallNr.RT_SIGACTION, sig, area + i++ * 32L, 0, 8));
                    }
                    Sys.write(pid, area, structs.array());
                    int stop = SyscallBatch.stopSignalWhileBuilt(tracer.pendingSignals(pid.value()));
                    long trips = tracer.roundTrips();
                    long[] r = SyscallBatch.runWhileBuilt(tracer, inj, area + 2 * PAGE, calls, stop, area + 3 * PAGE);
                    assertEquals(1, tracer.roundTrips() - trips, "ptrace round trips for 62 rt_sigaction calls");
                    assertArrayEquals(new long[62], r, "every call succeeded");
                    assertEquals(allBlocked, tracer.getSigmask(pid.value()), "every signal blocked again");
                    List<long[]> after = read(inj, area);
                    for (long[] a : after) {
                        assertEquals(1, a[1], "SIG_IGN for signal " + a[0]);
                        assertEquals(0x10000000L, a[2], "SA_RESTART for signal " + a[0]);
                        assertEquals(1L << (a[0] - 1), a[4], "the mask of signal " + a[0]);
                    }
                    // back as they were, in a batch too
                    calls.clear();
                    structs.clear();
                    i = 0;
                    for (long[] a : before) {
                        structs.putLong(a[1]).putLong(a[2]).putLong(a[3]).putLong(a[4]);
                        calls.add(new SyscallBatch.Call(SyscallNr.RT_SIGACTION, a[0], area + i++ * 32L, 0, 8));
                    }
                    Sys.write(pid, area, structs.array());
                    SyscallBatch.runWhileBuilt(tracer, inj, area + 2 * PAGE, calls, stop, area + 3 * PAGE);
                    List<long[]> restored = read(inj, area);
                    for (int k = 0; k < before.size(); k++) {
                        assertArrayEquals(before.get(k), restored.get(k), "signal " + before.get(k)[0]);
                    }
                    inj.call("munmap", SyscallNr.MUNMAP, area, 4 * PAGE);
                }
                tracer.setSigmask(pid.value(), mask);
                TaskSeizer.release(tracer, pid, tids);
            }
            int lines = proc.outputText().split("\n").length;
            DetachedProcess.awaitCondition(() -> {
                try {
                    return proc.outputText().split("\n").length > lines + 2;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(5), "ticker to go on");
        }
    }

    /** {signal, handler, flags, restorer, mask} of every signal but SIGKILL and SIGSTOP, one by one. */
    private static List<long[]> read(Injector inj, long area) {
        List<long[]> out = new ArrayList<>();
        for (int sig = 1; sig <= Signals.MAX; sig++) {
            if (sig == Signals.SIGKILL || sig == Signals.SIGSTOP) {
                continue;
            }
            inj.call("rt_sigaction", SyscallNr.RT_SIGACTION, sig, 0, area + PAGE, 8);
            ByteBuffer b = ByteBuffer.wrap(Sys.read(inj.pid(), area + PAGE, 32)).order(ByteOrder.LITTLE_ENDIAN);
            out.add(new long[] {sig, b.getLong(0), b.getLong(8), b.getLong(16), b.getLong(24)});
        }
        return out;
    }
}
