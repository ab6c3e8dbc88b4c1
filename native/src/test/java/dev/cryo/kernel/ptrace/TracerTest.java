package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.WaitStatus;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

class TracerTest {
    @TempDir
    Path tmp;

    private static long[] vdso(Pid pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/maps"))) {
            if (line.endsWith("[vdso]")) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                return new long[]{Long.parseUnsignedLong(range[0], 16), Long.parseUnsignedLong(range[1], 16)};
            }
        }
        throw new AssertionError("no [vdso] in maps of " + pid);
    }

    private static long sigBlk(Pid pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("SigBlk:")) {
                return Long.parseUnsignedLong(line.substring(7).trim(), 16);
            }
        }
        throw new AssertionError("no SigBlk");
    }

    @Test
    void injectsSyscallsIntoARunningProcessAndLeavesItUnharmed() throws Exception {
        Path ticker = TestPrograms.compile("/c/ticker.c");
        try (DetachedProcess proc = DetachedProcess.start(tmp.resolve("ticker.out"), ticker.toString())) {
            proc.awaitOutput("tick 3", Duration.ofSeconds(10));
            Pid pid = proc.pid();
            long mapped;
            try (Tracer tracer = new Tracer()) {
                tracer.seizeAndInterrupt(pid.value(), 0);
                WaitStatus st = tracer.waitForStop(pid.value());
                assertTrue(st.isEventStop(), "expected an event stop, got " + st);
                assertEquals('t', proc.state(), "a seized, interrupted task is in tracing stop");

                Registers before = tracer.getRegisters(pid.value());
                assertNotEquals(0, before.rip());
                assertNotEquals(0, before.get(Registers.FS_BASE), "glibc sets fs_base for TLS");
                byte[] xstate = tracer.getXstate(pid.value());
                assertTrue(xstate.length >= 576, "xstate holds at least the legacy area and header: " + xstate.length);
                long mask = tracer.getSigmask(pid.value());
                assertEquals(sigBlk(pid), mask, "PTRACE_GETSIGMASK agrees with SigBlk in /proc/PID/status");

                long[] vdso = vdso(pid);
                long gadget = SyscallGadget.find(pid, vdso[0], vdso[1]);
                try (Injector inj = new Injector(tracer, pid, pid.value(), gadget)) {
                    assertEquals(pid.value(), inj.call("getpid", SyscallNr.GETPID));
                    mapped = inj.call("mmap", SyscallNr.MMAP, 0, 8192, 1 /* R: no neighbour to merge with */, 0x22 /* PRIVATE|ANON */, -1, 0);
                    assertTrue(mapped > 0);
                    SyscallException e = assertThrows(SyscallException.class,
                            () -> inj.call("close", SyscallNr.CLOSE, 987654));
                    assertTrue(e.getMessage().startsWith("close(987654) in pid " + pid + ": EBADF"), e.getMessage());
                    assertEquals(3, inj.calls());
                }
                assertEquals(before, tracer.getRegisters(pid.value()), "registers restored exactly");
                tracer.detach(pid.value(), pid.value());
            }
            String maps = Files.readString(Path.of("/proc/" + pid + "/maps"));
            assertTrue(maps.contains(Long.toHexString(mapped) + "-" + Long.toHexString(mapped + 8192) + " r--p"),
                    "the injected mmap shows in /proc/PID/maps:\n" + maps);
            int ticks = proc.outputText().split("\n").length;
            DetachedProcess.awaitCondition(() -> {
                try {
                    return proc.outputText().split("\n").length > ticks + 5;
                } catch (Exception ex) {
                    return false;
                }
            }, Duration.ofSeconds(10), "the ticker to keep ticking after detach");
            assertTrue(proc.alive());
            assertFalse(proc.outputText().contains("rror"), proc.outputText());
        }
    }

    /**
     * The pending signals a batch's stop signal is chosen by, from PTRACE_PEEKSIGINFO on both
     * queues: the same bits as /proc's SigPnd | ShdPnd, with more queued signals than one peek takes.
     */
    @Test
    void pendingSignalsAreTheThreadsAndTheProcesssAsProcShowsThem() throws Exception {
        Path ticker = TestPrograms.compile("/c/ticker.c");
        try (DetachedProcess proc = DetachedProcess.start(tmp.resolve("ticker.out"), ticker.toString())) {
            proc.awaitOutput("tick 1", Duration.ofSeconds(10));
            Pid pid = proc.pid();
            try (Tracer tracer = new Tracer()) {
                tracer.seizeAndInterrupt(pid.value(), 0);
                tracer.waitForStop(pid.value());
                assertEquals(0, tracer.pendingSignals(pid.value()), "nothing pending in a ticker");
                int rt = 36, rtLast = 37;
                tracer.setSigmask(pid.value(), bit(Signals.SIGUSR1) | bit(Signals.SIGUSR2) | bit(rt) | bit(rtLast));
                dev.cryo.kernel.Sys.tgkill(pid, pid, Signals.SIGUSR1); // the thread's queue
                dev.cryo.kernel.Sys.kill(pid, Signals.SIGUSR2); // the process's
                for (int i = 0; i < 12; i++) {
                    dev.cryo.kernel.Sys.kill(pid, rt); // queued each time: past the first peek
                }
                dev.cryo.kernel.Sys.kill(pid, rtLast);
                long pending = tracer.pendingSignals(pid.value());
                assertEquals(bit(Signals.SIGUSR1) | bit(Signals.SIGUSR2) | bit(rt) | bit(rtLast), pending);
                dev.cryo.kernel.proc.ProcStatus st = dev.cryo.kernel.proc.ProcFs.status(pid, pid);
                assertEquals(st.sigPnd() | st.shdPnd(), pending, "as /proc shows them");
            }
        }
    }

    private static long bit(int sig) {
        return 1L << (sig - 1);
    }

    @Test
    void seizingAMissingPidNamesTheCallAndTheErrno() {
        try (Tracer tracer = new Tracer()) {
            SyscallException e = assertThrows(SyscallException.class, () -> tracer.seizeAndInterrupt(4_000_000, 0));
            assertEquals("ptrace(PTRACE_SEIZE, pid 4000000): ESRCH (No such process)", e.getMessage());
        }
    }

    @Test
    void ptraceFromAnotherThreadIsRefusedClearly() throws Exception {
        Tracer tracer = new Tracer();
        Throwable[] err = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                tracer.getSigmask(1);
            } catch (Throwable e) {
                err[0] = e;
            }
        }, "other");
        t.start();
        t.join();
        assertInstanceOf(IllegalStateException.class, err[0]);
        assertTrue(err[0].getMessage().contains("belong to"));
    }
}
