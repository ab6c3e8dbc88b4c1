package dev.cryo.engine.timing;

import dev.cryo.kernel.Errno;
import dev.cryo.engine.model.SleepImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Registers;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Relative sleeps interrupted by the dump. When cryo stops a thread inside nanosleep or a relative
 * clock_nanosleep, the kernel leaves -ERESTART_RESTARTBLOCK in rax, keeps the wake-up time in the
 * thread's restart block (invisible from outside) and, when the caller passed a {@code rem}
 * buffer, writes the time left there. That time left is what the dump records; the restore arms
 * a new restart block with it.
 *
 * <p>A thread already resuming a sleep through restart_syscall (one cryo restored, or one a stop
 * or a signal without handler interrupted before) shows restart_syscall in orig_rax: which sleep
 * it resumes is read from the code that made the call (glibc's {@code mov $nr, %eax; syscall}),
 * its arguments are still in the registers, and an injected restart_syscall, interrupted at once,
 * makes the kernel write the time left into the program's rem buffer.
 */
public final class SleepHandler {

    private SleepHandler() {}

    /**
     * The sleep a dumped thread was in, or null when it was in none (or its time left is not
     * exposed and the restart the kernel would do anyway is right).
     */
    public static SleepImage dump(Pid pid, Registers r, Injector inj) {
        if (r.rax() != -Errno.ERESTART_RESTARTBLOCK) {
            return null;
        }
        long nr = r.origRax();
        boolean restarted = nr == SyscallNr.RESTART_SYSCALL;
        if (restarted) {
            nr = sleepCalledAt(pid, r.rip());
        }
        int clock;
        long rem;
        if (nr == SyscallNr.NANOSLEEP) {
            clock = 1; // CLOCK_MONOTONIC, as the kernel's nanosleep
            rem = r.get(Registers.RSI);
        } else if (nr == SyscallNr.CLOCK_NANOSLEEP) {
            clock = (int) r.get(Registers.RDI); // TIMER_ABSTIME sleeps end in -ERESTARTNOHAND, not here
            rem = r.get(Registers.R10);
        } else {
            return null; // poll and futex waits also use restart blocks: they re-run as before
        }
        if (rem == 0) {
            // no rem buffer (usleep): the time left is nowhere to read; the sleep re-runs whole
            return restarted ? new SleepImage((int) nr, clock, UNKNOWN) : null;
        }
        if (restarted) {
            long rv = inj.rawInterrupted(SyscallNr.RESTART_SYSCALL);
            if (rv == 0) {
                return new SleepImage((int) nr, clock, 0); // it was just over
            }
            if (rv != -Errno.ERESTART_RESTARTBLOCK) {
                return new SleepImage((int) nr, clock, UNKNOWN);
            }
        }
        ByteBuffer ts = ByteBuffer.wrap(Sys.read(pid, rem, 16)).order(ByteOrder.LITTLE_ENDIAN);
        return new SleepImage((int) nr, clock, ts.getLong(0) * 1_000_000_000L + ts.getLong(8));
    }

    /** Time left not known: the restore re-runs the sleep whole, as the original call. */
    public static final long UNKNOWN = -1;

    private static final byte[] MOV_EAX = {(byte) 0xb8};

    /** The sleep syscall whose {@code syscall} instruction ends at {@code rip}, or -1. */
    private static long sleepCalledAt(Pid pid, long rip) {
        byte[] code;
        try {
            code = Sys.read(pid, rip - 7, 7);
        } catch (RuntimeException e) {
            return -1;
        }
        ByteBuffer b = ByteBuffer.wrap(code).order(ByteOrder.LITTLE_ENDIAN);
        if (code[0] != MOV_EAX[0] || code[5] != 0x0f || code[6] != 0x05) {
            return -1;
        }
        int nr = b.getInt(1);
        return nr == SyscallNr.NANOSLEEP || nr == SyscallNr.CLOCK_NANOSLEEP ? nr : -1;
    }

    /**
     * Gives every thread that was in a relative sleep a restart block again: an injected
     * clock_nanosleep(clock, relative, time left, the program's own rem buffer), interrupted at
     * once, leaves the kernel's restart block armed to wake at now + time left. The thread then
     * resumes on restart_syscall (what the kernel itself does with -ERESTART_RESTARTBLOCK), so the
     * sleep ends when it would have, had the tree never been frozen; if interrupted by a signal it
     * fails with EINTR and the time left in rem, as it would have. The last injected call of the
     * thread but munmap, which does not touch the restart block.
     */
    public static void rearm(TaskContext t) {
        for (ThreadImage th : t.task().threads()) {
            SleepImage s = th.sleep();
            if (s == null) {
                continue;
            }
            Registers dumped = new Registers(th.regs());
            if (s.remainingNsec() == UNKNOWN) {
                // re-run the original call whole (a fresh process has no restart block to resume)
                // (the kernel's restart at the detach: EINTR instead if a handler's signal comes first)
                t.resumeWith(th.tid(), dumped.with(Registers.RAX, -Errno.ERESTARTNOHAND).with(Registers.ORIG_RAX, s.syscall()));
                continue;
            }
            long rem = s.syscall() == SyscallNr.NANOSLEEP ? dumped.get(Registers.RSI) : dumped.get(Registers.R10);
            long req = t.put(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(s.remainingNsec() / 1_000_000_000L).putLong(s.remainingNsec() % 1_000_000_000L).array());
            long r = t.injector(th.tid()).rawInterrupted(SyscallNr.CLOCK_NANOSLEEP, s.clockId(), 0, req, rem);
            if (r == -Errno.ERESTART_RESTARTBLOCK) {
                // resumed through the restart block just armed, by the kernel at the detach
                // (RegisterInstall); a handler's signal that comes first makes it fail with EINTR
                t.resumeWith(th.tid(), dumped.with(Registers.RAX, -Errno.ERESTART_RESTARTBLOCK)
                        .with(Registers.ORIG_RAX, s.syscall()));
            } else if (r == 0) {
                // no time was left: the sleep is over, nanosleep returns 0
                t.resumeWith(th.tid(), dumped.with(Registers.RAX, 0).with(Registers.ORIG_RAX, -1));
            } else {
                throw new RestoreException("pid " + t.pid() + " tid " + th.tid() + ": re-arming its sleep of "
                        + s.remainingNsec() + " ns left: clock_nanosleep returned " + r);
            }
        }
    }
}
