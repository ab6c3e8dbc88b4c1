package dev.cryo.engine.restore;

import dev.cryo.engine.files.InFlightFiles;
import dev.cryo.engine.files.TcpSocketHandler.TcpSocket;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.net.NetworkLock;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The network locks a killing dump with --tcp-established left the image's TCP connections under:
 * each drops the connections' packets on the dumping host until a restore lifts it. A restore where
 * such a lock is not installed (another host, or the lock removed since) would bring connections
 * back whose peers are still held off by that lock where it is, or were reset meanwhile: refused,
 * naming the lock and a connection, unless the caller says the addresses moved here and that lock is
 * lifted where it is (a migration; {@code restore --tcp-lock-elsewhere}). Then the same lock is
 * installed here before anything is made, so the peers' packets meet no socket-less kernel here
 * either until the sockets are back, and the restore lifts it as it lifts one of its own.
 */
public final class HeldConnections {
    private HeldConnections() {}

    /**
     * Checks the image's connection locks; returns the tables installed here, which a failed restore
     * removes. {@code tcpClose}: connections come back closed, no peer's view to keep. An image of a
     * tree the dump left running has no lock to check (nor a peer that waited for it). {@code earlier}: a
     * restore of this image on this host before, which lifted its locks here.
     */
    public static List<String> take(ImageContents image, boolean tcpClose, boolean elsewhere,
                                    java.util.Optional<RestoredImages.Earlier> earlier, Consumer<String> warn) {
        if (tcpClose || image.info() != null && image.info().leftRunning()) {
            return List.of(); // a tree left running (or stopped) got its connections back, and the lock went
        }
        Set<Long> inTreeNetns = new HashSet<>();
        image.netNamespaces().forEach(n -> inTreeNetns.addAll(n.sockets()));
        Set<String> ends = connectionEnds(image);
        Map<String, List<NetworkLock.Flow>> flows = new LinkedHashMap<>();
        Map<String, String> example = new LinkedHashMap<>();
        Set<String> portsOnly = new java.util.LinkedHashSet<>();
        for (TaskImage t : image.tasks()) {
            for (FdImage fd : InFlightFiles.of(t)) {
                String table = lockTable(fd);
                if (table.isEmpty()) {
                    continue;
                }
                if (!(fd.desc() instanceof TcpSocket s) || s.state() == SockDiag.TCP_LISTEN) {
                    portsOnly.add(table); // a held listener or UDP port: new connections wait for the restore
                    continue;
                }
                if (!s.primary() || ends.contains(s.remote().unmapped() + ">" + s.local().unmapped())) {
                    continue; // the other end is in the image too: no peer outside waited for the lock or went on since
                }
                // in a net namespace of the tree's, held where the peer's packets leave: reversed (SocketDumpState.repair)
                SockAddr local = s.local(), remote = s.remote();
                // held inside a bound namespace ("TABLE@PATH"): as seen there, where the peer is
                flows.computeIfAbsent(table, k -> new ArrayList<>()).add(inTreeNetns.contains(s.ino()) && table.indexOf('@') < 0
                        ? new NetworkLock.Flow(remote, local) : new NetworkLock.Flow(local, remote));
                example.putIfAbsent(table, "TCP connection " + local + " -> " + remote + " (pid " + t.pid() + " fd " + fd.fd() + ")");
            }
        }
        portsOnly.removeAll(flows.keySet());
        List<String> installed = new ArrayList<>();
        for (Map.Entry<String, List<NetworkLock.Flow>> e : flows.entrySet()) {
            String table = e.getKey();
            if (NetworkLock.isLocked(table)) {
                continue;
            }
            if (!elsewhere || earlier.isPresent()) {
                for (String t : installed) {
                    NetworkLock.unlock(t);
                }
                String which = "the image's " + example.get(table) + (e.getValue().size() > 1 ? " and "
                        + (e.getValue().size() - 1) + " other connection(s) were" : " was");
                if (earlier.isPresent()) { // the lock is not elsewhere: this host's earlier restore lifted it
                    throw new RestoreException(which + " held by network lock " + table + " until the restore of this"
                            + " image at " + earlier.get().at() + " (root pid " + earlier.get().rootPid() + ") lifted it: its peers went on with that restored tree since,"
                            + " or saw it end, and know the connections no longer as they were at the dump. Restore with"
                            + " --tcp-close to bring the tree back with them closed");
                }
                throw new RestoreException(which + " left held by network lock " + table + " by the dump on "
                        + dumpedOn(image) + ", and this host's network has no such lock: restored here, the connections would come back while their peers' packets are still"
                        + " dropped by that lock where it is, or after the peers were reset without it. Restore there;"
                        + " or move the connections' addresses here, lift that lock there (nft delete table inet " + table
                        + ") and restore with --tcp-lock-elsewhere; or restore with --tcp-close");
            }
            NetworkLock.lock(table, e.getValue());
            installed.add(table);
        }
        for (String table : portsOnly) {
            if (!NetworkLock.isLocked(table) && earlier.isEmpty()) { // else lifted here by that restore, as it should
                warn.accept("network lock " + table + " held this image's TCP listeners or UDP ports on " + dumpedOn(image)
                        + " and is not on this host: if it is still there, it drops new connections to those ports"
                        + " (nft delete table inet " + table + " there lets them go)");
            }
        }
        return installed;
    }

