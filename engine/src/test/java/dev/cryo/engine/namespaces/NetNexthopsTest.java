package dev.cryo.engine.namespaces;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link NetNexthops} on {@code ip -o nexthop show} and {@code ip -o route show} lines as captured (FRR's zebra and
 * {@code ip nexthop add} in a namespace): each image line is what {@code ip nexthop add} and {@code ip route add}
 * took back there.
 */
class NetNexthopsTest {
    @Test
    void nexthopsLoseWhatOnlyTheKernelSets() {
        assertEquals("nexthop -4 id 10 via 10.47.1.3 dev r47b proto zebra",
                NetNexthops.entry("-4", "id 10 via 10.47.1.3 dev r47b scope link proto zebra "));
        assertEquals("nexthop -6 id 6 dev r47a", NetNexthops.entry("-6", "id 6 dev r47a scope link "));
        assertEquals("nexthop -4 id 7 via 10.47.1.3 dev r47a onlink",
                NetNexthops.entry("-4", "id 7 via 10.47.1.3 dev r47a scope link onlink linkdown"));
        assertEquals("nexthop id 20 group 10/11,3", NetNexthops.entry(null, "id 20 group 10/11,3 "));
        assertEquals("nexthop id 21 group 10/11 type resilient buckets 8 idle_timer 120 unbalanced_timer 0",
                NetNexthops.entry(null, "id 21 group 10/11 type resilient buckets 8 idle_timer 120 unbalanced_timer 0"
                        + " unbalanced_time 0 "));
        assertEquals(List.of("ip", "-4", "nexthop", "add", "id", "43", "blackhole", "proto", "zebra"),
                NetNexthops.addCommand("nexthop -4 id 43 blackhole proto zebra"));
        assertEquals(List.of("ip", "nexthop", "add", "id", "20", "group", "10/11,3"),
                NetNexthops.addCommand("nexthop id 20 group 10/11,3"));
    }

    @Test
    void aRouteNamingANexthopKeepsOnlyItsId() {
        assertEquals("10.47.8.0/24 nhid 10 proto bgp metric 20 scope global",
                NetNamespaceScan.route("10.47.8.0/24 nhid 10 via 10.47.1.3 dev r47a proto bgp metric 20 "));
        assertEquals("10.47.7.0/24 nhid 20 scope global", NetNamespaceScan.route(
                "10.47.7.0/24 nhid 20 \\\tnexthop via 10.47.1.3 dev r47a weight 1 \\\tnexthop via 10.47.1.4 dev r47a weight 3 "));
        assertEquals("blackhole 10.47.6.0/24 nhid 5 scope global", NetNamespaceScan.route("blackhole 10.47.6.0/24 nhid 5 dev lo "));
        assertEquals("10.47.5.0/24 nhid 12 metric 1024 scope global",
                NetNamespaceScan.route("10.47.5.0/24 nhid 12 via inet6 fd47::3 dev r47a metric 1024 "));
        assertEquals("10.47.4.0/24 via 10.47.1.3 dev r47a scope global", NetNamespaceScan.route("10.47.4.0/24 via 10.47.1.3 dev r47a "));
    }
}
