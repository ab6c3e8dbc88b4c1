package dev.cryo.engine.namespaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.NetworkLock;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A net namespace read while its task runs ({@link NetNamespaceAhead}) stands at the freeze only when nothing of
 * it changed since: on a real namespace (unshare -n, lo and a veth pair inside, an address and a route), a change
 * made after the read ahead (a route, a sysctl, an nftables table) makes the freeze read it again, and what the
 * dump keeps is the namespace as it is then.
 */
class NetNamespaceAheadTest {
    @TempDir
    Path tmp;
    private DetachedProcess task;
    private Pid pid;
    private String link;

    @BeforeEach
    void container() throws Exception {
        Assumptions.assumeTrue(new java.io.File("/usr/bin/unshare").canExecute() || new java.io.File("/bin/unshare").canExecute(),
                "util-linux unshare");
        task = DetachedProcess.start(tmp.resolve("out"), "unshare", "-n", "sh", "-c", "ip link set lo up"
                + " && ip link add cry-ah0 type veth peer name cry-ah1 && ip addr add 10.77.0.1/24 dev cry-ah0"
                + " && ip link set cry-ah0 up && ip link set cry-ah1 up && ip route add 10.78.0.0/16 via 10.77.0.2"
                + " && echo ready && exec sleep 600");
        task.awaitOutput("ready", Duration.ofSeconds(60));
        pid = task.pid();
        link = Namespaces.link(pid.toString(), "net");
    }

    @AfterEach
    void stop() {
        if (task != null) {
            task.close();
        }
    }

    private static void in(Pid p, String... command) {
        NetnsCommand.run(p, command);
    }

    /**
     * An unchanged namespace is taken as read ahead, and the freeze's check joins no namespace: its nftables generation
     * is asked through the netlink socket the read ahead made in it, its legacy tables read through the task's /proc
     * (before, a thread joined it for those: 4-6 ms of a container's freeze at load 8).
     */
    @Test
    void anUnchangedNamespaceIsTakenAsReadAhead() {
        try (NetNamespaceAhead ahead = NetNamespaceAhead.start(List.of(pid))) {
            ahead.awaitRead();
            long[] before = dev.cryo.kernel.OwnSyscalls.now();
            NetNamespaceImage read = ahead.take(pid, link, List.of(pid));
            assertEquals(0, dev.cryo.kernel.OwnSyscalls.since(before, dev.cryo.kernel.SyscallNr.SETNS),
                    "the freeze's check joined the namespace");
            assertNotNull(read, "nothing changed: the read ahead stands, but: " + ahead.lastChange);
            assertEquals(NetNamespaceScan.configuration(pid, link, List.of(pid)), read);
            assertTrue(read.routes().stream().anyMatch(r -> r.contains("10.78.0.0/16")), read.routes().toString());
        }
    }

    @Test
    void aRouteAddedAfterTheReadAheadIsCarried() {
        assertReadAgainAfter("a route was added", () -> in(pid, "ip", "route", "add", "10.79.0.0/16", "via", "10.77.0.3"));
        try (NetNamespaceAhead ahead = NetNamespaceAhead.start(List.of(pid))) {
            ahead.awaitRead();
            in(pid, "ip", "route", "add", "10.80.0.0/16", "via", "10.77.0.3");
            NetNamespaceImage n = NetNamespaceScan.scan(NamespaceScan.scan(List.of(pid)), List.of(pid), ahead).get(0);
            assertTrue(n.routes().stream().anyMatch(r -> r.contains("10.80.0.0/16")), n.routes().toString());
        }
    }

    @Test
    void aSysctlOrAFirewallTableChangedAfterTheReadAheadMakesTheFreezeReadAgain() {
        String why = assertReadAgainAfter("a sysctl was written", () -> Namespaces.inside(pid, "net",
                () -> java.nio.file.Files.writeString(Path.of("/proc/sys/net/ipv4/tcp_keepalive_time"), "1234")));
        // seen through the file kept open since the read ahead, read from another thread than the namespace's
        assertTrue(why.endsWith("/proc/sys/net/ipv4/tcp_keepalive_time"), why);
        Assumptions.assumeTrue(NetworkLock.nft() != null, "nft");
        assertReadAgainAfter("an nftables table was added", () -> in(pid, "nft", "add", "table", "inet", "cryoahead"));
    }

    @Test
    void anAddressOrADeviceStateChangedAfterTheReadAheadMakesTheFreezeReadAgain() {
        assertReadAgainAfter("an address was added", () -> in(pid, "ip", "addr", "add", "10.77.0.9/24", "dev", "cry-ah1"));
        assertReadAgainAfter("a device's MTU was set", () -> in(pid, "ip", "link", "set", "cry-ah1", "mtu", "1400"));
    }

    /** After {@code change}, made once the namespace was read ahead, the freeze does not take the read ahead; why not. */
    private String assertReadAgainAfter(String change, Runnable made) {
        try (NetNamespaceAhead ahead = NetNamespaceAhead.start(List.of(pid))) {
            ahead.awaitRead();
            made.run();
            assertNull(ahead.take(pid, link, List.of(pid)), change + ": read again frozen");
            return ahead.lastChange;
        }
    }
}
