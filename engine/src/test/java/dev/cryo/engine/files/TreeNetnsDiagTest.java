package dev.cryo.engine.files;

import dev.cryo.engine.namespaces.NetNamespaceImage;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.OwnSyscalls;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The sock_diag queries of a tree's own net namespace (a container's) run through one netlink socket made in it before
 * the freeze ({@link SocketDumpState#armAhead}): no thread of cryo's joins the namespace for them in the frozen window,
 * where each such thread waited to be scheduled (5-40 ms at load 15). The conntrack check of a connection no table
 * tracks joins it neither. The socket goes before the kill, so a killed tree's namespace is not kept by cryo. A
 * connection through the namespace's veth to a peer outside is locked before the freeze ({@link
 * SocketDumpState#holdPorts}), so its frozen repair runs no nft.
 */
class TreeNetnsDiagTest {
    @TempDir
    Path tmp;

    private static final String SERVER = "import socket,time\n"
            + "l=socket.socket();l.bind(('127.0.0.1',7000));l.listen(8)\n"
            + "c=socket.create_connection(('127.0.0.1',7000));s,_=l.accept()\n"
            + "print('ready',flush=True);time.sleep(600)\n";

    /** {@link #SERVER} in a net namespace of its own (unshare -n), ready. */
    private DetachedProcess server() throws Exception {
        DetachedProcess p = DetachedProcess.start(tmp.resolve("server"), "unshare", "-n", "sh", "-c",
                "ip link set lo up && exec python3 -c \"" + SERVER + "\"");
        p.awaitOutput("ready", Duration.ofSeconds(60));
        return p;
    }

    /** A --tcp-established dump's socket state of the lone task {@code p}. */
    private static SocketDumpState stateOf(DetachedProcess p) {
        return new SocketDumpState(new SocketDumpState.Options(true, false, false, false), p.pid(), List.of(p.pid()));
    }

    @Test
    void aContainersSocketQueriesJoinNoNamespaceOnceItsSocketIsMadeAhead() throws Exception {
        try (DetachedProcess p = server()) {
            SocketDumpState st = stateOf(p);
            try {
                st.armAhead(List.of(p.pid())); // before the freeze
                assertEquals(1, st.keptDiags(), "one socket for the tree's one net namespace");
                List<Long> inodes = ProcFs.fdTargets(p.pid()).values().stream().filter(t -> t.startsWith("socket:["))
                        .map(t -> Long.parseLong(t.substring(8, t.length() - 1))).toList();
                st.netNamespaces(List.of(new NetNamespaceImage(p.pid().value(), inodes, List.of(), List.of(), List.of(),
                        Map.of(), Map.of())));

                long[] calls = OwnSyscalls.now();
                Map<Long, SockDiag.InetSocket> tcp = st.inet(SockAddr.AF_INET, Sockets.IPPROTO_TCP);
                SockDiag.InetSocket listener = tcp.values().stream().filter(s -> s.state() == SockDiag.TCP_LISTEN)
                        .findFirst().orElseThrow(() -> new AssertionError("the namespace's listener is not listed: " + tcp));
                assertEquals(0, st.halfOpen(listener));
                SockDiag.InetSocket client = tcp.values().stream().filter(s -> s.state() == SockDiag.TCP_ESTABLISHED
                        && s.remote().port() == 7000).findFirst().orElseThrow();
                assertFalse(st.peerInTimeWait(client.ino(), client));
                assertEquals(0, OwnSyscalls.since(calls, SyscallNr.SETNS),
                        "a thread joined the namespace for a query: " + OwnSyscalls.since(calls));

                st.killing(); // the tree is killed next: its namespace must be able to go
                assertEquals(0, st.keptDiags(), "the namespace's socket is closed before the kill");
            } finally {
                st.abandon();
            }
        }
    }
    /**
     * The frozen scan of a container's net namespace read ahead ({@link dev.cryo.engine.namespaces.NetNamespaceScan} with
     * a {@link dev.cryo.engine.namespaces.NetNamespaceAhead}, as a pre-copied dump's) joins no namespace: its check of
     * unix connections across namespaces lists the namespace's unix sockets through the dump's kept sock_diag socket,
     * where a thread of its own joined it (a thread in the freeze waits to be scheduled).
     */
    @Test
    void aContainersFrozenNetNamespaceScanJoinsNoNamespace() throws Exception {
        try (DetachedProcess p = server()) {
            SocketDumpState st = stateOf(p);
            try (dev.cryo.engine.namespaces.NetNamespaceAhead ahead =
                         dev.cryo.engine.namespaces.NetNamespaceAhead.start(List.of(p.pid()))) {
                st.armAhead(List.of(p.pid()));
                ahead.read().toCompletableFuture().join();
                List<dev.cryo.engine.namespaces.NamespaceImage> namespaces =
                        dev.cryo.engine.namespaces.NamespaceScan.scan(List.of(p.pid()));

                long[] calls = OwnSyscalls.now();
                List<NetNamespaceImage> nets = dev.cryo.engine.namespaces.NetNamespaceScan.scan(namespaces,
                        List.of(p.pid()), ahead, st::unixIn);
                assertEquals(0, OwnSyscalls.since(calls, SyscallNr.SETNS),
                        "a thread joined the namespace in its frozen scan: " + OwnSyscalls.since(calls));
                // where each of its sockets lives: one pidfd for the task, a copy of each socket (3 pidfds before)
                assertEquals(1, OwnSyscalls.since(calls, SyscallNr.PIDFD_OPEN), OwnSyscalls.since(calls));
                assertEquals(3, nets.get(0).sockets().size(), "the listener and both ends: " + nets);
            } finally {
                st.abandon();
            }
        }
    }

    /** The container's listener on port 7001; its connection from the host through its veth is accepted. */
    private static final String VETH_SERVER = "import socket,time\n"
            + "l=socket.socket();l.bind(('0.0.0.0',7001));l.listen(8)\n"
            + "print('ready',flush=True);s,_=l.accept();print('accepted',flush=True);time.sleep(600)\n";

    @Test
    void aConnectionThroughTheContainersVethIsLockedBeforeTheFreezeAndItsFrozenRepairRunsNoNft() throws Exception {
        assumeTrue(dev.cryo.kernel.net.NetworkLock.available(), "nftables");
        long me = ProcessHandle.current().pid();
        String outer = "cdo" + me % 100000, inner = "cdi" + me % 100000, net = freeSubnet(me);
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("veth-server"), "unshare", "-n", "sh", "-c",
                "ip link set lo up && i=0; while [ $i -lt 300 ] && ! ip link show " + inner + " >/dev/null 2>&1; do"
                        + " i=$((i+1)); sleep 0.1; done; ip addr add " + net + ".2/24 dev " + inner + " && ip link set " + inner
                        + " up && exec python3 -c \"" + VETH_SERVER + "\"")) {
            p.awaitNamespaceOfItsOwn("net", Duration.ofSeconds(60)); // unshare(2) may not have run yet
            // the host's end goes with the namespace (a veth pair dies with either end)
            sh("ip link add " + outer + " type veth peer name " + inner + " netns " + p.pid() + " && ip addr add " + net
                    + ".1/24 dev " + outer + " && ip link set " + outer + " up");
            p.awaitOutput("ready", Duration.ofSeconds(60));
            try (java.net.Socket client = new java.net.Socket(net + ".2", 7001)) {
                p.awaitOutput("accepted", Duration.ofSeconds(60));
                SocketDumpState st = stateOf(p);
                try {
                    st.armAhead(List.of(p.pid()));
                    List<Long> inodes = ProcFs.fdTargets(p.pid()).values().stream().filter(t -> t.startsWith("socket:["))
                            .map(t -> Long.parseLong(t.substring(8, t.length() - 1))).toList();
                    st.netNamespaces(List.of(new NetNamespaceImage(p.pid().value(), inodes, List.of(), List.of(), List.of(),
                            Map.of(), Map.of())));
                    st.holdPorts(List.of(p.pid())); // right before the freeze

                    SockDiag.InetSocket d = st.inet(SockAddr.AF_INET, Sockets.IPPROTO_TCP).values().stream()
                            .filter(s -> s.state() == SockDiag.TCP_ESTABLISHED && s.local().port() == 7001).findFirst()
                            .orElseThrow(() -> new AssertionError("the container's end is not listed"));
                    assertTrue(st.peerOutside(d.ino(), d), "its peer is the host's socket, through the veth");
                    int fd = ProcFs.fdTargets(p.pid()).entrySet().stream()
                            .filter(e -> e.getValue().equals("socket:[" + d.ino() + "]")).findFirst().orElseThrow().getKey();
                    try (Fd pidfd = Sys.pidfdOpen(p.pid())) {
                        Fd sock = Sys.pidfdGetfd(pidfd, p.pid(), fd); // the dump's once repaired: its end closes it
                        long[] calls = OwnSyscalls.now();
                        assertNotNull(st.repair(d.ino(), sock, d.local(), d.remote(), d.state()));
                        assertEquals(0, OwnSyscalls.since(calls, SyscallNr.SOCKET),
                                "the frozen repair made a socket (nft's): " + OwnSyscalls.since(calls));
                        assertEquals(st.lockTable(), st.lockTable(d.ino()), "the dump's lock holds it");
                    }
                } finally {
                    st.abandon();
                }
                assertFalse(dev.cryo.kernel.net.NetworkLock.isLocked(st.lockTable()), "the lock goes with the dump");
            }
        } finally { // the pair goes with the namespace; one left in ours (a failed start) must not outlive the test
            new ProcessBuilder("ip", "link", "del", outer).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start().waitFor();
        }
    }

    /**
     * A 10.234.N prefix no address of ours is in: two /24 routes of one prefix (another run's link, a pair left by a
     * failed one) and the connection took the other's, which no one answered (NoRouteToHost after the ARP tries).
     */
    private static String freeSubnet(long me) throws Exception {
        Process ip = new ProcessBuilder("ip", "-4", "-o", "addr").redirectErrorStream(true).start();
        String addrs = new String(ip.getInputStream().readAllBytes());
        ip.waitFor();
        for (int i = 0; i < 200; i++) {
            String net = "10.234." + (me + i) % 200;
            if (!addrs.contains(" " + net + ".")) {
                return net;
            }
        }
        throw new AssertionError("no free 10.234.N/24 here:\n" + addrs);
    }

    private static void sh(String command) throws Exception {
        Process sh = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
        String out = new String(sh.getInputStream().readAllBytes());
        assertEquals(0, sh.waitFor(), command + ": " + out);
    }
}
