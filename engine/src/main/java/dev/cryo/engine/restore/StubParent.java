package dev.cryo.engine.restore;

import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.Pid;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The parent of the stubs a migration's destination prepares before the freeze: one thread that
 * lives as long as this process. The stubs get SIGKILL when their parent ends (PR_SET_PDEATHSIG),
 * and the kernel counts a parent's end per thread — a stub spawned by a thread of a pool, or by the
 * page channel's receiving thread, would die with that thread. Spawned from here, a stub dies
 * exactly when this process does (an agent killed mid-migration leaves no stub behind), and is
 * otherwise killed or adopted by the restore as before.
 */
final class StubParent {
    private static final ExecutorService THREAD = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cryo-stub-parent");
        t.setDaemon(true);
        return t;
    });

    private StubParent() {}

    /** Spawns /bin/sleep with {@code pid} as a child of the stub parent thread, to die with this process. */
    static Pid spawnStub(int pid, boolean sessionLeader) {
        Future<Pid> f = THREAD.submit(() -> ExactPidSpawner.spawn(pid, pid, "/bin/sleep", List.of("sleep", "1000000"),
                sessionLeader, true));
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
