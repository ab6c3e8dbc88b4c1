package dev.cryo.engine.namespaces;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

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

    /**
     * zdtm's fork2 in its ns flavor (its children come and go all the time, in the time namespace zdtm_ct
     * made): a child the pre-seize scan saw, gone when it read the namespace's offsets through it, failed the
     * dump ("open /proc/N/timens_offsets: ENOENT"). Such a task is passed over for the next one, here this JVM.
     */
    @Test
    void theOffsetsAreReadThroughATaskStillThereNotOneGone() throws Exception {
        Process exited = new ProcessBuilder("true").start();
        exited.waitFor(); // and reaped: its /proc entry is gone
        int gone = (int) exited.pid(), self = (int) ProcessHandle.current().pid();
        assertEquals(Optional.of(new TimeNsImage.Offsets(0, 0, 0, 0)), NamespaceScan.offsetsOfOneOf(List.of(gone, self)));
        assertEquals(Optional.empty(), NamespaceScan.offsetsOfOneOf(List.of(gone)));
    }
}
