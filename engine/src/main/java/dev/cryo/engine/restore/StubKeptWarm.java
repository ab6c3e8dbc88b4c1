package dev.cryo.engine.restore;

import dev.cryo.engine.dump.RemoteTask;
import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.engine.timing.SchedHandler;
import dev.cryo.engine.timing.ThreadLift;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * A migration's stub kept ready to run from the source's freeze until the restore adopts it. Where
 * the MMU is virtualized with shadow page tables (this machine's VM), a task's first return to user
 * mode after a sleep of a few hundred ms costs CPU in proportion to its resident memory (5-15 ms for
 * 1 GiB quiet, 15-40 ms loaded: the shadow tables built again). The stub, a sleep holding the pages
 * placed before the freeze, paid it at the adoption's first injected syscall, in the downtime. Held
 * seized by a thread of its own, it runs a getpid every few ms meanwhile, beside the source's frozen
 * dump, until the image is complete.
 *
 * <p>The restore then {@link #take}s it as it is, seized and stopped: ptrace requests must come from
 * the thread that seized, so every step of the restore for this stub runs on this thread
 * ({@link #run}), and the detach, the restore's seize and the wait for the stub to stop again (each
 * a wait for a CPU on a loaded host: 1-59 ms in the downtime at load 7-28, mig40) are gone. When the
 * restore does not take it, it is let go and sleeps again, untraced.
 *
 * <p>Held, it runs at SCHED_FIFO ({@code cryo.restore.rt-priority}, as the restore lifts a stub at
 * its adoption): a getpid under way at the hand-over ended 0.2-25 ms after it at load 15-34 (mig47), each
 * waiting for a CPU, and the restore's first step waited for it. The restore takes the lift with
 * the stub ({@link #lift}); a stub let go gets its own policy and slack back first. This thread runs
 * at that priority too, from its start to its end ({@link ThreadLift}): each round trip, of the
 * seize and of every restore step, wakes it when the stub stops, and it waited for a CPU there.
 */
public final class StubKeptWarm implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StubKeptWarm.class);
    private static final long EVERY_NANOS = 5_000_000;
    /** Held for a restore that never takes it (it failed before it got that far): let go after this. */
    private static final long UNTAKEN_NANOS = 30_000_000_000L;
    private static final Runnable END = () -> { };

    private enum State { SEIZING, WARM, TAKEN, DONE }

    private final Thread thread;
    private final Object lock = new Object();
    private State state = State.SEIZING;
    private Tracer tracer;
    private long handedOver; // nanoTime of handOver(), 0 before
    private final BlockingQueue<Runnable> jobs = new LinkedBlockingQueue<>();
    private volatile int returns; // to user mode, one per getpid
    private volatile long takenAt, touchesEndedAt, firstJobAt; // nanoTime, 0: not yet (the -vv hand-over line)
    private final int rtPriority;
    private SchedHandler.Lift lift; // under lock: null, not lifted (or dropped)
    private ThreadLift ownLift; // this thread's, from the seize to its end (null: not lifted)

    /** {@code rtPriority}: SCHED_FIFO priority while held (0: none). */
    StubKeptWarm(Pid stub, int rtPriority) {
        this.rtPriority = rtPriority;
        thread = new Thread(() -> run(stub), "cryo-stubwarm");
        thread.setDaemon(true);
        thread.start();
    }

    private void run(Pid stub) {
        // this thread makes every round trip, the seize's and the restore's steps: it goes first as the stub does
        // (started by the page channel's lifted thread, it has no nice of FreezePriority's: reset on fork)
        ownLift = ThreadLift.ofThisThread(rtPriority);
        try (Tracer tracer = new Tracer()) { // ptrace requests come from the thread that seized
            List<Integer> tids;
            synchronized (lock) { // a stop() before: never seized; a take() during: it waits for the stub to be stopped
                if (state != State.SEIZING) {
                    return;
                }
                try {
                    tids = TaskSeizer.seizeLive(tracer, stub, Duration.ofSeconds(5));
                } catch (RuntimeException e) {
                    state = State.DONE;
                    throw e;
                }
                this.tracer = tracer;
                lift = SchedHandler.lift(stub, rtPriority);
                state = State.WARM;
            }
            try {
                keepWarm(tracer, stub);
                touchesEndedAt = System.nanoTime();
                awaitTake();
            } catch (RuntimeException e) { // the stub killed meanwhile (a failed migration), or not warmed: only slower
                log.debug("the stub {} was not kept warm: {}", stub, e.getMessage());
            }
            boolean taken;
            synchronized (lock) {
                taken = state == State.TAKEN;
                state = taken ? State.TAKEN : State.DONE;
            }
            if (taken) {
                runJobs(); // the tracer's close lets go of whatever they leave held (nothing: resumed or killed)
            } else {
                dropLift(stub);
                TaskSeizer.release(tracer, stub, tids);
            }
        } catch (RuntimeException e) {
            log.debug("the stub {} was not kept warm: {}", stub, e.getMessage());
        } finally {
            if (ownLift != null) {
                ownLift.close();
            }
        }
    }

    /**
     * A getpid every few ms until the image is complete ({@link #handOver}), or the touches are
     * stopped. Not until the take: a getpid under way when the restore took the stub was waited for
     * before its first step (0.2-28 ms at load 16), and the injector's close (the stub's own
     * registers back) with it; from the hand-over to the first step is a few ms of the restore's
     * own work, too short for the stub to go cold.
     */
    private void keepWarm(Tracer tracer, Pid stub) {
        try (Injector inj = RemoteTask.bareInjector(tracer, stub, stub.value(), ProcFs.maps(stub))) {
            while (true) {
                synchronized (lock) {
                    if (state != State.WARM || handedOver != 0) {
                        return; // the injector's close puts the stub's own registers back
                    }
                }
                inj.raw(SyscallNr.GETPID);
                returns++;
                LockSupport.parkNanos(EVERY_NANOS);
            }
        }
    }

    /** Held, untouched, from the hand-over until the restore takes the stub, or for {@link #UNTAKEN_NANOS} at most. */
    private void awaitTake() {
        while (true) {
            long left;
            synchronized (lock) {
                if (state != State.WARM) {
                    return;
                }
                left = handedOver + UNTAKEN_NANOS - System.nanoTime();
                if (left <= 0) {
                    state = State.DONE;
                    return;
                }
            }
            LockSupport.parkNanos(left); // take() and stop() unpark
        }
    }

    private void runJobs() {
        while (true) {
            Runnable job;
            try {
                job = jobs.take();
            } catch (InterruptedException e) {
                continue; // nothing interrupts this thread on purpose: the restore's END ends it
            }
            if (job == END) {
                return;
            }
            if (firstJobAt == 0) {
                firstJobAt = System.nanoTime();
            }
            try {
                job.run();
            } catch (RuntimeException | Error e) { // a job reports its own failures: this is a bug
                log.warn("a restore step on the stub's thread failed", e);
            }
        }
    }

    /** Not taken: its own policy and slack back, before it sleeps again untraced (killed meanwhile: nothing to do). */
    private void dropLift(Pid stub) {
        SchedHandler.Lift l;
        synchronized (lock) {
            l = lift;
            lift = null;
        }
        if (l != null) {
            try {
                SchedHandler.drop(stub, l);
            } catch (RuntimeException e) {
                log.debug("the stub {} was not set back from SCHED_FIFO: {}", stub, e.getMessage());
            }
        }
    }

    /**
     * What the stub had before it was lifted to SCHED_FIFO while held, for the restore that took it
     * ({@link #take}) to drop as its own lift; null: not lifted.
     */
    public SchedHandler.Lift lift() {
        synchronized (lock) {
            return state == State.TAKEN ? lift : null;
        }
    }

    /** The hand-over, the touches' end, the take and the first step on this thread, for the debug log. */
    public String handOverTimes() {
        return "touches ended " + (touchesEndedAt - handedOver) / 1000 + " µs after the hand-over, taken "
                + (takenAt - handedOver) / 1000 + " µs after it, first step " + (firstJobAt - takenAt) / 1000
                + " µs after the take";
    }

    /** Times the stub returned to user mode so far. */
    int returns() {
        return returns;
    }

    /**
     * The image is complete and the stub goes to the restore: no longer touched, held until it is taken,
     * for at most {@link #UNTAKEN_NANOS} (then let go, as a restore that never comes cannot end this).
     */
    void handOver() {
        synchronized (lock) {
            handedOver = System.nanoTime();
        }
        LockSupport.unpark(thread);
    }

    /**
     * The restore takes the stub as it is, seized and stopped at its own registers: the tracer that
     * holds it, for {@link #run} alone, or null when this thread does not hold it (never seized, or let
     * go: then it sleeps again untraced once its state says 'S', and the restore seizes it itself).
     */
    public Tracer take() {
        synchronized (lock) {
            if (state == State.WARM) {
                takenAt = System.nanoTime();
                state = State.TAKEN;
                LockSupport.unpark(thread);
                return tracer;
            }
            state = State.DONE;
            return null;
        }
    }

    /** Runs {@code job} on the thread that holds the stub, after the jobs before it (once {@link #take}n). */
    public void run(Runnable job) {
        jobs.add(job);
    }

    /** After the last job (the stub resumed or killed): the thread ends. */
    public void end() {
        jobs.add(END);
    }

    /**
     * Ends the touches without waiting for the stub to be let go: this thread detaches it on its own,
     * beside what the restore does before it seizes the stub. Until then the stub is in a ptrace stop;
     * asleep again ('S' in its stat), it is no longer traced. A stub taken is the restore's: no effect.
     */
    public void stop() {
        synchronized (lock) {
            if (state != State.TAKEN) {
                state = State.DONE;
            }
        }
        LockSupport.unpark(thread);
    }

    /** Stops the touches and lets the stub go (back to its sleep, no longer traced), unless it was taken. */
    @Override
    public void close() {
        stop();
        boolean taken;
        synchronized (lock) {
            taken = state == State.TAKEN;
        }
        if (taken) {
            return; // the restore's: it ends this thread
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
