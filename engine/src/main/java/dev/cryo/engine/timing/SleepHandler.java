package dev.cryo.engine.timing;

import dev.cryo.engine.model.SleepImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Registers;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Relative sleeps interrupted by the dump. When cryo stops a thread inside nanosleep or a relative
 * clock_nanosleep, the kernel leaves -ERESTART_RESTARTBLOCK in rax, keeps the wake-up time in the
 * thread's restart block (invisible from outside) and, when the caller passed a {@code rem}
 * buffer, writes the time left there. That time left is what the dump records; the restore arms
 * a new restart block with it.
 */
public final class SleepHandler {
    public static final int ERESTART_RESTARTBLOCK = 516;

    private SleepHandler() {}

    /** The sleep a dumped thread was in, or null when it was in none (or its time left is not exposed). */
    public static SleepImage dump(Pid pid, Registers r) {
        if (r.rax() != -ERESTART_RESTARTBLOCK) {
            return null;
        }
        int clock;
        long rem;
        if (r.origRax() == SyscallNr.NANOSLEEP) {
            clock = 1; // CLOCK_MONOTONIC, as the kernel's nanosleep
            rem = r.get(Registers.RSI);
        } else if (r.origRax() == SyscallNr.CLOCK_NANOSLEEP) {
            clock = (int) r.get(Registers.RDI); // TIMER_ABSTIME sleeps end in -ERESTARTNOHAND, not here
            rem = r.get(Registers.R10);
        } else {
            return null; // poll and futex waits also use restart blocks: they re-run as before
        }
        if (rem == 0) {
            return null; // no rem buffer (usleep): the time left is nowhere to read; the sleep re-runs whole
        }
        ByteBuffer ts = ByteBuffer.wrap(Sys.read(pid, rem, 16)).order(ByteOrder.LITTLE_ENDIAN);
        return new SleepImage((int) r.origRax(), clock, ts.getLong(0) * 1_000_000_000L + ts.getLong(8));
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
            long rem = s.syscall() == SyscallNr.NANOSLEEP ? dumped.get(Registers.RSI) : dumped.get(Registers.R10);
            long req = t.put(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(s.remainingNsec() / 1_000_000_000L).putLong(s.remainingNsec() % 1_000_000_000L).array());
            long r = t.injector(th.tid()).rawInterrupted(SyscallNr.CLOCK_NANOSLEEP, s.clockId(), 0, req, rem);
            if (r == -ERESTART_RESTARTBLOCK) {
                t.resumeWith(th.tid(), dumped.with(Registers.RAX, SyscallNr.RESTART_SYSCALL)
                        .with(Registers.RIP, dumped.rip() - 2).with(Registers.ORIG_RAX, -1));
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
