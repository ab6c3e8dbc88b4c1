package dev.cryo.engine.restore;

import dev.cryo.engine.dump.RemoteTask;
import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * A migration's stub kept ready to run from the source's freeze until the restore adopts it. Where
 * the MMU is virtualized with shadow page tables (this machine's VM), a task's first return to user
 * mode after a sleep of a few hundred ms costs CPU in proportion to its resident memory (5-15 ms for
 * 1 GiB quiet, 15-40 ms loaded: the shadow tables built again). The stub, a sleep holding the pages
 * placed before the freeze, paid it at the adoption's first injected syscall, in the downtime. Held
 * seized by a thread of its own, it runs a getpid every few ms meanwhile, beside the source's frozen
 * dump, and is let go before the restore seizes it.
 */
final class StubKeptWarm implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StubKeptWarm.class);
    private static final long EVERY_NANOS = 5_000_000;

    private final Thread thread;
    private volatile boolean done;
    private final Object seizing = new Object();
    private volatile int returns; // to user mode, one per getpid

    StubKeptWarm(Pid stub) {
        thread = new Thread(() -> run(stub), "cryo-stubwarm");
        thread.setDaemon(true);
        thread.start();
    }

    private void run(Pid stub) {
        try (Tracer tracer = new Tracer()) { // ptrace requests come from the thread that seized
            List<Integer> tids;
            synchronized (seizing) { // a stop() before: never seized; during: it waits for the stub to be stopped
                if (done) {
                    return;
                }
                tids = TaskSeizer.seizeLive(tracer, stub, Duration.ofSeconds(5));
            }
            try (Injector inj = RemoteTask.bareInjector(tracer, stub, stub.value(), ProcFs.maps(stub))) {
                while (!done) {
                    inj.raw(SyscallNr.GETPID);
                    returns++;
                    LockSupport.parkNanos(EVERY_NANOS);
                }
            } finally {
                TaskSeizer.release(tracer, stub, tids);
            }
        } catch (RuntimeException e) { // the stub killed meanwhile (a failed migration), or not warmed: only slower
            log.debug("the stub {} was not kept warm: {}", stub, e.getMessage());
        }
    }

    /** Times the stub returned to user mode so far. */
    int returns() {
        return returns;
    }

    /**
     * Ends the touches without waiting for the stub to be let go: this thread detaches it on its own,
     * beside what the restore does before it seizes the stub, where waiting for that took 8-17 ms of the
     * downtime at load 15-27. Until then the stub is in a ptrace stop; asleep again ('S' in its stat),
     * it is no longer traced.
     */
    void stop() {
        synchronized (seizing) {
            done = true;
        }
        LockSupport.unpark(thread);
    }

    /** Stops the touches and lets the stub go (back to its sleep, no longer traced). */
    @Override
    public void close() {
        stop();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
