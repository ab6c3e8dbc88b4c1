package dev.cryo.engine.namespaces;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TimeNsImageTest {
    /** /proc/PID/timens_offsets as this kernel writes it. */
    private static final String FIXTURE = "monotonic       86400         0\nboottime         -3600 999999999\n";

    @Test
    void offsetsAreReadAsTheKernelShowsThemAndWrittenAsItTakesThem() {
        TimeNsImage.Offsets o = TimeNsImage.Offsets.parse("/proc/1/timens_offsets", FIXTURE);
        assertEquals(new TimeNsImage.Offsets(86400, 0, -3600, 999_999_999), o);
        assertEquals("1 86400 0\n7 -3600 999999999\n", o.text());
    }

    @Test
    void aClockThatWentBackMovesTheOffsetsUpByAsMuchCarryingTheNanoseconds() {
        TimeNsImage.Offsets o = new TimeNsImage.Offsets(86400, 999_999_999, -3600, 999_999_999);
        assertEquals(o, o.later(0, 0));
        assertEquals(new TimeNsImage.Offsets(86401, 0, -3598, 0), o.later(1, 1_000_000_001));
    }

    @Test
    void aFileWithoutBothClocksIsAnErrorNamingIt() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> TimeNsImage.Offsets.parse("/proc/7/timens_offsets", "monotonic 1 0\n"));
        assertEquals("/proc/7/timens_offsets: no monotonic or boottime line in 'monotonic 1 0'", e.getMessage());
    }
}
