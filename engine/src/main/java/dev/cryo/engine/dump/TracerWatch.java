package dev.cryo.engine.dump;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallCounter;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether any thread of a tree called ptrace since this watch began, counted by the kernel per thread
 * ({@link SyscallCounter}, inherited by what each thread clones). The frozen tree is looked at again for
 * tracers of outside processes ({@link OutsideTracees#lookAgain}): a read of every process's and thread's
 * status on the host (125 processes and 312 threads here: tens of ms of CPU at load 15, in the frozen
 * window beside the collect, and the image is committed only once it is over). A tree that made no ptrace
 * call since a watch started before the first look cannot have attached to anything since that look.
 */
public final class TracerWatch implements AutoCloseable {
    private static final int[] PTRACE = {SyscallNr.PTRACE};

    private final List<SyscallCounter> counters;
    private final Set<Integer> tasks;
    /** Why this watch vouches for nothing, or null. */
    private final String unusable;

    private TracerWatch(List<SyscallCounter> counters, Set<Integer> tasks, String unusable) {
        this.counters = counters;
        this.tasks = tasks;
        this.unusable = unusable;
    }

    /**
     * A watch of every thread of {@code tree}. When the counters are unsupported or could not cover every
     * thread, the watch vouches for nothing and {@link #whyNotQuiet} says why.
     */
    public static TracerWatch start(List<Pid> tree) {
        if (!SyscallCounter.supported()) {
            return new TracerWatch(List.of(), Set.of(), "no perf syscall counters: " + SyscallCounter.unsupportedReason());
        }
        List<SyscallCounter> counters = new ArrayList<>();
        try {
            Set<Integer> watched = new HashSet<>();
            for (Pid p : tree) {
                for (Pid t : ProcFs.tasks(p)) {
                    counters.add(SyscallCounter.exits(t.value(), PTRACE));
                    watched.add(t.value());
                }
            }
            // a thread cloned between the listing and its cloner's counter is covered by none
            for (Pid p : tree) {
                for (Pid t : ProcFs.tasks(p)) {
                    if (!watched.contains(t.value())) {
                        counters.forEach(SyscallCounter::close);
                        return new TracerWatch(List.of(), Set.of(), "thread " + t + " of pid " + p
                                + " was cloned while the counters opened");
                    }
                }
            }
            Set<Integer> pids = new HashSet<>();
            tree.forEach(p -> pids.add(p.value()));
            return new TracerWatch(counters, pids, null);
        } catch (RuntimeException e) { // exiting, or perf refused: the frozen look decides, as before
            counters.forEach(SyscallCounter::close);
            return new TracerWatch(List.of(), Set.of(), "the counters did not open: " + e.getMessage());
        }
    }

    /**
     * Null when no watched thread, nor anything it cloned since, called ptrace, and every task of the
     * frozen tree {@code frozen} was in the tree when the watch began (a process adopted into the tree
     * since, by a subreaper of it, was not watched); else why the tree must be looked at again.
     */
    public String whyNotQuiet(Collection<Pid> frozen) {
        if (unusable != null) {
            return unusable;
        }
        for (Pid p : frozen) {
            if (!tasks.contains(p.value())) {
                return "pid " + p + " joined the tree after the watch began";
            }
        }
        for (SyscallCounter c : counters) {
            long n;
            try {
                n = c.count();
            } catch (RuntimeException e) {
                return "thread " + c.tid() + "'s counter could not be read: " + e.getMessage();
            }
            if (n != 0) {
                return "thread " + c.tid() + " (or what it cloned) called ptrace " + n + " time(s)";
            }
        }
        return null;
    }

    /** Closes the counters on a thread of their own (a tracepoint's last perf event waits for an RCU grace period to close). */
    @Override
    public void close() {
        List<SyscallCounter> all = List.copyOf(counters);
        CLOSER.execute(() -> all.forEach(SyscallCounter::close));
    }

    private static final java.util.concurrent.Executor CLOSER = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cryo-perf-close-tracers");
        t.setDaemon(true);
        return t;
    });
}
