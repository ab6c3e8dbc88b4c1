package dev.cryo.engine.restore;

import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.Pid;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The parent of the stubs a restore grows its root from, and of those a migration's destination
 * prepares before the freeze: one thread that lives as long as this process. The kernel counts a
 * parent's end per thread: a child of a pool thread gets its parent-death signal when that thread
 * ends, though the process lives on. A prepared stub (PR_SET_PDEATHSIG SIGKILL) must die exactly
 * when this process does (an agent killed mid-migration leaves no stub behind), and a restored
 * root whose image holds a parent-death signal must not get it while its restorer runs.
 */
public final class StubParent {
    private static final ExecutorService THREAD = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cryo-stubparent"); // 15 characters: all of it shows in comm
        t.setDaemon(true);
        return t;
    });

    private StubParent() {}

    /**
     * Spawns /bin/sleep with {@code pid} as a child of the stub parent thread, to die with this
     * process; for a task that never exec'd after its fork, a fork of the sleep that runs nothing.
     */
    static Pid spawnStub(int pid, boolean sessionLeader, boolean execed) {
        int skipTo = pastTheTree(pid);
        return spawn(() -> execed
                ? ExactPidSpawner.spawn(pid, skipTo, "/bin/sleep", List.of("sleep", "1000000"), sessionLeader, true)
                : ExactPidSpawner.spawnForked(pid, skipTo, sessionLeader ? pid : 0, false, true), pid);
    }

    /** How far past a prepared stub's pid the host's next pid is moved: room for its tree's threads and children. */
    private static final int TREE_SPAN = 4096;

    /**
     * The pid past which the host's next pid is moved once a migration's stub has {@code pid}. Only
     * the root's pid is known before the freeze, and its threads and children have the pids after it:
     * moved to the root's pid, the next thread the agent started (its stub-warming thread, at the
     * freeze) took the root's first thread's tid, and the restore failed ("pid N is in use by
     * 'cryo-stubwarm'").
     */
    private static int pastTheTree(int pid) {
        try {
            return (int) Math.min((long) pid + TREE_SPAN, dev.cryo.kernel.proc.ProcFs.pidMax() - 1L);
        } catch (RuntimeException e) {
            return pid;
        }
    }

    /** Runs {@code spawner} on the stub parent thread: what it forks is that thread's child. */
    public static Pid spawn(Callable<Pid> spawner, int pid) {
        Future<Pid> f = THREAD.submit(spawner);
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while spawning the stub for pid " + pid);
        }
    }
}
