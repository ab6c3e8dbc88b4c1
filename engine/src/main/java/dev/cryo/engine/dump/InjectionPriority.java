package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.SchedImage;
import dev.cryo.engine.timing.SchedHandler;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sched;
import dev.cryo.kernel.SyscallException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A frozen task's threads at SCHED_FIFO for cryo's injected calls ({@code cryo.dump.freeze-rt-priority}),
 * then put back as they were. Each injected call is a ptrace round trip that waits for the frozen thread
 * to be scheduled, and on a loaded host a fair-policy thread waited 8-142 ms for its first one, whatever
 * its nice or its group's; a real-time thread runs as soon as it is woken. Only threads under a fair
 * policy are lifted (a real-time or deadline thread runs first already).
 *
 * <p>Each thread's scheduling state is read before it is lifted ({@link #before}: what the dump records).
 * It is put back with sched_setscheduler, which keeps the nice value and a time slice of the thread's
 * own; a real-time policy clears the timer slack (the kernel's default comes back with the fair policy),
 * so the slack is written back where it was another. Lifted with reset-on-fork, so nothing forked
 * meanwhile would keep the lift. The thread of cryo that makes the round trips is lifted with them
 * ({@link dev.cryo.engine.timing.ThreadLift}): each trip wakes it too, when the tracee stops.
 */
public final class InjectionPriority {
    private final Pid pid;
    private final Map<Integer, SchedImage> before = new LinkedHashMap<>();
    private final List<Integer> lifted = new ArrayList<>();
    /** cryo's own thread that makes the round trips (it calls {@link #lift}), lifted with them; null: not. */
    private dev.cryo.engine.timing.ThreadLift tracer;

    private InjectionPriority(Pid pid) {
        this.pid = pid;
    }

    /** Reads every thread's state, then lifts those under a fair policy to SCHED_FIFO {@code priority} (1-99). */
    public static InjectionPriority lift(Pid pid, List<Integer> tids, int priority) {
        InjectionPriority p = new InjectionPriority(pid);
        for (int tid : tids) {
            p.before.put(tid, SchedHandler.dump(pid, tid));
        }
        for (int tid : tids) {
            if (!Sched.fair(p.before.get(tid).policy())) {
                continue;
            }
            try {
                Sched.setScheduler(tid, Sched.SCHED_FIFO, priority, true);
                p.lifted.add(tid);
            } catch (SyscallException e) {
                // not allowed here (no CAP_SYS_NICE, a cgroup without real-time time): it waits its turn as before
            }
        }
        // each round trip wakes the tracee, then this thread: a fair-policy tracer waited for a CPU at every one
        p.tracer = dev.cryo.engine.timing.ThreadLift.ofThisThread(priority);
        return p;
    }

    /** The thread's scheduling state as it was before the lift; null for a thread not read here. */
    public SchedImage before(int tid) {
        return before.get(tid);
    }

    public int liftedThreads() {
        return lifted.size();
    }

    /**
     * Every lifted thread back to its policy, priority, reset-on-fork flag and timer slack; a thread gone
     * meanwhile is skipped. Done once; the first failure is thrown after every thread was tried.
     */
    public void putBack() {
        if (tracer != null) {
            tracer.close();
            tracer = null;
        }
        RuntimeException failed = null;
        for (int tid : lifted) {
            SchedImage s = before.get(tid);
            try {
                Sched.setScheduler(tid, s.policy(), s.priority(), (s.flags() & Sched.FLAG_RESET_ON_FORK) != 0);
                SchedHandler.setTimerSlack(pid, tid, s.timerSlackNs());
            } catch (SyscallException e) {
                if (e.errno() != Errno.ESRCH && failed == null) {
                    failed = new DumpException("pid " + pid + " tid " + tid + ": cannot put back its "
                            + Sched.Attr.policyName(s.policy()) + " after cryo's injections: " + e.getMessage());
                }
            } catch (RuntimeException e) {
                if (Files.exists(Path.of("/proc/" + tid)) && failed == null) {
                    failed = e;
                }
            }
        }
        lifted.clear();
        if (failed != null) {
            throw failed;
        }
    }
}
