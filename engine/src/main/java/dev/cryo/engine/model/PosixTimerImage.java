package dev.cryo.engine.model;

/**
 * One POSIX timer (timer_create) of a process: its id (programs keep it and pass it back to the
 * kernel, so it must be the same after a restore), clock, notification (sigev_notify as the kernel
 * keeps it, SIGEV_THREAD_ID included, with the target tid), signal and sigev_value, time left,
 * period, the overrun count of its last delivered expiration (timer_getoverrun), and {@code
 * pendingOverrun}: when its own signal was waiting to be taken, the expirations it had missed so far
 * (the kernel reports them as si_overrun once the signal is taken), else -1. That signal is not
 * carried as a copy: the restore arms the timer so that it has already expired that many periods
 * ago, and the kernel queues its own signal and counts the overrun on.
 */
public record PosixTimerImage(int id, int clockId, int sigevNotify, int signal, long sigevValue, int targetTid,
                              long valueSec, long valueNsec, long intervalSec, long intervalNsec, int overrun,
                              int pendingOverrun) {
    public static final int SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD_ID = 4;

    /** A timer whose signal was not waiting (or is carried as a copy). */
    public PosixTimerImage(int id, int clockId, int sigevNotify, int signal, long sigevValue, int targetTid,
                           long valueSec, long valueNsec, long intervalSec, long intervalNsec, int overrun) {
        this(id, clockId, sigevNotify, signal, sigevValue, targetTid, valueSec, valueNsec, intervalSec, intervalNsec,
                overrun, -1);
    }

    public boolean signalPending() {
        return pendingOverrun >= 0;
    }

    public boolean armed() {
        return valueSec != 0 || valueNsec != 0;
    }
}
