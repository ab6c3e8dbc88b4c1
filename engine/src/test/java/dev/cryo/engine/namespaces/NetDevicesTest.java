package dev.cryo.engine.namespaces;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link NetDevices#parse} on `ip -o link show` output as captured, with a message of ip's mixed in. */
class NetDevicesTest {
    private static final String LISTING = """
            1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
            Error: Buffer too small for object.
            7: cryo-mh@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 4e:1b:8a:22:10:9c brd ff:ff:ff:ff:ff:ff link-netnsid 1
            """;

    /** A restore on a migration's destination failed with `For input string: "Error"` on such a line (under load). */
    @Test
    void linesThatAreNotLinksAreSkipped() {
        List<NetDevices.Link> links = NetDevices.parse(LISTING);
        assertEquals(2, links.size(), links.toString());
        assertEquals("loopback", links.get(0).kind());
        NetDevices.Link veth = links.get(1);
        assertEquals("cryo-mh", veth.name());
        assertEquals(2, veth.peerIndex());
        assertEquals(true, veth.elsewhere());
        assertEquals(1500, veth.mtu());
    }

    /** A point-to-point address lost its peer: the restore made 10.0.0.1/32 alone, with no word. */
    @Test
    void aPointToPointAddressKeepsItsPeer() {
        String all = "3: cry-p0    inet 10.0.0.1 peer 10.0.0.2/32 scope global cry-p0\\       valid_lft forever preferred_lft forever\n"
                + "3: cry-p0    inet 10.0.1.1/24 brd 10.0.1.255 scope global cry-p0\\       valid_lft forever preferred_lft forever\n";
        assertEquals(List.of("10.0.0.1 peer 10.0.0.2/32 scope global", "10.0.1.1/24 scope global"),
                NetDevices.addressesOf(all, "cry-p0"));
    }
}
