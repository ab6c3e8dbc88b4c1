package dev.cryo.engine.timing;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.ItimerImage;
import dev.cryo.engine.model.PosixTimerImage;
import dev.cryo.engine.model.TimersImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.PosixTimers;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * Interval timers and POSIX timers of a process. Dump: /proc/PID/timers names the POSIX timers
 * (id, clock, notification); their time left, period and overrun, and the three interval timers,
 * are asked of the process itself by injected timer_gettime, timer_getoverrun and getitimer.
 * The restore recreates them at the very end, just before the tree resumes.
 */
public final class TimersHandler {
    private TimersHandler() {}

    /** Reads {@code len} bytes an injected call wrote at {@code scratch}. */
    public interface Scratch {
        long address();

        byte[] read(int len);
    }

    public static TimersImage dump(Pid pid, Injector inj, Scratch scratch, Set<Integer> tids) {
        List<ItimerImage> itimers = new ArrayList<>();
        for (int which = ItimerImage.REAL; which <= ItimerImage.PROF; which++) {
            inj.call("getitimer(" + ItimerImage.name(which) + ")", SyscallNr.GETITIMER, which, scratch.address());
            ByteBuffer b = le(scratch.read(32));
            ItimerImage t = new ItimerImage(which, b.getLong(16), b.getLong(24), b.getLong(0), b.getLong(8));
            if (t.armed()) {
                itimers.add(t);
            }
        }
        List<PosixTimerImage> posix = new ArrayList<>();
        for (PosixTimers.Timer t : ProcFs.timers(pid).timers()) {
            int base = t.sigevNotify() & ~PosixTimers.SIGEV_THREAD_ID;
            if (base != PosixTimers.SIGEV_SIGNAL && base != PosixTimers.SIGEV_NONE) {
                throw new DumpException("pid " + pid + ": POSIX timer " + t.id() + " has notification " + t.sigevNotify()
                        + ", which cryo cannot recreate");
            }
            if (t.toThread() && !tids.contains(t.target())) {
                throw new DumpException("pid " + pid + ": POSIX timer " + t.id() + " signals thread " + t.target()
                        + ", which has exited: the kernel would refuse to recreate it");
            }
            inj.call("timer_gettime(" + t.id() + ")", SyscallNr.TIMER_GETTIME, t.id(), scratch.address());
            ByteBuffer b = le(scratch.read(32));
            long overrun = inj.call("timer_getoverrun(" + t.id() + ")", SyscallNr.TIMER_GETOVERRUN, t.id());
            posix.add(new PosixTimerImage(t.id(), t.clockId(), t.sigevNotify(), t.signal(), t.sigevValue(), t.target(),
                    b.getLong(16), b.getLong(24), b.getLong(0), b.getLong(8), (int) overrun));
        }
        return new TimersImage(itimers, posix);
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }
}
