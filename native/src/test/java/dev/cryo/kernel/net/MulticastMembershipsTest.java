package dev.cryo.kernel.net;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The host's multicast groups as /proc/net/igmp and igmp6 print them (text taken from this machine). */
class MulticastMembershipsTest {
    @Test
    void igmpGroupsAreHostOrderWordsUnderTheirInterface() {
        List<MulticastMemberships.HostGroup> g = MulticastMemberships.parseIgmp("""
                Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter
                1\tlo        :     2      V3
                \t\t\t\t030201EF     1 0:00000000\t\t0
                \t\t\t\t010000E0     1 0:00000000\t\t0
                4\teth0      :     1      V3
                \t\t\t\t010000E0     1 0:00000000\t\t0
                """);
        assertEquals(3, g.size());
        assertEquals(1, g.get(0).ifindex());
        assertArrayEquals(new byte[] {(byte) 239, 1, 2, 3}, g.get(0).address());
        assertEquals(4, g.get(2).ifindex());
        assertArrayEquals(new byte[] {(byte) 224, 0, 0, 1}, g.get(2).address());
    }

    @Test
    void igmp6GroupsAreNetworkOrderHex() {
        List<MulticastMemberships.HostGroup> g = MulticastMemberships.parseIgmp6("""
                1    lo              ff020000000000000000000000000001     1 0000000C 0
                4    eth0            ff0200000000000000000001ff000002     1 00000004 0
                """);
        assertEquals(2, g.size());
        assertEquals(4, g.get(1).ifindex());
        assertEquals((byte) 0xff, g.get(1).address()[0]);
        assertEquals(2, g.get(1).address()[15]);
    }
}
