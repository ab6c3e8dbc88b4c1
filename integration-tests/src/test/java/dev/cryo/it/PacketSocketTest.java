package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Packet sockets (AF_PACKET) as DHCP clients, arping and keepalived hold them, in a net namespace
 * the tree makes with a veth pair inside (nothing touches the host's interfaces).
 */
class PacketSocketTest {
    @TempDir
    Path tmp;

    static final String PAIR = "ip link set lo up && ip link add cryo-pa type veth peer name cryo-pb"
            + " && ip link set cryo-pa up && ip link set cryo-pb up";

    /** packetsock.c: raw and cooked sockets, bound, filtered, promiscuous, with a multicast address and options. */
    @Test
    void packetSocketsComeBackBoundFilteredAndWithTheirMemberships() throws Exception {
        String prog = TestPrograms.compile("/c/packetsock.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("packetsock.out"), "sh", "-c",
                "exec unshare -n --pid --fork --mount-proc sh -c '" + PAIR + " && exec " + prog + "' 2>/dev/null"))) {
            int init = NamespaceTest.initUnder(p.pid().value());
            String out = RestoreTest.checkAndReap(DumpRestore.dump(init, tmp.resolve("img")).restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out);
            assertEquals(1, out.split("ready", -1).length - 1, "the restored process did not start over:\n" + out);
        }
    }

    /**
     * A real DHCP client: ISC dhclient, still looking for a server (DHCPDISCOVER every second or
     * two), holds its packet socket on cryo-pa with its BPF filter for DHCP replies. After the
     * restore a DHCP server (dnsmasq, started in the tree's namespace on cryo-pb) answers, and the
     * restored dhclient takes the lease: the offer and the ack reach it only through that socket.
     */
    @Test
    void dhclientLookingForAServerTakesItsLeaseAfterTheRestore() throws Exception {
        Path log = tmp.resolve("dhclient.out");
        Path conf = Files.writeString(tmp.resolve("dhclient.conf"), "initial-interval 1;\nbackoff-cutoff 2;\ntimeout 600;\n");
        Path got = tmp.resolve("script.out");
        Path script = Files.writeString(tmp.resolve("script.sh"), "#!/bin/sh\necho \"$reason $new_ip_address\" >> " + got + "\n");
        script.toFile().setExecutable(true);
        String inside = PAIR + " && ip addr add 10.81.0.1/24 dev cryo-pb && exec dhclient -d -v -cf " + conf + " -lf "
                + tmp.resolve("leases") + " -pf " + tmp.resolve("dhclient.pid") + " -sf " + script + " cryo-pa 2>&1";
        try (DetachedProcess p = DetachedProcess.start(log, "sh", "-c",
                "exec unshare -n --pid --fork --mount-proc sh -c '" + inside + "' 2>/dev/null")) {
            DetachedProcess.awaitCondition(() -> count(log, "DHCPDISCOVER on cryo-pa") >= 2, Duration.ofSeconds(60),
                    "dhclient's first discoveries");
            int init = NamespaceTest.initUnder(p.pid().value());
            DetachedProcess r = DumpRestore.dump(init, tmp.resolve("img")).restoreDetached(log);
            try (DetachedProcess server = DetachedProcess.start(tmp.resolve("dnsmasq.out"), "timeout", "120", "nsenter",
                    "-t", Integer.toString(init), "-n", "dnsmasq", "-d", "--conf-file=/dev/null", "--user=root",
                    "--interface=cryo-pb", "--bind-interfaces", "--port=0", "--dhcp-range=10.81.0.10,10.81.0.20,1h",
                    "--dhcp-leasefile=" + tmp.resolve("dnsmasq.leases"), "--pid-file=" + tmp.resolve("dnsmasq.pid"))) {
                DetachedProcess.awaitCondition(() -> read(got).contains("BOUND 10.81.0.1"), Duration.ofSeconds(60),
                        "the restored dhclient to take a lease");
            } finally {
                RestoreTest.killAndReap(r);
            }
            assertTrue(read(log).contains("DHCPOFFER of 10.81.0.1"), read(log));
        }
    }

    private static long count(Path log, String what) {
        return read(log).lines().filter(l -> l.contains(what)).count();
    }

    private static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f) : "";
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
