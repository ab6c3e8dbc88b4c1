package dev.cryo.engine.dump;

import dev.cryo.config.PreCopySettings;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * When a pre-copy freezes, and how hard the tree is throttled before (auto-converge). A round whose
 * pages are not fewer than the last's (PreCopySettings#endsAfter) used to end the pre-copy whatever
 * was left: on a loaded host, whose channel carried little more than the tree wrote, 150 MiB went
 * frozen (1.4 s of downtime). Now such a round, when the frozen round it promises would take longer
 * than {@code max-downtime} to send, is followed by rounds in which the tree is stopped a growing
 * share of the time, until the estimate fits, the rounds shrink again or the throttle is at its
 * most; the tree is then frozen anyway, and the notes say what was done.
 *
 * <p>The estimate, from whole rounds only (a round's length runs from its start to the next's, its
 * pages' receipt included): the channel carries what the fastest whole round carried per second;
 * the tree wrote the last round's pages during the round before, and goes on at that rate for as
 * long as the last round takes; the frozen round holds the last round's pages times its ratio to
 * the round before. The fastest round, not the round before: a round of a few hundred pages lasts
 * its scans and its receipt's round trip, whatever the channel carries, so its rate was the fixed
 * costs' (gunicorn answering a request every 50 ms dirtied 400 pages in every round, 40 ms long
 * locally: "1.6 MiB, 86 ms at 18.5 MiB/s", and in a migration it was throttled round after round
 * for a frozen round that went in a few ms). When the channel is the limit, all rounds' rates agree.
 */
public final class PreCopyConvergence {
    private final PreCopySettings settings;
    private final List<Long> pages = new ArrayList<>();
    private final List<Long> starts = new ArrayList<>();
    private int duty;
    private int firstThrottled;
    private Estimate estimate;
    private String ended;

    public PreCopyConvergence(PreCopySettings settings) {
        this.settings = settings;
    }

    /** The frozen round as a running round's end foresaw it: bytes, at bytes per second. */
    public record Estimate(long bytes, double bytesPerSecond) {
        public long millis() {
            return bytesPerSecond <= 0 ? 0 : Math.round(bytes * 1000 / bytesPerSecond);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s, %d ms at %.1f MiB/s", mib(bytes), millis(), bytesPerSecond / (1 << 20));
        }
    }

    /** A round starts now (its copies about to be asked for). */
    public void started(long nanos) {
        starts.add(nanos);
    }

    /** The share of each period the tree is stopped for in the round about to start (0: runs freely). */
    public int dutyPercent() {
        return duty;
    }

    /**
     * The round that started last copied {@code roundPages} (its pages on their way): whether the
     * tree is frozen now. A throttle raised here holds for the rounds after.
     */
    public boolean freezeAfter(long roundPages) {
        pages.add(roundPages);
        int n = pages.size();
        long previous = n >= 2 ? pages.get(n - 2) : 0;
        estimate = n >= 2 && starts.size() >= n ? estimate(n) : null;
        if (!settings.endsAfter(n, roundPages, previous)) {
            return false; // shrinking, rounds left, not small yet
        }
        if (n >= settings.maxRounds() || roundPages * 4096 <= settings.stopBelow()) {
            if (overBound()) {
                ended = "out of rounds (" + settings.maxRounds() + ")";
            }
            return true;
        }
        if (!overBound()) {
            return true; // no longer shrinking, but what is left fits
        }
        int next = settings.throttle().next(duty);
        if (next == duty) {
            ended = duty == 0 ? "the throttle is off" : "the throttle at its most (" + duty + "%)";
            return true;
        }
        if (duty == 0) {
            firstThrottled = n + 1;
        }
        duty = next;
        return false;
    }

    private boolean overBound() {
        long bound = settings.maxDowntime().toMillis();
        return bound > 0 && estimate != null && estimate.millis() > bound;
    }

    /** After round {@code n} (1 for the first), n >= 2. */
    private Estimate estimate(int n) {
        double rate = 0; // the channel's: the fastest whole round's
        for (int i = 0; i < n - 1; i++) {
            rate = Math.max(rate, pages.get(i) * 4096 / (Math.max(1, starts.get(i + 1) - starts.get(i)) / 1e9));
        }
        double ratio = pages.get(n - 1) / (double) Math.max(1, pages.get(n - 2));
        return new Estimate(Math.round(pages.get(n - 1) * 4096 * ratio), rate);
    }

    /** The last estimate of the frozen round, null before a second round. */
    public Estimate estimate() {
        return estimate;
    }

    /**
     * What the user is told (DumpReport#notes): the throttle and why, and the estimate when the
     * pre-copy was frozen above its bound; nothing when it converged unthrottled.
     */
    public List<String> notes() {
        List<String> notes = new ArrayList<>();
        if (duty > 0) {
            notes.add(String.format(Locale.ROOT, "pre-copy: the rounds stopped shrinking with the frozen round estimated"
                    + " over %d ms, so the tree was throttled (stopped up to %d%% of each %d ms) from round %d on",
                    settings.maxDowntime().toMillis(), duty, PERIOD_MILLIS, firstThrottled));
        }
        if (ended != null) {
            notes.add("pre-copy: frozen above the bound, " + ended + ": the frozen round was estimated " + estimate
                    + ", over " + settings.maxDowntime().toMillis() + " ms");
        } else if (duty > 0 && estimate != null) {
            notes.add("pre-copy: the frozen round was estimated " + estimate);
        }
        return notes;
    }

    /** The throttle's period: the tree is stopped {@link #dutyPercent} of each. */
    public static final long PERIOD_MILLIS = 100;

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
    }
}
