package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PosixTimersTest {
    @Test
    void parsesThreeKindsOfTimer() {
        PosixTimers t = PosixTimers.parse("/proc/12390/timers", Fixtures.text("timers-three"));
        assertEquals(3, t.timers().size());
        PosixTimers.Timer thread = t.timers().get(0);
        assertEquals(new PosixTimers.Timer(2, 36, 7, PosixTimers.SIGEV_THREAD_ID, 12390, -6), thread);
        assertTrue(thread.toThread());
        assertEquals(new PosixTimers.Timer(1, 10, 0x1234abcdL, PosixTimers.SIGEV_NONE, 12390, 0), t.timers().get(1));
        assertEquals(new PosixTimers.Timer(0, 10, 0x1234abcdL, PosixTimers.SIGEV_SIGNAL, 12390, 1), t.timers().get(2));
    }

    @Test
    void noTimersIsAnEmptyFile() {
        assertEquals(0, PosixTimers.parse("/proc/1/timers", "").timers().size());
    }

    @Test
    void malformedTimers() {
        String good = Fixtures.text("timers-three");
        assertBad("/proc/5/timers line 6: expected 'signal: ", () -> PosixTimers.parse("/proc/5/timers",
                good.replace("signal: 10/000000001234abcd\nnotify: none", "signal: ten\nnotify: none")));
        assertBad("/proc/5/timers: 11 lines", () -> PosixTimers.parse("/proc/5/timers",
                good.replace("ClockID: 0\n", "")));
    }
}
