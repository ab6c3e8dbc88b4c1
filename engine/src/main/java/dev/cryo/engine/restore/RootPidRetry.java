package dev.cryo.engine.restore;

import dev.cryo.kernel.proc.ProcStat;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;

/**
 * The root's pid, free at the validation, found taken when its stub is forked (clone3 set_tid said
 * EEXIST). A zombie, or a process gone again before /proc showed it, holds it for a moment only
 * (a process forked while another restore set the host's next pid back by writing ns_last_pid
 * gets the lowest free pid above it): the spawn is tried again after a pause, which the caller
 * waits for on a timer, never on a sleeping thread, until {@code restore.pid-wait} has passed.
 * A live process that has it is named at once: waiting would not free it.
 */
public final class RootPidRetry {
    private final int pid;
    private final Duration budget;
    private final long started = System.nanoTime();
    private final Set<String> holders = new LinkedHashSet<>();
    private int tries;
    private long pauseMillis = 5;

    public RootPidRetry(int pid, Duration budget) {
        this.pid = pid;
        this.budget = budget;
    }

    /**
     * After a try that found the pid taken: the pause before the next one, or the failure to report
     * (a live holder, or the wait is over).
     */
    public Optional<Duration> next() {
        tries++;
        if (RestoreValidator.heldAsGroupId(pid)) {
            throw RestoreValidator.pidTaken(pid);
        }
        ProcStat st = RestoreValidator.holder(pid);
        if (st != null) {
            if (!RestoreValidator.isZombie(st)) {
                throw RestoreValidator.pidTaken(pid); // names it
            }
            holders.add("a zombie of '" + st.comm() + "' (parent " + st.ppid() + ")");
        }
        if (System.nanoTime() - started > budget.toNanos()) {
            return Optional.empty();
        }
        Duration pause = Duration.ofMillis(pauseMillis);
        pauseMillis = Math.min(pauseMillis * 2, 100);
        return Optional.of(pause);
    }

    /** The failure once the wait is over, naming what was seen holding the pid. */
    public RestoreException gaveUp() {
        return new RestoreException("pid " + pid + " kept being taken by other processes while restoring (" + tries
                + " tries in " + (System.nanoTime() - started) / 1_000_000 + " ms; held by "
                + (holders.isEmpty() ? "processes gone before /proc showed them" : String.join(", ", holders))
                + "): a process forked while the host's next pid is set back (a restore writing ns_last_pid) gets"
                + " the lowest free pid above it; restore again, or raise cryo.restore.pid-wait ("
                + budget.toMillis() + " ms)");
    }
}
