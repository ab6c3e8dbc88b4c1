package dev.cryo.engine.namespaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What a restore makes of a net namespace's devices without ip ({@link LinkSetup}: veth pairs, addresses, devices
 * up, bridge ports) is what ip makes of the same lines: one namespace made by ip, another by LinkSetup, both
 * listed by ip and compared.
 */
class LinkSetupTest {
    @TempDir
    Path tmp;
    private final List<DetachedProcess> tasks = new ArrayList<>();

    @AfterEach
    void stop() {
        tasks.forEach(DetachedProcess::close);
    }

    private Pid namespace(String name) throws Exception {
        Assumptions.assumeTrue(new java.io.File("/usr/bin/unshare").canExecute(), "util-linux unshare");
        DetachedProcess t = DetachedProcess.start(tmp.resolve(name), "unshare", "-n", "sh", "-c", "echo ready && exec sleep 600");
        tasks.add(t);
        t.awaitOutput("ready", Duration.ofSeconds(60));
        return t.pid();
    }

    private static final List<String> LINES = List.of(
            "addr add 10.91.0.1/24 scope global dev cry-ls0",
            "addr add 10.91.0.9/24 scope global label cry-ls0:a dev cry-ls0",
            "addr add fd00:91::1/64 scope global nodad dev cry-ls0",
            "addr add fd00:92::1/64 scope global nodad noprefixroute dev cry-ls1",
            "addr add 127.0.0.2/8 scope host dev lo",
            "addr add 10.92.0.1/32 scope link dev cry-ls1",
            "link set cry-ls1 master cry-lbr",
            "link set lo up", "link set cry-ls0 up", "link set cry-ls1 up", "link set cry-lbr up");

    /** Routes of the forms NetNamespaceScan.route keeps, by family, in the order a restore gives them. */
    private static final List<String> ROUTES4 = List.of(
            "route add default via 10.91.0.254 dev cry-ls0 scope global",
            "route add 10.95.0.0/16 via 10.91.0.2 dev cry-ls0 metric 100 proto static scope global",
            "route add 10.96.0.0/24 dev cry-ls0 table 100 proto bird scope link",
            "route add 10.97.0.0/24 dev cry-ls0 table 300 src 10.91.0.1 proto 42 scope link",
            "route add 10.98.0.1 dev cry-ls0 scope link",
            "route add 10.99.0.0/24 via 10.200.0.1 dev cry-ls0 onlink scope global",
            "route add 10.100.0.0/24 dev lo metric 7 scope host");
    private static final List<String> ROUTES6 = List.of(
            "route add default via fd00:91::fe dev cry-ls0 metric 1024 pref medium scope global",
            "route add fd00:95::/48 via fd00:91::2 dev cry-ls0 metric 10 proto static pref high scope global",
            "route add fd00:96::/64 dev cry-ls0 table 200 metric 1024 pref low scope global",
            "route add fd00:97::1 dev cry-ls0 metric 5 pref medium scope global");

    @Test
    void devicesAndAddressesMadeWithoutIpAreThoseIpMakes() throws Exception {
        Pid byIp = namespace("ip"), byIpPeer = namespace("ip-peer"), mine = namespace("mine"), minePeer = namespace("mine-peer");
        for (Pid p : List.of(byIp, mine)) {
            NetnsCommand.run(p, "ip", "link", "add", "cry-lbr", "address", "02:00:00:00:91:09", "type", "bridge");
        }
        NetnsCommand.run(byIp, "ip", "link", "add", "cry-ls0", "address", "02:00:00:00:91:01", "mtu", "1400", "index", "40",
                "type", "veth", "peer", "name", "cry-ls1", "address", "02:00:00:00:91:02", "mtu", "1300", "index", "41");
        NetnsCommand.run(byIp, "ip", "link", "add", "cry-lx0", "address", "02:00:00:00:91:03", "mtu", "1500", "index", "42",
                "type", "veth", "peer", "name", "cry-lx1", "address", "02:00:00:00:91:04", "mtu", "1500", "netns", byIpPeer.toString());
        NetnsCommand.batch(byIp, null, LINES);
        NetnsCommand.batch(byIp, "-4", ROUTES4);
        NetnsCommand.batch(byIp, "-6", ROUTES6);
        Namespaces.inside(mine, "net", () -> {
            LinkSetup.veth(LinkSetup.end("cry-ls0", "02:00:00:00:91:01", "1400", "40"),
                    LinkSetup.end("cry-ls1", "02:00:00:00:91:02", "1300", "41"), 0, "veth ls");
            LinkSetup.veth(LinkSetup.end("cry-lx0", "02:00:00:00:91:03", "1500", "42"),
                    LinkSetup.end("cry-lx1", "02:00:00:00:91:04", "1500", null), minePeer.value(), "veth lx");
            assertTrue(LinkSetup.apply(LINES, "test"));
            assertTrue(LinkSetup.routes("-4", ROUTES4, "test"));
            assertTrue(LinkSetup.routes("-6", ROUTES6, "test"));
            return null;
        });
        for (String[] show : List.of(new String[] {"ip", "-o", "-d", "link", "show"}, new String[] {"ip", "-o", "addr", "show"},
                new String[] {"ip", "-o", "route", "show", "table", "all"}, new String[] {"ip", "-6", "-o", "route", "show", "table", "all"})) {
            assertEquals(shown(byIp, show), shown(mine, show), String.join(" ", show));
            assertEquals(shown(byIpPeer, show), shown(minePeer, show), String.join(" ", show) + " of the peer's namespace");
        }
    }

