package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.kernel.net.ConntrackAbi;
import dev.cryo.kernel.net.ConntrackEntry;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class NetConntrackTest {
    /** fd00::1 port 40000 to fd00::2 port 443, masqueraded to fd00::9 port 61000, with a helper, labels and seqadj. */
    static ConntrackEntry masqueraded() {
        byte[] a = new byte[16], b = new byte[16], c = new byte[16];
        a[0] = b[0] = c[0] = (byte) 0xfd;
        a[15] = 1;
        b[15] = 2;
        c[15] = 9;
        return new ConntrackEntry(
                new ConntrackEntry.Tuple(a, b, 6, new int[] {ConntrackAbi.CTA_PROTO_SRC_PORT, 40000,
                        ConntrackAbi.CTA_PROTO_DST_PORT, 443}, 3),
                new ConntrackEntry.Tuple(b, c, 6, new int[] {ConntrackAbi.CTA_PROTO_SRC_PORT, 443,
                        ConntrackAbi.CTA_PROTO_DST_PORT, 61000}, 3),
                7, ConntrackAbi.IPS_SEEN_REPLY | ConntrackAbi.IPS_CONFIRMED | ConntrackAbi.IPS_SRC_NAT, 431999, 0xffffffffL,
                new byte[16], new byte[] {12, 0, 1, 0, 5, 0, 1, 0, 3, 0, 0, 0}, new int[] {1, 2, 3, -4, 5, 6}, "ftp");
    }

    @Test
    void aNamespacesTableRoundTripsAndShows() {
        NetNamespaceImage n = new NetNamespaceImage(42, List.of(1L), List.of(), List.of(), List.of(), Map.of(), Map.of())
                .withConntrack(List.of(masqueraded()));
        Output out = new Output(1024, -1);
        NetNamespaceImage.CODEC.write(out, n);
        NetNamespaceImage back = NetNamespaceImage.CODEC.read(new Input(out.toBytes()), 4);
        assertEquals(n, back);
        assertEquals(List.of("tcp fd00:0:0:0:0:0:0:1:40000 -> fd00:0:0:0:0:0:0:2:443 zone 3, reply tcp fd00:0:0:0:0:0:0:2:443"
                + " -> fd00:0:0:0:0:0:0:9:61000 zone 3, ESTABLISHED [SEEN_REPLY CONFIRMED SRC_NAT] zone 7 mark 0xffffffff helper ftp"
                + " seqadj [1, 2, 3, -4, 5, 6], timeout 431999 s"), back.json().get("conntrack"));
        assertEquals(1, back.json().get("conntrackEntries"));
        assertFalse(new NetNamespaceImage(42, List.of(), List.of(), List.of(), List.of(), Map.of(), Map.of()).json()
                .containsKey("conntrack"), "no table, nothing shown");
    }

    @Test
    void aTableIsCountedFromItsStatFile() {
        String header = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop"
                + " icmp_error  expect_new expect_create expect_delete search_restart\n";
        assertEquals(0, NetConntrack.count(header + "00000000  00000000 00000000 00000000 00000000 00000000 00000000"
                + " 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n"
                + "00000000  00000000 00000000 00000000 00000004 00000000 00000000 00000000 00000000 00000000 00000000"
                + " 00000000 00000000  00000000 00000000 00000000 00000000\n"));
        assertEquals(0x7d0, NetConntrack.count(header + "000007d0  00000000 00000000 00000000\n"));
        assertEquals(0, NetConntrack.count(""), "no conntrack in the kernel");
        assertEquals(-1, NetConntrack.count("something else\nzz\n"), "unknown: the table is read");
    }

    @Test
    void aForgedEntryIsRefusedWithoutAStackTrace() {
        // each a field of one entry out of its bounds: an address of 5 bytes, 7 protocol attributes, an unknown
        // one, a port over 16 bits, 3 sequence adjustment values
        for (java.util.function.Consumer<Output> forged : List.<java.util.function.Consumer<Output>>of(
                o -> { bytes(o, 5); bytes(o, 5); },
                o -> { addresses(o); o.writeVarInt(6, true); o.writeVarInt(7, true); },
                o -> { addresses(o); o.writeVarInt(6, true); o.writeVarInt(1, true); o.writeVarInt(42, true); o.writeVarInt(1, true); },
                o -> { addresses(o); o.writeVarInt(6, true); o.writeVarInt(1, true); o.writeVarInt(2, true); o.writeVarInt(70000, true); },
                o -> { tuple(o); tuple(o); o.writeVarInt(0, true); o.writeVarLong(0, true); o.writeVarLong(0, true);
                    o.writeVarLong(0, true); bytes(o, 0); bytes(o, 0); o.writeVarInt(3, true); })) {
            Output out = new Output(256, -1);
            forged.accept(out);
            out.writeVarInt(0, true); // what a reader may take for more
            KryoException e = assertThrows(KryoException.class, () -> NetConntrack.CODEC.read(new Input(out.toBytes()), 1));
            assertTrue(e.getMessage().contains("conntrack"), e.getMessage());
        }
        Output many = new Output(64, -1);
        many.writeVarInt(1, true); // NetNamespaceImage v4: pid, then no sockets, lines, sysctls, firewall
        for (int i = 0; i < 6; i++) {
            many.writeVarInt(0, true);
        }
        many.writeVarInt(Integer.MAX_VALUE, true); // a forged count of entries
        KryoException e = assertThrows(KryoException.class, () -> NetNamespaceImage.CODEC.read(new Input(many.toBytes()), 4));
        assertTrue(e.getMessage().contains("conntrack"), e.getMessage());
    }

    private static void bytes(Output o, int n) {
        dev.cryo.engine.image.RecordFields.writeBytes(o, new byte[n]);
    }

    private static void addresses(Output o) {
        bytes(o, 4);
        bytes(o, 4);
    }

    private static void tuple(Output o) {
        addresses(o);
        o.writeVarInt(1, true); // icmp
        o.writeVarInt(0, true);
        o.writeVarInt(0, true); // no zone
    }
}
