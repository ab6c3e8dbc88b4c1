package dev.cryo.engine.dump;

import dev.cryo.config.PreCopySettings;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When a pre-copy freezes and how hard it throttles the tree, on rounds of given sizes and lengths (no process). */
class PreCopyConvergenceTest {
    private static final long MIB = 256; // pages

    private static PreCopySettings bound(long millis) {
        return new PreCopySettings(30, 1L << 20, 80, 0).withMaxDowntime(Duration.ofMillis(millis));
    }

    /** Feeds rounds of {@code pages[i]} pages, each lasting {@code seconds[i]}; the decisions and duties. */
    private static List<String> run(PreCopyConvergence c, long[] pages, double[] seconds) {
        List<String> out = new ArrayList<>();
        long t = 0;
        for (int i = 0; i < pages.length; i++) {
            c.started(t);
            t += (long) (seconds[i] * 1e9);
            boolean freeze = c.freezeAfter(pages[i]);
            out.add(freeze ? "freeze" : c.dutyPercent() + "%");
            if (freeze) {
                break;
            }
        }
        return out;
    }

    @Test
    void roundsThatDoNotShrinkUnderTheBoundFreezeAsBefore() {
        // a hot set of about 2 MiB, 2.2 MiB sent in 30 ms (73 MiB/s): 2 MiB frozen, 25 ms, under 100 ms
        PreCopyConvergence c = new PreCopyConvergence(bound(100));
        assertEquals(List.of("0%", "0%", "freeze"), run(c, new long[] {64 * MIB, 563, 2 * MIB},
                new double[] {0.64, 0.03, 0.02}));
        assertTrue(c.estimate().millis() < 100, c.estimate().toString());
        assertTrue(c.notes().isEmpty(), c.notes().toString());
    }

    @Test
    void roundsThatDoNotShrinkAboveTheBoundAreThrottledHarderEachRoundThenFrozenAnywaySayingSo() {
        // 150-200 MiB rounds at 30 MiB/s: the frozen round would take seconds
        PreCopyConvergence c = new PreCopyConvergence(bound(100));
        long[] pages = {993 * MIB, 272 * MIB, 250 * MIB, 240 * MIB, 230 * MIB, 220 * MIB, 210 * MIB, 200 * MIB};
        double[] seconds = {33, 9, 8.3, 8, 7.7, 7.3, 7, 6.7};
        assertEquals(List.of("0%", "0%", "30%", "50%", "70%", "90%", "freeze"), run(c, pages, seconds));
        String notes = String.join("\n", c.notes());
        assertTrue(notes.contains("throttled (stopped up to 90% of each 100 ms) from round 4 on"), notes);
        assertTrue(notes.contains("frozen above the bound, the throttle at its most (90%)"), notes);
        assertTrue(c.estimate().millis() > 100, c.estimate().toString());
    }

    @Test
    void aThrottledTreeWhoseRoundsShrinkAgainGoesOnUntilTheyAreSmall() {
        PreCopyConvergence c = new PreCopyConvergence(bound(100));
        long[] pages = {512 * MIB, 100 * MIB, 95 * MIB, 60 * MIB, 20 * MIB, MIB / 2};
        double[] seconds = {10, 2, 1.9, 1.2, 0.4, 0.01};
        assertEquals(List.of("0%", "0%", "30%", "30%", "30%", "freeze"), run(c, pages, seconds));
        assertEquals(1, c.notes().stream().filter(n -> n.contains("throttled")).count(), c.notes().toString());
        assertFalse(String.join("\n", c.notes()).contains("above the bound"), c.notes().toString());
    }

    @Test
    void smallRoundsOfARequestsWorkingSetAreSentAtTheChannelsRateNotTheirOwn() {
        // gunicorn with a client's GET every 50 ms, `cryo dump --pre-copy` with max-downtime 40 ms: every round
        // catches a request, ~400 pages, and lasts its scans (82 ms: "1.6 MiB, 85 ms at 18.7 MiB/s", then
        // throttled for nothing); the first round carried 58 MiB in half a second
        PreCopyConvergence c = new PreCopyConvergence(bound(40));
        assertEquals(List.of("0%", "0%", "freeze"), run(c, new long[] {14918, 393, 400},
                new double[] {0.5, 0.082, 0.04}));
        assertTrue(c.estimate().millis() < 40, c.estimate().toString());
        assertTrue(c.notes().isEmpty(), c.notes().toString());
    }

    @Test
    void noBoundNoThrottle() {
        PreCopyConvergence c = new PreCopyConvergence(bound(0));
        assertEquals(List.of("0%", "0%", "freeze"), run(c, new long[] {993 * MIB, 272 * MIB, 250 * MIB},
                new double[] {33, 9, 8.3}));
        assertTrue(c.notes().isEmpty(), c.notes().toString());
    }

    @Test
    void theEstimateIsTheRoundBeforesLengthTimesTheSquareOfTheLastRatio() {
        PreCopyConvergence c = new PreCopyConvergence(bound(100));
        c.started(0);
        c.freezeAfter(100 * MIB);
        c.started(2_000_000_000L); // 100 MiB in 2 s: 50 MiB/s
        c.freezeAfter(50 * MIB); // half: the frozen round a quarter, 25 MiB, 500 ms
        assertEquals(25L << 20, c.estimate().bytes());
        assertEquals(500, c.estimate().millis());
    }
}
