package dev.cryo.engine.timing;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.PosixTimerImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.PosixTimers;
import dev.cryo.kernel.ptrace.Injector;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * The dump half of {@link PendingTimerSignal} for both queues a POSIX timer's own signal can wait in:
 * the process's, and a thread's own (a timer aimed at a thread, SIGEV_THREAD_ID). The kernel tells a
 * periodic timer's overrun only to the one who takes its signal, and a wait takes the first signal of
 * a number. So, in the thread that owns the queue, every signal of that number is taken in order
 * (for the main thread: its own queue's, then the process's, the order a wait there takes them in)
 * and all are put back at once in that order: a periodic timer's own by arming the timer as having
 * expired that many periods ago (the kernel queues it and counts on), any other (a sigqueue()d one,
 * a one-shot timer's) as an exact copy by rt_sigqueueinfo/rt_tgsigqueueinfo. So two periodic timers
 * on one signal (DMTCP's timer1), or a timer's signal between two sigqueue()d ones, keep their
 * overruns and their order.
 * <p>
 * Taking a periodic timer's signal arms it for its next period; one that expired before it was put
 * back would queue its signal ahead of those put back. So each is disarmed as soon as its time is
 * read (the time it had left is what the image keeps), and the queue is compared with the order
 * taken afterwards: a signal that came meanwhile anyway (an expiry in that instant, another periodic
 * timer of the number, a signal sent from outside) was not waiting at the freeze, so it goes after
 * the others, and the number is taken and put back again. Refused if the order does not hold after
 * {@link #ATTEMPTS} tries.
 */
final class WaitingTimerSignals {
    /** The task's signal queues as they are now: the process's, and one thread's own. */
    interface Queues {
        List<byte[]> shared();

        List<byte[]> thread(int tid);
    }

    /**
     * One signal taken: {@code timerId} the periodic timer whose own it was (put back by arming it),
     * else -1 (put back as a copy: to the process's queue when {@code shared}, else to the thread's own).
     */
    private record Taken(boolean shared, int timerId, byte[] siginfo) {
        boolean same(Taken o) {
            return timerId >= 0 ? o.timerId == timerId : o.timerId < 0 && o.shared == shared
                    && Arrays.equals(o.siginfo, siginfo);
        }
    }

    /** The signals of one number in the queue one thread takes them from. */
    private record Group(int tid, int signal) {}

    private static final int ATTEMPTS = 5;
    private static final long COPY_AT = 512; // scratch offset of a copy's siginfo (takeFirst uses the first 256 bytes)

    private final Pid pid;
    private final Injector main;
    private final TimersHandler.Scratch scratch;
    private final Queues queues;
    /** The periodic timers whose own signal was taken, as read right after the take (pendingOverrun: its overrun). */
    private final Map<Integer, PosixTimerImage> images = new HashMap<>();
    private long self;

    private WaitingTimerSignals(Pid pid, Injector main, TimersHandler.Scratch scratch, Queues queues) {
        this.pid = pid;
        this.main = main;
        this.scratch = scratch;
        this.queues = queues;
    }

    /**
     * Takes and puts back, in each thread that owns a queue where a periodic timer's own signal
     * waits, every signal of that number ({@code main}: an injector of the main thread; {@code
     * threads}: one of another thread, closed after use). Timers aimed at a thread that has exited
     * are left: they never fire again.
     */
    static WaitingTimerSignals take(Pid pid, Injector main, IntFunction<Injector> threads, TimersHandler.Scratch scratch,
                                    Set<Integer> tids, List<PosixTimers.Timer> timers, Queues queues) {
        WaitingTimerSignals w = new WaitingTimerSignals(pid, main, scratch, queues);
        Map<Group, Map<Integer, PosixTimers.Timer>> periodic = new LinkedHashMap<>();
        Set<Group> waiting = new java.util.HashSet<>();
        for (PosixTimers.Timer t : timers) {
            if ((t.sigevNotify() & ~PosixTimers.SIGEV_THREAD_ID) != PosixTimers.SIGEV_SIGNAL) {
                continue;
            }
            int tid = owner(pid, t);
            if (!tids.contains(tid) || !periodic(main, scratch, t)) {
                continue; // a one-shot timer misses no period: its signal is carried as a copy
            }
            Group g = new Group(tid, t.signal());
            periodic.computeIfAbsent(g, k -> new LinkedHashMap<>()).put(t.id(), t);
            List<byte[]> queue = t.toThread() ? queues.thread(tid) : both(queues, pid.value());
            if (queue.stream().anyMatch(si -> PendingTimerSignal.isTimers(si, t.id()))) {
                waiting.add(g);
            }
        }
        for (Group g : waiting) {
            Injector inj = g.tid() == pid.value() ? main : threads.apply(g.tid());
            try {
                w.retake(inj, g, periodic.get(g));
            } finally {
                if (inj != main) {
                    inj.close();
                }
            }
        }
        return w;
    }

    /** The timer as read right after its own waiting signal was taken (with its overrun), or null. */
    PosixTimerImage image(int id) {
        return images.get(id);
    }

    /** Takes every signal of the group and puts them back in order, until the queue shows that order. */
    private void retake(Injector inj, Group g, Map<Integer, PosixTimers.Timer> timers) {
        List<Taken> order = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            List<Taken> got = new ArrayList<>();
            try {
                takeAll(inj, g, timers, got);
            } finally {
                order = order == null ? got : withExtras(order, got);
                putBack(g, order);
            }
            if (matches(order, view(g, timers))) {
                return;
            }
        }
        throw new DumpException("pid " + pid + ": the waiting " + dev.cryo.kernel.Signals.name(g.signal())
                + " signals of its periodic POSIX timers " + timers.keySet() + " could not be put back in their order:"
                + " another signal of that number kept coming while they were; not supported");
    }

    /** {@code order} and then what {@code got} holds besides (signals that came while they were out). */
    private static List<Taken> withExtras(List<Taken> order, List<Taken> got) {
        List<Taken> all = new ArrayList<>(order);
        List<Taken> left = new ArrayList<>(order);
        for (Taken t : got) {
            Taken match = left.stream().filter(t::same).findFirst().orElse(null);
            if (match != null) {
                left.remove(match);
            } else {
                all.add(t);
            }
        }
        return all;
    }

    /** Takes every signal of the group in order; a periodic timer's is read (the first time) and disarmed at once. */
    private void takeAll(Injector inj, Group g, Map<Integer, PosixTimers.Timer> timers, List<Taken> got) {
        boolean isMain = g.tid() == pid.value();
        int inOwn = count(queues.thread(g.tid()), g.signal());
        int all = inOwn + (isMain ? count(queues.shared(), g.signal()) : 0);
        for (int i = 0; i < all; i++) {
            byte[] info = PendingTimerSignal.takeFirst(pid, inj, scratch, g.signal());
            PosixTimers.Timer t = timers.values().stream().filter(x -> PendingTimerSignal.isTimers(info, x.id()))
                    .findFirst().orElse(null);
            got.add(new Taken(i >= inOwn, t == null ? -1 : t.id(), info));
            if (t != null) {
                images.computeIfAbsent(t.id(), id -> read(t, PendingTimerSignal.overrun(info)));
                Sys.write(pid, scratch.address() + COPY_AT, new byte[32]); // the disarming spec
                main.call("timer_settime(" + t.id() + ", disarmed)", SyscallNr.TIMER_SETTIME, t.id(), 0,
                        scratch.address() + COPY_AT, 0);
            }
        }
    }

    /** The timer's time left, period and last overrun, read right after its signal was taken. */
    private PosixTimerImage read(PosixTimers.Timer t, int pendingOverrun) {
        main.call("timer_gettime(" + t.id() + ")", SyscallNr.TIMER_GETTIME, t.id(), scratch.address());
        ByteBuffer b = ByteBuffer.wrap(scratch.read(32)).order(ByteOrder.LITTLE_ENDIAN);
        long overrun = main.call("timer_getoverrun(" + t.id() + ")", SyscallNr.TIMER_GETOVERRUN, t.id());
        return new PosixTimerImage(t.id(), t.clockId(), t.sigevNotify(), t.signal(), t.sigevValue(), t.target(),
                b.getLong(16), b.getLong(24), b.getLong(0), b.getLong(8), (int) overrun, pendingOverrun);
    }

    /** Puts the signals back in order: a timer's own by arming its timer, any other as a copy. */
    private void putBack(Group g, List<Taken> order) {
        if (self == 0 && !order.isEmpty()) {
            self = main.call("getpid", SyscallNr.GETPID); // the task's pid as it sees it
        }
        long tid = 0;
        for (Taken t : order) {
            if (t.timerId() >= 0) {
                PosixTimerImage p = images.get(t.timerId());
                PendingTimerSignal.pend(main::call, pid, scratch.address(), p);
                if (!PendingTimerSignal.awaitQueued(() -> t.shared() ? queues.shared() : queues.thread(g.tid()), p.id())) {
                    throw new DumpException("pid " + pid + ": POSIX timer " + p.id() + ", armed to queue its waiting"
                            + " signal again, did not");
                }
                continue;
            }
            Sys.write(pid, scratch.address() + COPY_AT, t.siginfo());
            if (t.shared()) {
                main.call("rt_sigqueueinfo(" + g.signal() + ")", SyscallNr.RT_SIGQUEUEINFO, self, g.signal(),
                        scratch.address() + COPY_AT);
            } else {
                tid = tid != 0 ? tid : seenTid(g.tid());
                main.call("rt_tgsigqueueinfo(" + g.signal() + ")", SyscallNr.RT_TGSIGQUEUEINFO, self, tid, g.signal(),
                        scratch.address() + COPY_AT);
            }
        }
    }

    /** The group's signals as they wait now, in the order its thread would take them. */
    private List<Taken> view(Group g, Map<Integer, PosixTimers.Timer> timers) {
        List<Taken> out = new ArrayList<>();
        List<byte[]> own = queues.thread(g.tid());
        List<byte[]> shared = g.tid() == pid.value() ? queues.shared() : List.of();
        for (int q = 0; q < 2; q++) {
            for (byte[] si : q == 0 ? own : shared) {
                if (PendingTimerSignal.signo(si) == g.signal()) {
                    int id = timers.keySet().stream().filter(x -> PendingTimerSignal.isTimers(si, x)).findFirst().orElse(-1);
                    out.add(new Taken(q == 1, id, si));
                }
            }
        }
        return out;
    }

    private static boolean matches(List<Taken> order, List<Taken> now) {
        if (order.size() != now.size()) {
            return false;
        }
        for (int i = 0; i < order.size(); i++) {
            if (!order.get(i).same(now.get(i))) {
                return false;
            }
        }
        return true;
    }

    private static int count(List<byte[]> queue, int signal) {
        return (int) queue.stream().filter(si -> PendingTimerSignal.signo(si) == signal).count();
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

    /** Whether the timer has a period (only a periodic timer's waiting signal counts missed expirations). */
    private static boolean periodic(Injector main, TimersHandler.Scratch scratch, PosixTimers.Timer t) {
        main.call("timer_gettime(" + t.id() + ")", SyscallNr.TIMER_GETTIME, t.id(), scratch.address());
        ByteBuffer spec = ByteBuffer.wrap(scratch.read(16)).order(ByteOrder.LITTLE_ENDIAN);
        return spec.getLong(0) != 0 || spec.getLong(8) != 0;
    }

    /** Thread {@code tid} as the task names it (inside a pid namespace, its tid there). */
    private long seenTid(int tid) {
        if (tid == pid.value()) {
            return main.call("gettid", SyscallNr.GETTID);
        }
        List<Integer> nsPid = dev.cryo.kernel.proc.ProcFs.status(pid, Pid.of(tid)).nsPid();
        return nsPid.get(nsPid.size() - 1);
    }
}
