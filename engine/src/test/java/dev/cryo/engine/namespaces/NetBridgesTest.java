package dev.cryo.engine.namespaces;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link NetBridges}' lines from {@code ip -o -d link show} as captured (iproute2 6.1, Linux 6.18): a bridge and its port. */
class NetBridgesTest {
    private static final String LISTING = """
            3: v0@v1: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop master br0 state DOWN mode DEFAULT group default qlen 1000\\    link/ether ea:ad:bf:07:56:a5 brd ff:ff:ff:ff:ff:ff promiscuity 1  allmulti 1 minmtu 68 maxmtu 65535 \\    veth \\    bridge_slave state disabled priority 7 cost 9 hairpin on guard on root_block off fastleave on learning off flood off port_id 0x1c01 port_no 0x1 designated_port 7169 designated_cost 0 designated_bridge 8000.ea:ad:bf:7:56:a5 designated_root 8000.ea:ad:bf:7:56:a5 hold_timer    0.00 message_age_timer    0.00 forward_delay_timer    0.00 topology_change_ack 0 config_pending 0 proxy_arp on proxy_arp_wifi off mcast_router 2 mcast_fast_leave on mcast_flood off bcast_flood off mcast_to_unicast on neigh_suppress on group_fwd_mask 0x8 group_fwd_mask_str 0x8 vlan_tunnel off isolated on locked on addrgenmode eui64 numtxqueues 2 numrxqueues 2 gso_max_size 65536 gso_max_segs 65535 tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536
            7: br0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/ether ea:ad:bf:07:56:a5 brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \\    bridge forward_delay 400 hello_time 200 max_age 2000 ageing_time 1000 stp_state 1 priority 32768 vlan_filtering 0 bridge_id 8000.ea:ad:bf:7:56:a5 designated_root 8000.ea:ad:bf:7:56:a5 root_port 0 root_path_cost 0 topology_change 0 topology_change_detected 0 hello_timer    0.00 tcn_timer    0.00 topology_change_timer    0.00 gc_timer    9.98 group_fwd_mask 0 group_address 01:80:c2:00:00:00 mcast_snooping 1 no_linklocal_learn 0 mcast_vlan_snooping 0 mcast_router 1 mcast_query_use_ifaddr 0 mcast_querier 0 mcast_hash_elasticity 16 mcast_hash_max 4096 mcast_last_member_count 2 mcast_startup_query_count 2 mcast_last_member_interval 100 mcast_membership_interval 26000 mcast_querier_interval 25500 mcast_query_interval 12500 mcast_query_response_interval 1000 mcast_startup_query_interval 3124 mcast_stats_enabled 0 mcast_igmp_version 2 mcast_mld_version 1 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 addrgenmode eui64 numtxqueues 1 numrxqueues 1 gso_max_size 65536 gso_max_segs 65535 tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536
            """;

    @Test
    void aBridgesLineKeepsItsSettingsButNotItsTimersNorIds() {
        List<NetDevices.Link> links = NetDevices.parse(LISTING);
        NetDevices.Link bridge = links.get(1);
        assertEquals("bridge", bridge.kind());
        String line = NetBridges.line(bridge, List.of());
        assertTrue(line.startsWith("bridge name=br0 index=7 mac=ea:ad:bf:07:56:a5 mtu=1500 up=0 set=forward_delay:400,"
                + "hello_time:200,max_age:2000,ageing_time:1000,stp_state:1,priority:32768,vlan_filtering:0,"), line);
        assertTrue(line.contains(",group_fwd_mask:0,group_address:01:80:c2:00:00:00,mcast_snooping:1,"), line);
        assertFalse(line.contains("timer") || line.contains("bridge_id") || line.contains(" ll="), line);
    }

    @Test
    void aPortsLineNamesItsBridgeAndItsOwnSettingsNotTheBridges() {
        NetDevices.Link port = NetDevices.parse(LISTING).get(0);
        assertEquals("veth", port.kind());
        assertEquals("br0", port.master());
        assertEquals("port name=v0 master=br0 set=priority:7,cost:9,hairpin:on,guard:on,root_block:off,fastleave:on,"
                + "learning:off,flood:off,proxy_arp:on,proxy_arp_wifi:off,mcast_router:2,mcast_flood:off,bcast_flood:off,"
                + "mcast_to_unicast:on,neigh_suppress:on,group_fwd_mask:0x8,vlan_tunnel:off,isolated:on,locked:on",
                NetBridges.portLine(port));
    }
}
