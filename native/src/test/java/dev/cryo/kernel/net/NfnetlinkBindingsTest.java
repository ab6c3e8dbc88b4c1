package dev.cryo.kernel.net;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class NfnetlinkBindingsTest {
    /** Captured from ulogd2 bound to group 5 in a net namespace (group, port id, qlen, mode, range, timeout, use). */
    private static final String LOG = "    5 1926397     0 2 65531    100  1\n   37 1926500     0 2 65535    100  1\n";
    /** nfnetlink_queue: queue, port id, total, mode, range, dropped, user dropped, id sequence, 1. */
    private static final String QUEUE = "    3 1926397     2 2 65531     0     0        7  1\n";

    @Test
    void theLinesOfTheSocketsPortIdAreItsBindings() {
        assertEquals(List.of(new NfnetlinkBindings.Binding("nfnetlink_log", 5)),
                NfnetlinkBindings.parse("nfnetlink_log", LOG, 1926397));
        assertEquals(List.of(new NfnetlinkBindings.Binding("nfnetlink_queue", 3)),
                NfnetlinkBindings.parse("nfnetlink_queue", QUEUE, 1926397));
        assertEquals(List.of(), NfnetlinkBindings.parse("nfnetlink_log", LOG, 42));
        assertEquals(List.of(), NfnetlinkBindings.parse("nfnetlink_log", "", 5));
        assertEquals("nfnetlink_log group 5", new NfnetlinkBindings.Binding("nfnetlink_log", 5).toString());
    }
}
