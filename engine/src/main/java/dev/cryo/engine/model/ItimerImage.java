package dev.cryo.engine.model;

/** One interval timer (setitimer): ITIMER_REAL 0, ITIMER_VIRTUAL 1, ITIMER_PROF 2; time left and period. */
public record ItimerImage(int which, long valueSec, long valueUsec, long intervalSec, long intervalUsec) {
    public static final int REAL = 0, VIRTUAL = 1, PROF = 2;

    public boolean armed() {
        return valueSec != 0 || valueUsec != 0;
    }

    /**
     * Whether the timer exists: armed, or expired with a period and waiting for its signal to be
     * taken — the kernel reloads ITIMER_REAL only when SIGALRM is dequeued, and until then
     * getitimer shows no time left, only the period.
     */
    public boolean carried() {
        return armed() || intervalSec != 0 || intervalUsec != 0;
    }

    public static String name(int which) {
        return switch (which) {
            case REAL -> "ITIMER_REAL";
            case VIRTUAL -> "ITIMER_VIRTUAL";
            case PROF -> "ITIMER_PROF";
            default -> "itimer " + which;
        };
    }
}
