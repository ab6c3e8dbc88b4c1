package dev.cryo.it;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The README's first command: `cryo demo` runs cryo's main job end to end on a fresh machine. */
class DemoTest {
    @Test
    void theDemoCounterCarriesOnWhereItStopped() throws Exception {
        Cli r;
        try (DumpRestore.Watch watch = DumpRestore.watchAll()) {
            r = Cli.run("demo");
            watch.assertSame();
        }
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("the dump killed it"), r.out());
        assertTrue(r.out().contains("no gap, no repeat"), r.out());
    }
}
