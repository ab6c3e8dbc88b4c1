package dev.cryo.engine.dump;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallCounter;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether a running task made any call that can change its mappings' VmFlags (advice, locks,
 * seals, how an area was made) since this watch began, counted by the kernel per thread
 * ({@link SyscallCounter}). A pre-copy reads smaps right before the freeze; VmFlags change in place
 * without changing /proc/PID/maps, so the frozen task's smaps had to be read once more (a walk of
 * every page table: 20-30 ms of CPU for a GiB, in the frozen window). Started before that early
 * read, a watch that saw none of these calls by the freeze proves the early read's VmFlags are the
 * frozen task's. Only the task's own threads change its VmFlags in place: another process's
 * process_madvise may only give advice that sets none, and a shared mm (vfork) is never dumped.
 * <p>madvise is counted twice: at its return among the calls above, and at its entry when its
 * advice is one of {@link #NO_FLAGS} (freeing pages, read-ahead, populating: malloc's and a garbage
 * collector's everyday calls, which a busy task makes all the time). The watch holds when the two
 * counts are equal: every call that returned was one of those, entered after the watch began.
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

    /**
     * madvise advice the kernel carries out under the mm's lock taken for reading only
     * (mm/madvise.c, madvise_need_mmap_write), while an area's VmFlags change only under it taken
     * for writing: WILLNEED, DONTNEED, FREE, REMOVE, COLD, PAGEOUT, POPULATE_READ, POPULATE_WRITE,
     * DONTNEED_LOCKED. (COLLAPSE too, left out: rare, and not worth the doubt.)
     */
    static final int[] NO_FLAGS = {3, 4, 8, 9, 20, 21, 22, 23, 24};

    private final Pid pid;
    /** Per watched thread: returns from {@link #CALLS}, then entries into madvise with {@link #NO_FLAGS} (or none). */
    private final List<SyscallCounter> counters;
    private final List<SyscallCounter> harmless;
    private final Set<Integer> watched;

    private VmFlagsWatch(Pid pid, List<SyscallCounter> counters, List<SyscallCounter> harmless, Set<Integer> watched) {
        this.pid = pid;
        this.counters = counters;
        this.harmless = harmless;
        this.watched = watched;
    }

    /** A watch of every thread of {@code pid}, or null when it cannot be trusted (see above) or counters are unsupported. */
    public static VmFlagsWatch start(Pid pid) {
        if (!SyscallCounter.supported()) {
            return null;
        }
        boolean byAdvice = SyscallCounter.madviseSupported();
        List<SyscallCounter> counters = new ArrayList<>();
        List<SyscallCounter> harmless = new ArrayList<>();
        try {
            List<Pid> before = ProcFs.tasks(pid);
            Set<Integer> watched = new HashSet<>();
            for (Pid t : before) {
                if (ProcFs.ioWorker(pid, t)) {
                    closeAll(counters, harmless);
                    return null;
                }
                // the return counter first: a harmless call the entry counter sees returns after
                // the return counter opened, so it is counted by both
                counters.add(SyscallCounter.exits(t.value(), CALLS));
                if (byAdvice) {
                    harmless.add(SyscallCounter.madviseEntries(t.value(), NO_FLAGS));
                }
                watched.add(t.value());
            }
            // a thread cloned between the listing and its cloner's counter is covered by none
            if (!new HashSet<>(ProcFs.tasks(pid).stream().map(Pid::value).toList()).equals(watched)) {
                closeAll(counters, harmless);
                return null;
            }
            return new VmFlagsWatch(pid, counters, harmless, watched);
        } catch (RuntimeException e) { // exiting, or perf refused: the frozen walk decides, as before
            closeAll(counters, harmless);
            return null;
        }
    }

    /**
     * True when the frozen task with threads {@code tids} made none of {@link #CALLS} since the
     * watch began but madvise with advice of {@link #NO_FLAGS}: every thread is one the watch
     * covered or one they cloned since (counted with its cloner), and each thread's returns are
     * as many as its harmless entries. A call already in progress when the watch began is counted
     * at its return but not at its entry, so it fails the watch whatever its advice. Call it while
     * the task is frozen and before cryo injects any of these calls itself.
     */
    public boolean unchanged(List<Integer> tids) {
        try {
            for (int i = 0; i < counters.size(); i++) {
                if (counters.get(i).count() != (harmless.isEmpty() ? 0 : harmless.get(i).count())) {
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

    private static void closeAll(List<SyscallCounter> counters, List<SyscallCounter> harmless) {
        counters.forEach(SyscallCounter::close);
        harmless.forEach(SyscallCounter::close);
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
        CLOSER.execute(() -> closeAll(counters, harmless));
    }

    private static final java.util.concurrent.Executor CLOSER = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cryo-perf-close");
        t.setDaemon(true);
        return t;
    });
}
