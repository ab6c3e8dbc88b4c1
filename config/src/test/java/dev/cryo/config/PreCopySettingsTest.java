package dev.cryo.config;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When the pre-copy ends: one rule, which the dump's supervisor and each task's dumper (to read its layout early) share. */
class PreCopySettingsTest {
    private final PreCopySettings settings = new PreCopySettings(8, 4L << 20, 80); // the defaults

    @Test
    void aRoundAtMostStopBelowEndsIt() {
        assertTrue(settings.endsAfter(1, 1024, 0), "4 MiB");
        assertFalse(settings.endsAfter(1, 1025, 0), "4 MiB and a page, first round");
    }

    @Test
    void aRoundThatNoLongerShrinksEndsIt() {
        assertTrue(settings.endsAfter(5, 1607, 1894), "85 % of the round before");
        assertFalse(settings.endsAfter(5, 1500, 1894), "79 %");
        assertFalse(settings.endsAfter(1, 1 << 20, 0), "no round before to compare with");
    }

    @Test
    void theLastRoundEndsIt() {
        assertTrue(settings.endsAfter(8, 1 << 20, 1 << 21));
        assertFalse(settings.endsAfter(7, 1 << 20, 1 << 21));
    }
}