    /**
     * "local>remote" of every connection of the image. A connection whose reverse is among them joins
     * two sockets of the tree (jshell and its agent JVM over JDWP, an application and its database in one
     * tree): both ends come back from the image as they were, whichever restore it is.
     */
    private static Set<String> connectionEnds(ImageContents image) {
        Set<String> ends = new HashSet<>();
        for (TaskImage t : image.tasks()) {
            for (FdImage fd : InFlightFiles.of(t)) {
                if (fd.desc() instanceof TcpSocket s && s.state() != SockDiag.TCP_LISTEN && s.remote() != null) {
                    ends.add(s.local().unmapped() + ">" + s.remote().unmapped()); // an AF_INET6 end of an AF_INET one: mapped
                }
            }
        }
        return ends;
    }

    /**
     * For a restore that failed: the locks a killing dump left on this host for this image that are
     * still there (only a restore that succeeds lifts them), each with what it holds, e.g. "network
     * lock T still holds 1 TCP connection of the image and new connections to TCP 127.0.0.1:5432 until
     * a restore of this image succeeds: a server started anew on those ports gets none of its clients meanwhile
     * (nft delete table inet T lets them go)". A user who gives up on the image and starts the program
     * again would otherwise see its clients time out with nothing said.
     */
    public static List<String> stillHeld(ImageContents image) {
        if (image == null || image.info() != null && image.info().leftRunning()) {
            return List.of();
        }
        Map<String, Integer> connections = new LinkedHashMap<>();
        Map<String, Set<String>> ports = new LinkedHashMap<>();
        for (TaskImage t : image.tasks()) {
            for (FdImage fd : InFlightFiles.of(t)) {
                String table = lockTable(fd);
                if (table.isEmpty()) {
                    continue;
                }
                connections.putIfAbsent(table, 0);
                Set<String> held = ports.computeIfAbsent(table, k -> new java.util.TreeSet<>());
                if (fd.desc() instanceof TcpSocket s && s.state() != SockDiag.TCP_LISTEN) {
                    connections.merge(table, s.primary() ? 1 : 0, Integer::sum);
                } else if (fd.desc() instanceof TcpSocket s) {
                    held.add("TCP " + s.local());
                } else if (fd.desc() instanceof dev.cryo.engine.files.UdpSocketHandler.UdpSocket u) {
                    held.add("UDP " + u.local());
                }
            }
        }
        List<String> notes = new ArrayList<>();
        for (Map.Entry<String, Integer> e : connections.entrySet()) {
            String table = e.getKey();
            try {
                if (!NetworkLock.isLocked(table)) {
                    continue;
                }
            } catch (RuntimeException unknown) {
                continue; // no nft here: the failure itself says enough
            }
            int n = e.getValue();
            Set<String> held = ports.get(table);
            String what = (n > 0 ? n + " TCP connection" + (n == 1 ? "" : "s") + " of the image" : "")
                    + (n > 0 && !held.isEmpty() ? " and " : "")
                    + (held.isEmpty() ? "" : "new connections to " + String.join(", ", held));
            notes.add("network lock " + table + " still holds " + what + " until a restore of this image succeeds"
                    + (held.isEmpty() ? "" : ": a server started anew on those ports gets none of its clients meanwhile")
                    + " (nft delete table inet " + table + " lets them go)");
        }
        return notes;
    }

    /** Removes the locks {@link #take} installed, for a restore that failed; returns what could not be removed. */
    public static List<String> release(List<String> installed) {
        List<String> problems = new ArrayList<>();
        for (String t : installed) {
            try {
                NetworkLock.unlock(t);
            } catch (RuntimeException e) {
                problems.add(e.getMessage());
            }
        }
        return problems;
    }

    private static String lockTable(FdImage fd) {
        if (fd.desc() instanceof TcpSocket s) {
            return s.lockTable();
        }
        if (fd.desc() instanceof dev.cryo.engine.files.UdpSocketHandler.UdpSocket u) {
            return u.lockTable();
        }
        return "";
    }

    private static String dumpedOn(ImageContents image) {
        return "host " + (image.info() == null ? "?" : image.info().hostname());
    }
}