    /** What ip lists, without what moves with time (timers, the kernel's link-local addresses and their routes, which come with a carrier, operstates). */
    private static String shown(Pid p, String... command) {
        return NetnsCommand.run(p, command).replaceAll("\\w+_timer\\s+\\S+", "").replace(" tentative", "")
                .replaceAll("valid_lft \\S+ preferred_lft \\S+", "").replaceAll("(?m)^(.*fe80::|multicast ff00::/8 ).*\\n", "")
                .replaceAll(" state \\S+ mode ", " mode ") // a bridge's operstate follows its ports a moment later
                .replace("<NO-CARRIER,", "<"); // and so does its carrier (half the runs at load 5 saw it not yet there)
    }

    @Test
    void aLineOfAnotherFormIsLeftToIpAndAFailureNamesItsLine() throws Exception {
        Pid p = namespace("other");
        Namespaces.inside(p, "net", () -> {
            assertFalse(LinkSetup.apply(List.of("link set lo up", "addr add 10.0.0.1 peer 10.0.0.2/32 scope global dev lo"), "test"));
            assertFalse(LinkSetup.apply(List.of("route add 10.0.0.0/8 dev lo"), "test"));
            for (String other : List.of("route add 10.0.0.0/8 dev lo", "route add unreachable 10.0.0.0/8 scope global",
                    "route add 10.0.0.0/8 dev lo mtu 1400 scope link", "route add 10.0.0.0/8 nhid 3 scope global",
                    "route add 10.0.0.0/8 via inet6 fe80::1 dev lo scope global", "route add 10.0.0.0/8 dev lo table web scope link",
                    "route add fd00::/8 dev lo scope link")) {
                assertFalse(LinkSetup.routes("-4", List.of("route add 10.1.0.0/16 dev lo scope link", other), "test"), other);
            }
            assertFalse(LinkSetup.routes("-6", List.of("route add fd00::/8 dev lo expires 300sec pref medium scope global"), "test"));
            KernelException e = assertThrows(KernelException.class,
                    () -> LinkSetup.apply(List.of("addr add 10.93.0.1/24 scope global dev cry-none"), "the test's namespace"));
            assertTrue(e.getMessage().startsWith("ip addr add 10.93.0.1/24 scope global dev cry-none in the test's namespace failed"),
                    e.getMessage());
            e = assertThrows(KernelException.class,
                    () -> LinkSetup.routes("-4", List.of("route add 10.94.0.0/16 via 10.200.0.1 scope global"), "the test's namespace"));
            assertTrue(e.getMessage().startsWith("ip -4 route add 10.94.0.0/16 via 10.200.0.1 scope global in the test's namespace failed"),
                    e.getMessage());
            LinkSetup.apply(List.of("addr add 10.93.0.1/24 scope global dev lo"), "the test's namespace");
            e = assertThrows(KernelException.class,
                    () -> LinkSetup.apply(List.of("addr add 10.93.0.1/24 scope global dev lo"), "the test's namespace"));
            assertTrue(e.getMessage().contains("EEXIST"), e.getMessage());
            return null;
        });
        assertFalse(NetnsCommand.run(p, "ip", "-o", "link", "show", "lo").contains("UP"), "nothing of the first list was done");
        assertFalse(NetnsCommand.run(p, "ip", "-o", "route", "show", "table", "all").contains("10.1.0.0"),
                "nor of a list of routes with one of another form");
    }
}
