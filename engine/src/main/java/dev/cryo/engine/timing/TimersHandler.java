package dev.cryo.engine.timing;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.ItimerImage;
import dev.cryo.engine.model.PosixTimerImage;
import dev.cryo.engine.model.TimersImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.PosixTimers;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.stage.ThreadCreation;
import dev.cryo.kernel.ptrace.Registers;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
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
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TimersHandler.class);

    private TimersHandler() {}

    /** Reads {@code len} bytes an injected call wrote at {@code scratch}. */
    public interface Scratch {
        long address();

        byte[] read(int len);
    }

    /**
     * {@code itimerValues}: the three {@code struct itimerval}s (as four longs each, REAL, VIRTUAL,
     * PROF) read already by the caller's batch, or null to read them here. {@code inj}: the main
     * thread's injector; {@code threads}: one for another thread (closed after use), where a timer
     * aimed at it has its signal waiting.
     */
    public static TimersImage dump(Pid pid, Injector inj, IntFunction<Injector> threads, Scratch scratch, Set<Integer> tids,
                                   List<long[]> itimerValues, SignalQueues queues) {
        List<ItimerImage> itimers = new ArrayList<>();
        for (int which = ItimerImage.REAL; which <= ItimerImage.PROF; which++) {
            long[] v;
            if (itimerValues != null) {
                v = itimerValues.get(which);
            } else {
                inj.call("getitimer(" + ItimerImage.name(which) + ")", SyscallNr.GETITIMER, which, scratch.address());
                ByteBuffer b = le(scratch.read(32));
                v = new long[] {b.getLong(0), b.getLong(8), b.getLong(16), b.getLong(24)};
            }
            ItimerImage t = new ItimerImage(which, v[2], v[3], v[0], v[1]);
            if (t.carried()) {
                itimers.add(t);
            }
        }
        List<PosixTimers.Timer> listed = ProcFs.timers(pid).timers();
        for (PosixTimers.Timer t : listed) {
            int base = t.sigevNotify() & ~PosixTimers.SIGEV_THREAD_ID;
            if (base != PosixTimers.SIGEV_SIGNAL && base != PosixTimers.SIGEV_NONE) {
                throw new DumpException("pid " + pid + ": POSIX timer " + t.id() + " has notification " + t.sigevNotify()
                        + ", which cryo cannot recreate");
            }
        }
        // a periodic timer's own waiting signal is taken (its overrun read) and put back first, its time read then
        WaitingTimerSignals waiting = queues == null || listed.isEmpty() ? null
                : WaitingTimerSignals.take(pid, inj, threads, scratch, tids, listed, queues);
        List<PosixTimerImage> posix = new ArrayList<>();
        for (PosixTimers.Timer t : listed) {
            // a timer aimed at a thread that has exited is kept: it never fires again, and the
            // restore aims it at a stand-in thread of that tid that exits at once (see create)
            PosixTimerImage taken = waiting == null ? null : waiting.image(t.id());
            if (taken != null) {
                posix.add(taken);
                continue;
            }
            inj.call("timer_gettime(" + t.id() + ")", SyscallNr.TIMER_GETTIME, t.id(), scratch.address());
            ByteBuffer b = le(scratch.read(32));
            long overrun = inj.call("timer_getoverrun(" + t.id() + ")", SyscallNr.TIMER_GETOVERRUN, t.id());
            posix.add(new PosixTimerImage(t.id(), t.clockId(), t.sigevNotify(), t.signal(), t.sigevValue(),
                    t.target(), b.getLong(16), b.getLong(24), b.getLong(0), b.getLong(8), (int) overrun, -1));
        }
        return new TimersImage(itimers, posix);
    }

    /**
     * The task's signal queues, read when asked: the process's, and a thread's own. The queues change
     * while the timers are dumped: their waiting signals are taken and put back.
     */
    public interface SignalQueues extends WaitingTimerSignals.Queues {}

    private static final int PR_TIMER_CREATE_RESTORE_IDS = 77, ON = 1, OFF = 0;

    /**
     * Creates every POSIX timer with its dumped id, disarmed. With PR_TIMER_CREATE_RESTORE_IDS on,
     * timer_create takes the id to give the timer from the timer_t it normally only writes to;
     * the switch is per process and needs CAP_CHECKPOINT_RESTORE in the task, so this runs before
     * the task's credentials are dropped, and turns the switch off again in any case.
     */
    public static void create(TaskContext t) {
        List<PosixTimerImage> timers = t.task().timers().posixTimers();
        if (timers.isEmpty()) {
            return;
        }
        long r = t.main().raw(SyscallNr.PRCTL, PR_TIMER_CREATE_RESTORE_IDS, ON, 0, 0, 0);
        if (Injector.isError(r)) {
            throw new RestoreException("pid " + t.pid() + " has " + timers.size() + " POSIX timer(s) but this kernel "
                    + "cannot give a timer a chosen id: prctl(PR_TIMER_CREATE_RESTORE_IDS): "
                    + Injector.errorText(r) + " (Linux 6.15 or later, and CAP_CHECKPOINT_RESTORE, are needed)");
        }
        Set<Integer> gone = goneTargets(t.task());
        Set<Integer> standIns = new HashSet<>();
        try {
            for (int tid : gone) {
                if (ThreadCreation.spawnStandIn(t, tid)) {
                    standIns.add(tid);
                } else {
                    log.warn("pid " + t.pid() + ": a POSIX timer signals thread " + tid + ", which had exited when "
                            + "the tree was dumped; tid " + tid + " is taken now, so the timer comes back as SIGEV_NONE "
                            + "(it never fires either way, only /proc/" + t.pid() + "/timers tells the difference)");
                }
            }
            // /proc lists the newest timer first: created oldest first, they list as they did
            List<PosixTimerImage> oldestFirst = new ArrayList<>(timers);
            java.util.Collections.reverse(oldestFirst);
            for (PosixTimerImage p : oldestFirst) {
                boolean inert = gone.contains(p.targetTid()) && !standIns.contains(p.targetTid())
                        && (p.sigevNotify() & PosixTimerImage.SIGEV_THREAD_ID) != 0;
                int notify = inert ? PosixTimerImage.SIGEV_NONE : p.sigevNotify();
                long sigev = t.put(0, ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(p.sigevValue())
                        .putInt(p.signal()).putInt(notify).putInt(inert ? 0 : t.namespaces().seenByOrExited(t.pid().value(), p.targetTid()))
                        .array());
                long idAt = t.put(64, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(p.id()).array());
                t.call("timer_create(id " + p.id() + ", clock " + p.clockId() + ")", SyscallNr.TIMER_CREATE,
                        p.clockId(), sigev, idAt);
                int got = le(Sys.read(t.pid(), idAt, 4)).getInt(0);
                if (got != p.id()) {
                    throw new RestoreException("pid " + t.pid() + ": asked for POSIX timer id " + p.id() + " and got " + got);
                }
            }
        } finally {
            for (int tid : standIns) {
                endStandIn(t, tid);
            }
            t.call("prctl(PR_TIMER_CREATE_RESTORE_IDS, off)", SyscallNr.PRCTL, PR_TIMER_CREATE_RESTORE_IDS, OFF, 0, 0, 0);
        }
    }

    /** The tids that thread-directed timers of the task signal and that are none of its threads: they had exited. */
    static Set<Integer> goneTargets(TaskImage task) {
        Set<Integer> tids = new HashSet<>();
        for (ThreadImage th : task.threads()) {
            tids.add(th.tid());
        }
        Set<Integer> gone = new java.util.TreeSet<>();
        for (PosixTimerImage p : task.timers().posixTimers()) {
            if ((p.sigevNotify() & PosixTimerImage.SIGEV_THREAD_ID) != 0 && !tids.contains(p.targetTid())) {
                gone.add(p.targetTid());
            }
        }
        return gone;
    }

    /**
     * A stand-in thread, once the timers aimed at it exist, exits: every signal blocked (none may
     * be delivered to it), it runs exit(0) at the gadget once let go, and is reaped by the kernel
     * (an untraced thread). The timers keep its tid, as the dumped ones kept the exited thread's.
     */
    private static void endStandIn(TaskContext t, int tid) {
        t.tracer().setSigmask(tid, -1L);
        Registers exit = t.tracer().getRegisters(tid).forSyscall(t.boot().gadget(), SyscallNr.EXIT, new long[] {0});
        t.tracer().setRegisters(tid, exit);
        t.tracer().detach(t.pid().value(), tid);
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (Files.exists(Path.of(t.pid().procDir(), "task", String.valueOf(tid)))) {
            if (System.nanoTime() > deadline) {
                throw new RestoreException("pid " + t.pid() + ": the stand-in thread " + tid + " of a POSIX timer did not exit");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
    }

    /**
     * Arms the POSIX timers and interval timers with the time they had left and their period.
     * Called last before the registers go in, with every signal of every thread blocked (see
     * {@link dev.cryo.engine.restore.stage.TimerArming}).
     */
    public static void arm(TaskContext t) {
        TimersImage timers = t.task().timers();
        for (PosixTimerImage p : timers.posixTimers()) {
            if (p.signalPending()) {
                continue; // armed by PendingSignals, in its signal's place among the pending ones (pendInPlace)
            } else if (p.armed()) {
                long spec = t.put(ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN).putLong(p.intervalSec())
                        .putLong(p.intervalNsec()).putLong(p.valueSec()).putLong(p.valueNsec()).array());
                t.call("timer_settime(" + p.id() + ")", SyscallNr.TIMER_SETTIME, p.id(), 0, spec, 0);
            }
        }
        for (ItimerImage i : timers.itimers()) {
            // an expired timer waiting for its SIGALRM to be taken: setitimer cannot keep a period
            // without time left, so it expires again at once; its signal merges with the pending one
            long valueUsec = i.armed() ? i.valueUsec() : 1;
            long val = t.put(ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN).putLong(i.intervalSec())
                    .putLong(i.intervalUsec()).putLong(i.valueSec()).putLong(valueUsec).array());
            t.call("setitimer(" + ItimerImage.name(i.which()) + ")", SyscallNr.SETITIMER, i.which(), val, 0);
        }
    }

    /**
     * Arms a timer whose own signal waited at dump time so that the kernel queues it again with its
     * overrun, and waits until it has (it fires at the next tick): the signals pending after it are
     * queued after it. {@code queue}: the queue it goes to, read when asked.
     */
    public static void pendInPlace(TaskContext t, PosixTimerImage p, java.util.function.Supplier<List<byte[]>> queue) {
        PendingTimerSignal.pend((what, nr, args) -> t.call(what, nr, args), t.pid(), t.put(new byte[48]), p);
        if (!PendingTimerSignal.awaitQueued(queue, p.id())) {
            throw new RestoreException("pid " + t.pid() + ": POSIX timer " + p.id() + ", armed to queue its waiting signal"
                    + " again, did not");
        }
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }
}
