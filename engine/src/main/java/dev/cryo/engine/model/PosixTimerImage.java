package dev.cryo.engine.model;

/**
 * One POSIX timer (timer_create) of a process: its id (programs keep it and pass it back to the
 * kernel, so it must be the same after a restore), clock, notification (sigev_notify as the kernel
 * keeps it, SIGEV_THREAD_ID included, with the target tid), signal and sigev_value, time left,
 * period, and the overrun count of its last delivered expiration (timer_getoverrun).
 */
public record PosixTimerImage(int id, int clockId, int sigevNotify, int signal, long sigevValue, int targetTid,
                              long valueSec, long valueNsec, long intervalSec, long intervalNsec, int overrun) {
    public static final int SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD_ID = 4;

    public boolean armed() {
        return valueSec != 0 || valueNsec != 0;
    }
}
