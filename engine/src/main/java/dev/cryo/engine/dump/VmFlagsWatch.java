package dev.cryo.engine.dump;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallExits;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether a running task made any call that can change its mappings' VmFlags (advice, locks,
 * seals, how an area was made) since this watch began, counted by the kernel per thread
 * ({@link SyscallExits}). A pre-copy reads smaps right before the freeze; VmFlags change in place
 * without changing /proc/PID/maps, so the frozen task's smaps had to be read once more (a walk of
 * every page table: 20-30 ms of CPU for a GiB, in the frozen window). Started before that early
 * read, a watch that saw none of these calls by the freeze proves the early read's VmFlags are the
 * frozen task's. Only the task's own threads change its VmFlags in place: another process's
 * process_madvise may only give advice that sets none, and a shared mm (vfork) is never dumped.
 * <p>Not trusted (the walk stays) when the task has io_uring worker threads, which may run
 * IORING_OP_MADVISE without a syscall, or when its threads changed in a way the counters cannot
 * have followed (a thread the watch did not cover and none of its threads cloned).
 */
public final class VmFlagsWatch implements AutoCloseable {
    /**
     * Calls that can change VmFlags in place, or remake an area with the same maps line but other
     * flags: advice and locks, seals, protection (VM_ACCOUNT stays once writable), mapping and
     * unmapping, prctl (KSM merging of every area, anonymous names), exec, and io_uring (whose
     * requests include madvise).
     */
    static final int[] CALLS = {SyscallNr.MMAP, SyscallNr.MPROTECT, SyscallNr.MUNMAP, SyscallNr.BRK, SyscallNr.MREMAP,
            SyscallNr.MADVISE, SyscallNr.SHMAT, SyscallNr.SHMDT, SyscallNr.EXECVE, SyscallNr.MLOCK, SyscallNr.MUNLOCK,
            SyscallNr.MLOCKALL, SyscallNr.MUNLOCKALL, SyscallNr.PRCTL, SyscallNr.REMAP_FILE_PAGES, SyscallNr.EXECVEAT,
            SyscallNr.MLOCK2, SyscallNr.PKEY_MPROTECT, SyscallNr.IO_URING_SETUP, SyscallNr.IO_URING_ENTER,
            SyscallNr.IO_URING_REGISTER, SyscallNr.PROCESS_MADVISE, SyscallNr.MSEAL};

    private final Pid pid;
    private final List<SyscallExits> counters;
    private final Set<Integer> watched;

    private VmFlagsWatch(Pid pid, List<SyscallExits> counters, Set<Integer> watched) {
        this.pid = pid;
        this.counters = counters;
        this.watched = watched;
    }

    /** A watch of every thread of {@code pid}, or null when it cannot be trusted (see above) or counters are unsupported. */
    public static VmFlagsWatch start(Pid pid) {
        if (!SyscallExits.supported()) {
            return null;
        }
        List<SyscallExits> counters = new ArrayList<>();
        try {
            List<Pid> before = ProcFs.tasks(pid);
            Set<Integer> watched = new HashSet<>();
            for (Pid t : before) {
                if (ProcFs.ioWorker(pid, t)) {
                    counters.forEach(SyscallExits::close);
                    return null;
                }
                counters.add(SyscallExits.open(t.value(), CALLS));
                watched.add(t.value());
            }
            // a thread cloned between the listing and its cloner's counter is covered by none
            if (!new HashSet<>(ProcFs.tasks(pid).stream().map(Pid::value).toList()).equals(watched)) {
                counters.forEach(SyscallExits::close);
                return null;
            }
            return new VmFlagsWatch(pid, counters, watched);
        } catch (RuntimeException e) { // exiting, or perf refused: the frozen walk decides, as before
            counters.forEach(SyscallExits::close);
            return null;
        }
    }

    /**
     * True when the frozen task with threads {@code tids} made none of {@link #CALLS} since the
     * watch began: every thread is one the watch covered or one they cloned since (counted with
     * its cloner), and no counter moved. Call it while the task is frozen and before cryo injects
     * any of these calls itself.
     */
    public boolean unchanged(List<Integer> tids) {
        try {
            for (SyscallExits c : counters) {
                if (c.count() != 0) {
                    return false;
                }
            }
            for (int tid : tids) {
                if (!watched.contains(tid) && ProcFs.ioWorker(pid, Pid.of(tid))) {
                    return false;
                }
            }
            // threads cloned since were cloned by a watched thread: a clone by a thread the watch
            // did not cover cannot be, as every thread alive at the start was covered
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    public int threads() {
        return counters.size();
    }

    /**
     * Closes the counters on a thread of their own: the close of a tracepoint's last perf event waits
     * for an RCU grace period (the kernel makes sure no probe still runs), 30-140 ms each here under
     * load, which nobody needs to wait for.
     */
    @Override
    public void close() {
        CLOSER.execute(() -> counters.forEach(SyscallExits::close));
    }

    private static final java.util.concurrent.Executor CLOSER = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cryo-perf-close");
        t.setDaemon(true);
        return t;
    });
}
