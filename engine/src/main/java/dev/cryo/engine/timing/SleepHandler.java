package dev.cryo.engine.timing;

import dev.cryo.engine.model.SleepImage;
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
}
