package dev.cryo.engine.timing;

import dev.cryo.engine.model.PosixTimerImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A periodic POSIX timer whose own signal waits to be taken ({@link WaitingTimerSignals} finds and takes
 * them). While it waits the kernel counts the
 * expirations it misses, and tells them only when the signal is taken (si_overrun): a copy of the
 * signal queued again would say 0, and would come besides the timer's own next one. So the dump
 * takes the signal in the task (rt_sigtimedwait, which reads the count) and puts the timer back as
 * it was: armed at an absolute time that many periods before its next expiration, so the kernel
 * fires it at once, queues its own signal, and counts the missed periods again when it is taken.
 * The restore arms it the same way from the image.
 */
public final class PendingTimerSignal {
    private static final int SI_TIMER = -2, TIMER_ABSTIME = 1;
    private static final long NANOS = 1_000_000_000L;

    private PendingTimerSignal() {}

    /** An injected call: what, number, arguments; returns the result (failing on an error). */
    interface Calls {
        long call(String what, int nr, long... args);
    }

    static int signo(byte[] siginfo) {
        return le(siginfo).getInt(0);
    }

    /** Whether the siginfo is timer {@code id}'s own signal (SI_TIMER, its id in si_timerid). */
    public static boolean isTimers(byte[] siginfo, int id) {
        ByteBuffer b = le(siginfo);
        return b.getInt(8) == SI_TIMER && b.getInt(16) == id;
    }

    /**
     * Takes the first waiting signal {@code signal} in the thread of {@code inj} (its own queue's,
     * else the process's) and returns its siginfo; the scratch area's first 256 bytes are used.
     */
    static byte[] takeFirst(Pid pid, Injector inj, TimersHandler.Scratch scratch, int signal) {
        long at = scratch.address();
        Sys.write(pid, at, ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << (signal - 1))
                .putLong(0).putLong(0).array()); // the set, then a zero timeout: it is there already
        long got = inj.call("rt_sigtimedwait(" + signal + ")", SyscallNr.RT_SIGTIMEDWAIT, at, at + 128, at + 8, 8);
        if (got != signal) {
            throw new IllegalStateException("pid " + pid + " tid " + inj.tid() + ": took signal " + got + " waiting for "
                    + signal);
        }
        return java.util.Arrays.copyOfRange(scratch.read(256), 128, 256);
    }

    /** The overrun a timer's signal says (si_overrun): the periods the timer missed while it waited. */
    static int overrun(byte[] siginfo) {
        return le(siginfo).getInt(20);
    }

    /**
     * Arms the timer so that its signal waits again with the overrun the image has: absolute, at
     * its next expiration minus (overrun + 1) periods, on its own clock as the task reads it (a time
     * namespace's offsets included). {@code at}: 48 bytes of the task's memory to use.
     */
    static void pend(Calls calls, Pid pid, long at, PosixTimerImage p) {
        calls.call("clock_gettime(" + p.clockId() + ")", SyscallNr.CLOCK_GETTIME, p.clockId(), at);
        ByteBuffer now = le(Sys.read(pid, at, 16));
        long interval = p.intervalSec() * NANOS + p.intervalNsec();
        long expiry;
        try {
            long next = Math.addExact(Math.addExact(Math.multiplyExact(now.getLong(0), NANOS), now.getLong(8)),
                    p.valueSec() * NANOS + p.valueNsec());
            expiry = Math.max(1, Math.subtractExact(next, Math.multiplyExact(p.pendingOverrun() + 1L, interval)));
        } catch (ArithmeticException beyondTheClock) {
            expiry = 1; // at once: the overrun then counts from now
        }
        Sys.write(pid, at + 16, ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN).putLong(p.intervalSec())
                .putLong(p.intervalNsec()).putLong(expiry / NANOS).putLong(expiry % NANOS).array());
        calls.call("timer_settime(" + p.id() + ", TIMER_ABSTIME, expired " + p.pendingOverrun() + " periods ago)",
                SyscallNr.TIMER_SETTIME, p.id(), TIMER_ABSTIME, at + 16, 0);
    }

    /** How long the kernel may take to queue the signal of a timer armed in the past (it fires at the next tick). */
    private static final long QUEUED_WITHIN_NANOS = 5_000_000_000L;

    /** Waits until timer {@code id}'s own signal is in {@code queue} (read when asked); false after 5 s. */
    static boolean awaitQueued(java.util.function.Supplier<java.util.List<byte[]>> queue, int id) {
        long deadline = System.nanoTime() + QUEUED_WITHIN_NANOS;
        while (queue.get().stream().noneMatch(si -> isTimers(si, id))) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
        return true;
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }
}
