package dev.cryo.engine.restore.stage;

/**
 * Blocks every signal of every thread, through ptrace, from here until {@link RegisterInstall}
 * puts the dumped masks back after the last injected call. Signals re-queued by
 * {@link PendingSignals}, and those a timer armed by {@link TimerArming} raises before the tree
 * resumes, then stay pending with their siginfo until the program runs. Unblocked, each one would
 * stop the next injected call (a signal-delivery stop), where cryo can keep only its number.
 */
public final class SignalsHeld implements StateStage {
    private static final long ALL_SIGNALS = -1L; // the kernel never blocks SIGKILL and SIGSTOP

    @Override
    public String name() {
        return "signals held";
    }

    @Override
    public void run(TaskContext t) {
        t.task().threads().forEach(th -> t.tracer().setSigmask(th.tid(), ALL_SIGNALS));
    }
}
