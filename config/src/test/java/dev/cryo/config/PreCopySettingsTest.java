package dev.cryo.config;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When the pre-copy ends: one rule, which the dump's supervisor and each task's dumper (to read its layout early) share. */
class PreCopySettingsTest {
    private final PreCopySettings settings = CryoSettings.defaults().preCopy();

    @Test
    void theDefaults() {
        assertEquals(new PreCopySettings(30, 1L << 20, 80, 32L << 20), settings);
    }

    @Test
    void aRoundAtMostStopBelowEndsIt() {
        assertTrue(settings.endsAfter(1, 256, 0), "1 MiB");
        assertFalse(settings.endsAfter(1, 257, 0), "1 MiB and a page, first round");
    }

    @Test
    void aRoundThatNoLongerShrinksEndsIt() {
        assertTrue(settings.endsAfter(5, 1607, 1894), "85 % of the round before");
        assertFalse(settings.endsAfter(5, 1500, 1894), "79 %");
        assertFalse(settings.endsAfter(1, 1 << 20, 0), "no round before to compare with");
    }

    @Test
    void theLastRoundEndsIt() {
        assertTrue(settings.endsAfter(30, 1 << 20, 1 << 21));
        assertFalse(settings.endsAfter(29, 1 << 20, 1 << 21));
    }

    @Test
    void theRoundsAfterOneOf32MiBAreRaised() {
        assertTrue(settings.endgame(8192));
        assertFalse(settings.endgame(8193));
        assertFalse(new PreCopySettings(30, 1L << 20, 80, 0).endgame(1), "0: never");
    }

    /*
     * A 1 GiB dirtier writing 10 MiB/s (2560 pages/s, each page once per 100 s) on a loaded host:
     * a round lasts its scan (0.2 s) and its pages at 5000 pages/s, scattered pages being copied,
     * sent and placed one by one (mig23's runs at load 18-37: 7-15 MiB/s). What the tree writes
     * meanwhile is the next round's, and the last running round's is the frozen round's: 512 +
     * 0.512 × the last round, so the rounds shrink towards 1049 pages (4.1 MiB), slowly.
     */
    private static List<Long> rounds(PreCopySettings s, double dirtyPerS, double copyPerS, double scanS) {
        List<Long> rounds = new ArrayList<>();
        long round = 254_233; // the first round: every page present
        long previous = 0;
        while (true) {
            rounds.add(round);
            if (s.endsAfter(rounds.size(), round, previous)) {
                rounds.add(Math.round(dirtyPerS * (scanS + round / copyPerS))); // the frozen round
                return rounds;
            }
            previous = round;
            round = Math.min(262_144, Math.round(dirtyPerS * (scanS + round / copyPerS)));
        }
    }

    @Test
    void roundsGoOnWhileTheyShrinkSoTheFrozenRoundIsNearWhatOneShortRoundWrites() {
        List<Long> now = rounds(settings, 2560, 5000, 0.2);
        long frozen = now.get(now.size() - 1);
        // 11 running rounds, the last two at 74 and 82 % of the one before: 1209 pages frozen (4.7 MiB),
        // within 16 % of what the rounds shrink towards
        assertEquals(12, now.size(), now.toString());
        assertTrue(frozen <= 1049 * 1.16, now.toString());
        // before (8 rounds at most, 4 MiB ends them): out of rounds at 3384 pages, 2245 frozen (8.8 MiB)
        List<Long> before = rounds(new PreCopySettings(8, 4L << 20, 80, 0), 2560, 5000, 0.2);
        assertEquals(9, before.size(), before.toString());
        assertTrue(before.get(8) > 2 * 1049, before.toString());
    }

    @Test
    void aFastRoundEndsBelowOneMiBWithAFrozenRoundOfUnderOneMiB() {
        // raised, the same dirtier's rounds take a 50 ms scan and 12800 pages/s (50 MiB/s): 128 + 0.2 × the last
        List<Long> r = rounds(settings, 2560, 12800, 0.05);
        long last = r.get(r.size() - 2);
        assertTrue(last <= 256, r.toString());
        assertTrue(r.get(r.size() - 1) <= 256, "under 1 MiB frozen: " + r);
    }

    @Test
    void aChannelSlowerThanTheWritesEndsAtOnce() {
        // 3000 pages/s written, 2000 copied: round 2 is the whole GiB again, no smaller than round 1
        List<Long> r = rounds(settings, 3000, 2000, 0.2);
        assertEquals(3, r.size(), "two running rounds and the frozen one: " + r);
    }
}
