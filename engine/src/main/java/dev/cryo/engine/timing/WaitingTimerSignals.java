package dev.cryo.engine.timing;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.PosixTimerImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.PosixTimers;
import dev.cryo.kernel.ptrace.Injector;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * The dump half of {@link PendingTimerSignal} for both queues a POSIX timer's own signal can wait in:
 * the process's, and a thread's own (a timer aimed at a thread, SIGEV_THREAD_ID). The signal is
 * taken in the thread that owns the queue (the kernel tells a timer's overrun only to the one who
 * takes it) when it is the first of its number there (and, in the process's queue, none of its
 * number waits in the main thread's own, which a wait there would take first), then put back by
 * arming the timer as having expired that many periods ago. One that waits behind another signal
 * of its number cannot be taken without taking that one, whose place would be lost: a periodic
 * timer's is refused, before anything is taken.
 */
final class WaitingTimerSignals {
    /** The task's signal queues as they are now: the process's, and one thread's own. */
    interface Queues {
        List<byte[]> shared();

        List<byte[]> thread(int tid);
    }

    /** Timer {@code timerId}'s signal taken: from the process's queue or thread {@code tid}'s own. */
    private record Taken(int tid, boolean shared, int timerId) {}

    private final Pid pid;
    private final Injector main;
    private final TimersHandler.Scratch scratch;
    private final Queues queues;
    private final List<Taken> taken = new ArrayList<>();
    private final Map<Integer, Integer> overruns = new HashMap<>();

    private WaitingTimerSignals(Pid pid, Injector main, TimersHandler.Scratch scratch, Queues queues) {
        this.pid = pid;
        this.main = main;
        this.scratch = scratch;
        this.queues = queues;
    }

    /**
     * Takes each timer's own waiting signal that is first of its number in its queue ({@code main}:
     * an injector of the main thread; {@code threads}: one of another thread, closed after use).
     * Timers aimed at a thread that has exited are left: they never fire again.
     */
    static WaitingTimerSignals take(Pid pid, Injector main, IntFunction<Injector> threads, TimersHandler.Scratch scratch,
                                    Set<Integer> tids, List<PosixTimers.Timer> timers, Queues queues) {
        WaitingTimerSignals w = new WaitingTimerSignals(pid, main, scratch, queues);
        List<PosixTimers.Timer> ready = new ArrayList<>(); // nothing is taken before every timer is checked
        for (PosixTimers.Timer t : timers) {
            if ((t.sigevNotify() & ~PosixTimers.SIGEV_THREAD_ID) != PosixTimers.SIGEV_SIGNAL) {
                continue;
            }
            int tid = owner(pid, t);
            if (!tids.contains(tid)) {
                continue;
            }
            boolean shared = !t.toThread();
            List<byte[]> queue = shared ? both(queues, pid.value()) : queues.thread(tid);
            if (queue.stream().noneMatch(si -> PendingTimerSignal.isTimers(si, t.id()))) {
                continue;
            }
            byte[] first = queue.stream().filter(si -> PendingTimerSignal.signo(si) == t.signal()).findFirst().orElseThrow();
            if (!PendingTimerSignal.isTimers(first, t.id())) {
                refuseIfPeriodic(pid, main, scratch, t);
                continue; // a one-shot timer misses no period: its signal is carried as a copy
            }
            ready.add(t);
        }
        for (PosixTimers.Timer t : ready) {
            int tid = owner(pid, t);
            Injector inj = tid == pid.value() ? main : threads.apply(tid);
            try {
                byte[] info = PendingTimerSignal.takeFirst(pid, inj, scratch, t.signal());
                w.taken.add(new Taken(tid, !t.toThread(), t.id()));
                w.overruns.put(t.id(), PendingTimerSignal.overrun(info));
            } finally {
                if (inj != main) {
                    inj.close();
                }
            }
        }
        return w;
    }

    /** The thread whose queue timer {@code t}'s signal waits in, and which takes it: its target, else the main thread. */
    private static int owner(Pid pid, PosixTimers.Timer t) {
        return t.toThread() ? t.target() : pid.value();
    }

    /** The main thread's own queue, then the process's: the order a wait in the main thread takes them in. */
    private static List<byte[]> both(Queues queues, int mainTid) {
        List<byte[]> all = new ArrayList<>(queues.thread(mainTid));
        all.addAll(queues.shared());
        return all;
    }

    /** The overrun of timer {@code id}'s own signal, taken; -1 if it was not. */
    int overrun(int id) {
        return overruns.getOrDefault(id, -1);
    }

    /**
     * A periodic timer whose own signal waits behind another of its number: the periods it misses
     * meanwhile (its overrun) could not be read without taking that one out of its place.
     */
    private static void refuseIfPeriodic(Pid pid, Injector main, TimersHandler.Scratch scratch, PosixTimers.Timer t) {
        main.call("timer_gettime(" + t.id() + ")", dev.cryo.kernel.SyscallNr.TIMER_GETTIME, t.id(), scratch.address());
        java.nio.ByteBuffer spec = java.nio.ByteBuffer.wrap(scratch.read(16)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (spec.getLong(0) != 0 || spec.getLong(8) != 0) {
            throw new DumpException("pid " + pid + ": POSIX timer " + t.id() + "'s own signal "
                    + dev.cryo.kernel.Signals.name(t.signal()) + " waits behind another signal of its number"
                    + (t.toThread() ? " in thread " + t.target() + "'s queue" : "") + ": the periods the timer misses"
                    + " meanwhile (its overrun) cannot be read without taking that one out of its place; not supported yet");
        }
    }

    /** Puts every signal taken back, by its timer; {@code images}: the timers by id, their time read after the take. */
    void putBack(Map<Integer, PosixTimerImage> images) {
        for (Taken t : taken) {
            PosixTimerImage p = images.get(t.timerId());
            PendingTimerSignal.pend(main::call, pid, scratch.address(), p);
            if (!PendingTimerSignal.awaitQueued(() -> t.shared() ? queues.shared() : queues.thread(t.tid()), p.id())) {
                throw new DumpException("pid " + pid + ": POSIX timer " + p.id() + ", armed to queue its waiting"
                        + " signal again, did not");
            }
        }
    }
}
