package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.NetworkLock;
import dev.cryo.kernel.net.ReuseportGroups;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.net.TcpRepair;
import dev.cryo.kernel.net.UnreadableSockState;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcNetRaw;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the socket handlers of one dump share (task dumpers run in parallel): the kernel's
 * sock_diag view taken once, which socket inodes the tree holds and where, the user's socket
 * flags, and the TCP connections put in repair mode with the network lock that hides them.
 * The dump supervisor ends it: {@link #release(boolean, boolean)} after the image is complete, or
 * {@link #abandon()} when the dump fails, so a tree left running keeps working connections.
 */
public final class SocketDumpState {
    /**
     * CRIU's socket flags: dump established TCP (repair), dump it as closed, allow outside unix peers,
     * and leave out connections a listener has not accepted (--tcp-skip-in-flight: they are reset).
     */
    public record Options(boolean tcpEstablished, boolean tcpClose, boolean extUnixSk, boolean tcpSkipInFlight) {
        public static final Options NONE = new Options(false, false, false, false);

        public Options(boolean tcpEstablished, boolean tcpClose, boolean extUnixSk) {
            this(tcpEstablished, tcpClose, extUnixSk, false);
        }
    }

    private final Options options;
    private final Collection<Pid> tree;
    private final String lockTable;
    private Map<Long, SockDiag.UnixSocket> unix;
    private Map<Long, SockDiag.PacketSocket> packet;
    private final Map<Integer, Map<Long, SockDiag.InetSocket>> inet = new HashMap<>();
    private final Map<Integer, Map<Long, List<byte[]>>> md5 = new HashMap<>();
    private Map<Long, String> treeSockets;
    private final Set<Long> claimed = new HashSet<>();
    /** Sockets in repair mode, each with whether it had SO_REUSEADDR (leaving repair mode clears it). */
    private final Map<Fd, Boolean> repaired = new LinkedHashMap<>();
    /** The tun/tap devices a kill would take with their last file, each with cryo's copy of one: made persistent by {@link #killing}. */
    private final List<HeldTun> persistAtKill = new ArrayList<>();

    private record HeldTun(Fd file, String device) {}
    /** Connections dumped to come back closed (--tcp-close), held so that cryo's close is their last ({@link #release}). */
    private final List<Fd> closing = new ArrayList<>();
    /** The connections the lock holds (a set: a server's hundreds are looked up once each). */
    private final Set<NetworkLock.Flow> flows = new LinkedHashSet<>();
    /** The tree's TCP listeners whose new connections are held back while the dump runs ({@link #holdPorts}). */
    private final Map<Long, SockAddr> held = new LinkedHashMap<>();
    /** The tree's bound UDP sockets whose datagrams are dropped while the dump runs ({@link #holdPorts}). */
    private final Map<Long, SockAddr> heldUdp = new LinkedHashMap<>();
    /** The inodes of heldUdp that are UDP-Lite sockets (their datagrams are another protocol's). */
    private final Set<Long> udplite = new java.util.HashSet<>();

    /** {@code tree}: the tasks of the dump, read when first needed (a live view is fine). */
    public SocketDumpState(Options options, Pid root, Collection<Pid> tree) {
        this(options, root, tree, false);
    }

    /** {@code migrating}: the image is restored on another host, which takes the connections' lock over (a migration). */
    public SocketDumpState(Options options, Pid root, Collection<Pid> tree, boolean migrating) {
        this.options = options;
        this.tree = tree;
        this.migrating = migrating;
        this.root = root;
        this.lockTable = "cryo_" + root + "_" + Long.toString(System.currentTimeMillis(), 36);
    }

    private final boolean migrating;
    private final Pid root;

    /** Undoes the locks and repair mode should cryo die before {@link #release} or {@link #abandon}; null until the first. */
    private LockWatchdog watchdog;
    /** The watchdog being started before the freeze ({@link #armAhead}), null for none. */
    private java.util.concurrent.CompletableFuture<LockWatchdog> ahead;

    /**
     * Starts the watchdog now, on a thread of its own, if a task of {@code tree} holds a socket: its shell's spawn
     * (fork, exec, reap: 10-60 ms at load) was inside the freeze of every dump whose first lock is taken there (a
     * container's connections through its veth, --tcp-established), a migration's downtime. The sock_diag
     * sockets of the tree's net namespaces are made now too ({@link #diags}).
     */
    public synchronized void armAhead(Collection<Pid> tree) {
        if (watchdog != null || ahead != null || !holdsSockets(tree)) {
            return;
        }
        openDiagsAhead(tree);
        // no task listed yet: the frozen tree's are, at the first lock, as before (one gone from the tree since
        // would otherwise count as alive and lift a killed tree's kept lock)
        ahead = java.util.concurrent.CompletableFuture.supplyAsync(() -> LockWatchdog.start(List.of()), r -> {
            Thread t = new Thread(r, "lock watchdog start");
            t.setDaemon(true);
            t.start();
        });
    }

    private static boolean holdsSockets(Collection<Pid> tree) {
        for (Pid p : tree) {
            try {
                if (ProcFs.fdTargets(p).values().stream().anyMatch(t -> t.startsWith("socket:["))) {
                    return true;
                }
            } catch (KernelException gone) {
                // the seize says so
            }
        }
        return false;
    }

    /** The watchdog {@link #armAhead} started, once up; null for none (a test's look). */
    synchronized LockWatchdog armed() {
        return ahead == null ? watchdog : ahead.join();
    }

    LockWatchdog watchdog() {
        if (watchdog == null) {
            Set<Pid> tasks = new LinkedHashSet<>(List.of(root));
            try {
                tasks.addAll(tree);
            } catch (java.util.ConcurrentModificationException seizing) {
                // a live view still growing: the root tells whether the tree still runs
            }
            LockWatchdog started = null;
            if (ahead != null) {
                try {
                    started = ahead.join();
                } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                    // started again below, which says why it cannot
                }
                ahead = null;
            }
            if (started != null) {
                started.tasks(tasks);
                watchdog = started;
            } else {
                watchdog = LockWatchdog.start(tasks);
            }
        }
        return watchdog;
    }

    /** The dump's end, as planned: the watchdog goes without doing anything. */
    private void disarm() {
        if (watchdog != null) {
            watchdog.close();
        } else if (ahead != null) { // started ahead, never needed: closed once up
            ahead.thenAccept(LockWatchdog::close);
            ahead = null;
        }
    }

    /**
     * The tree is about to be killed, its image complete: its connections go back into repair mode, and should cryo
     * die now, a --tcp-established dump's network lock stays for the restore once the tree is gone (a migration's
     * goes: the tree runs on the other host; so does one holding only listeners, as {@link #release} lets it go).
     */
    public synchronized void killing() {
        closeDiags(); // each holds its namespace: a killed tree's must go with it (its veth, which the lock waits for)
        List<String> problems = backIntoRepair();
        for (HeldTun t : persistAtKill) { // the tree frozen, its image complete: nothing else changes it before the kill
            try {
                // the kernel tells the link's watchers (an RTM_NEWLINK of an up device): the tree, its sockets
                // dumped, is killed next
                dev.cryo.kernel.net.TunDevices.persist(t.file(), t.device(), true);
            } catch (KernelException e) {
                problems.add("tun/tap device " + t.device() + " could not be kept for the restore: " + e.getMessage());
            }
        }
        // only --tcp-established keeps a lock past a kill (release): without it a held listener's table would stay
        if (watchdog != null && !migrating && options.tcpEstablished()) {
            watchdog.keep();
        }
        if (!problems.isEmpty()) {
            throw new KernelException("connections the killed tree closes may send their FIN or a reset: "
                    + String.join("; ", problems));
        }
    }

    /** Closed in repair mode, a killed tree's connection sends nothing; what could not enter it, said. */
    private List<String> backIntoRepair() {
        List<String> problems = new ArrayList<>();
        for (Fd s : outOfRepair) {
            try {
                TcpRepair.enter(s);
            } catch (KernelException e) {
                problems.add(e.getMessage());
            }
        }
        outOfRepair.clear();
        return problems;
    }

    public Options options() {
        return options;
    }

    /**
     * Refuses a migration of connection {@code what} (the tree's socket {@code ino}) when it lives in
     * this host's network namespace with a peer outside the tree: its address stays on this host.
     * A container's (a net namespace of the tree's, reached through its veth) can move with its address.
     */
    public void checkMovable(long ino, SockDiag.InetSocket d, java.util.function.Function<String, RuntimeException> refuse,
                             String what) {
        if (migrating && netnsOf(ino) == 0 && !peerInTree(ino, d)) {
            throw refuse.apply(what + " lives in this host's network namespace and its peer is not the tree's: its"
                    + " address stays on this host, so it cannot be migrated (a container's connection can: a tree in"
                    + " a net namespace of its own, reached through its veth, whose address is routed to the destination)");
        }
    }

    /** Socket inode → the task of the tree that made the net namespace it lives in (the host's: none). */
    private final Map<Long, Integer> netnsOf = new HashMap<>();
    private final Set<Integer> netnsCreators = new LinkedHashSet<>();

    /** The net namespaces bound on the host the tree is in, by the task that entered each: their paths. */
    private final Map<Integer, String> boundNetns = new HashMap<>();

    /** Records the tree's net namespaces that are bound on the host ({@code NamespaceImage#joinsNet}). */
    public synchronized void boundNetNamespaces(List<dev.cryo.engine.namespaces.NamespaceImage> namespaces) {
        namespaces.stream().filter(dev.cryo.engine.namespaces.NamespaceImage::joinsNet)
                .forEach(n -> boundNetns.put(n.pid(), n.netBoundAt()));
    }

    /**
     * Why a peer of a socket of the tree's net namespace {@code netns} (by maker) that no task of the tree
     * holds cannot follow it: the namespace is made new, or, bound on the host, it stays with that peer.
     */
    public synchronized String peerStaysBehind(int netns) {
        String at = boundNetns.get(netns);
        return at == null ? "the restore makes that namespace new, where that peer cannot follow"
                : "that namespace is bound at " + at + " and the restore joins it again, where that peer stays: carrying"
                + " it needs --tcp-established (its packets are then held by a network lock inside that namespace until"
                + " the restore)" + (migrating ? ", and a migration, whose restore is on another host, cannot" : "");
    }

    /**
     * Whether connection {@code ino} of a net namespace bound on the host (by {@code ip netns add}), whose peer stays in
     * that namespace, not the tree's, is held by a lock inside it ({@link #repair}): with --tcp-established, when the
     * restore is on this host, which joins that namespace again and rebuilds the socket there.
     */
    public synchronized boolean heldInBound(long ino) {
        String at = boundNetns.get(netnsOf(ino));
        if (at == null || migrating || !options.tcpEstablished()
                || NetworkLock.inNamespace(lockTable, at).length() > MAX_LOCK_NAME) {
            return false;
        }
        inBound.put(ino, at);
        return true;
    }

    /** The longest lock name a socket's record holds ({@code TcpSocket.lockTable}). */
    private static final int MAX_LOCK_NAME = 64;

    /** Connections held inside a bound net namespace ({@link #heldInBound}): the namespace's path. */
    private final Map<Long, String> inBound = new HashMap<>();
    /** The flows held inside each bound net namespace, by its path. */
    private final Map<String, Set<NetworkLock.Flow>> boundFlows = new LinkedHashMap<>();

    /** The tree's own net namespaces ({@code NetNamespaceScan}): their sockets are carried too. */
    public synchronized void netNamespaces(List<dev.cryo.engine.namespaces.NetNamespaceImage> nets) {
        for (var n : nets) {
            netnsCreators.add(n.pid());
            n.sockets().forEach(ino -> netnsOf.put(ino, n.pid()));
            outerEnds.addAll(n.outerEnds());
        }
    }

    /** The ends in cryo's namespace of the tree's namespaces' veth pairs: gone once a killed tree's namespaces are. */
    private final Set<String> outerEnds = new LinkedHashSet<>();

    /** The task that made the net namespace of the tree's socket {@code ino} lives in; 0 for cryo's (the host's). */
    public synchronized int netnsOf(long ino) {
        return netnsOf.getOrDefault(ino, 0);
    }

    /** sock_diag answers for the net namespace of the caller: cryo's, then each of the tree's, merged (inodes are unique). */
    private <T> Map<Long, T> everyNetns(java.util.function.Function<SockDiag, Map<Long, T>> ask) {
        Map<Long, T> out;
        try (SockDiag d = SockDiag.open()) {
            out = new HashMap<>(ask.apply(d));
        }
        for (int creator : netnsCreators) {
            out.putAll(diagIn(creator, ask));
        }
        return out;
    }

    /**
     * The sock_diag sockets of the tree's net namespaces, by the namespace's inode: each made once per dump by a
     * thread that joined the namespace ({@link #armAhead}, before the freeze; else at its first query). A netlink
     * socket answers for the namespace it was made in, whichever thread asks, so the frozen queries run on the
     * caller's thread: a thread per query (Namespaces.inside) waits to be scheduled, 5-40 ms each in a container's
     * migration at load 15, and a connection through the container's veth made several. Closed before the kill or
     * the release: a socket keeps its namespace alive, and a killed tree's must go (a migration waits for its veth).
     */
    private final Map<Long, SockDiag> diags = new HashMap<>();
    private boolean diagsClosed;

    /** {@code ask} of the net namespace task {@code creator} is in, through its kept socket ({@link #diags}). */
    private <T> T diagIn(int creator, java.util.function.Function<SockDiag, T> ask) {
        Long ns = diagsClosed ? null : netnsInode(Pid.of(creator));
        SockDiag kept = ns == null ? null : diags.get(ns);
        if (kept == null && ns != null) {
            kept = dev.cryo.kernel.Namespaces.inside(Pid.of(creator), "net", SockDiag::open);
            if (kept.netnsInode() == ns) {
                diags.put(ns, kept);
            } else { // the task left that namespace meanwhile: not kept, the question is asked the old way
                kept.close();
                kept = null;
            }
        }
        if (kept != null) {
            return ask.apply(kept);
        }
        return dev.cryo.kernel.Namespaces.inside(Pid.of(creator), "net", () -> {
            try (SockDiag d = SockDiag.open()) {
                return ask.apply(d);
            }
        });
    }

    /** The inode of the net namespace of {@code task} ("net:[4026532290]"), null when it cannot be read. */
    private static Long netnsInode(Pid task) {
        String link = dev.cryo.kernel.Namespaces.link(task.toString(), "net");
        return link == null ? null : Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']')));
    }

    /** Makes the {@link #diags} of the net namespaces of {@code tree} that are not cryo's, before the freeze. */
    private void openDiagsAhead(Collection<Pid> tree) {
        Long own = netnsInode(Pid.of((int) ProcessHandle.current().pid()));
        Set<Long> seen = new HashSet<>();
        for (Pid p : tree) {
            Long ns = netnsInode(p);
            if (ns == null || ns.equals(own) || !seen.add(ns) || diags.containsKey(ns)) {
                continue;
            }
            try {
                SockDiag d = dev.cryo.kernel.Namespaces.inside(p, "net", SockDiag::open);
                if (diags.putIfAbsent(d.netnsInode(), d) != null) {
                    d.close();
                }
            } catch (KernelException gone) {
                // gone, or left for another namespace: its first frozen query makes it
            }
        }
    }

    /** How many {@link #diags} are open (a test's look). */
    synchronized int keptDiags() {
        return diags.size();
    }

    private void closeDiags() {
        diagsClosed = true;
        diags.values().forEach(SockDiag::close);
        diags.clear();
    }

    public synchronized Map<Long, SockDiag.UnixSocket> unix() {
        if (unix == null) {
            unix = everyNetns(SockDiag::unixSockets);
        }
        return unix;
    }

    /**
     * The unix sockets of the net namespace task {@code creator} is in, by inode: through its kept sock_diag socket
     * ({@link #diags}), no thread joining it (NetNamespaceScan's check of the tree's unix connections across them).
     */
    public synchronized Map<Long, SockDiag.UnixSocket> unixIn(int creator) {
        return diagIn(creator, SockDiag::unixSockets);
    }

    /** Packet sockets (AF_PACKET), by inode. */
    public synchronized Map<Long, SockDiag.PacketSocket> packet() {
        if (packet == null) {
            packet = everyNetns(SockDiag::packetSockets);
        }
        return packet;
    }

    /**
     * Where the tree maps packet socket {@code ino}'s ring of {@code bytes}: only whole, and only in
     * {@code owner}, the task whose fd carries the socket (its fd is where the restore maps it again).
     */
    public List<PacketRingState.Mapping> ringMappings(long ino, Pid owner, long bytes) {
        String path = "socket:[" + ino + "]";
        List<PacketRingState.Mapping> out = new java.util.ArrayList<>();
        for (Pid pid : tree) {
            for (dev.cryo.kernel.proc.MapsEntry m : ProcFs.maps(pid)) {
                if (!m.path().equals(path)) {
                    continue;
                }
                String where = "pid " + pid + " maps the ring of packet socket " + ino + " at 0x" + Long.toHexString(m.start());
                if (pid.value() != owner.value()) {
                    throw new dev.cryo.engine.DumpException(where + ", which pid " + owner + " holds by the fd cryo carries it with;"
                            + " a ring mapped by another process is not supported");
                }
                if (m.offset() != 0 || m.end() - m.start() != bytes) {
                    throw new dev.cryo.engine.DumpException(where + ": " + (m.end() - m.start()) + " bytes from offset " + m.offset()
                            + ", not the whole of its rings' " + bytes + " bytes; not supported");
                }
                out.add(new PacketRingState.Mapping(m.start(), (m.read() ? 1 : 0) | (m.write() ? 2 : 0),
                        m.shared() ? PacketRingState.Mapping.MAP_SHARED : PacketRingState.Mapping.MAP_PRIVATE));
            }
        }
        return out;
    }

    /** The TCP-MD5 keys of the TCP sockets of one family that have some, by inode (sock_diag's). */
    public synchronized Map<Long, List<byte[]>> tcpMd5Keys(int family) {
        return md5.computeIfAbsent(family, k -> everyNetns(d -> d.tcpMd5Keys(family)));
    }

    /** TCP or UDP sockets of one family, by inode. */
    public synchronized Map<Long, SockDiag.InetSocket> inet(int family, int protocol) {
        return inet.computeIfAbsent(family * 1000 + protocol, k -> everyNetns(d -> d.inetSockets(family, protocol)));
    }

    /**
     * Whether the peer of connection {@code d} (the tree's socket {@code ino}, TCP) is a socket the
     * tree holds in the same network namespace: a connection inside a net namespace of the tree's
     * comes back in a new namespace, where no other peer could follow it.
     */
    public synchronized boolean peerInTree(long ino, SockDiag.InetSocket d) {
        int ns = netnsOf(ino);
        SockAddr local = d.local().unmapped(), remote = d.remote().unmapped();
        // either family: an AF_INET client of a dual-stack AF_INET6 listener, whose end has v4-mapped addresses
        for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
            for (SockDiag.InetSocket o : inet(family, Sockets.IPPROTO_TCP).values()) {
                if (o.ino() != ino && o.local().unmapped().equals(remote) && o.remote().unmapped().equals(local)
                        && netnsOf(o.ino()) == ns) {
                    return holder(o.ino()) != null;
                }
            }
        }
        return false;
    }

    /**
     * Whether connection attempt {@code d} (the tree's socket {@code ino}, TCP, SYN_SENT) goes to a listener
     * the tree holds in the same net namespace, on its address or a wildcard one, of either family.
     */
    public synchronized boolean listenerInTree(long ino, SockDiag.InetSocket d) {
        int ns = netnsOf(ino);
        SockAddr remote = d.remote().unmapped();
        for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
            for (SockDiag.InetSocket o : inet(family, Sockets.IPPROTO_TCP).values()) {
                SockAddr at = o.local().unmapped();
                if (o.state() == SockDiag.TCP_LISTEN && netnsOf(o.ino()) == ns && at.port() == remote.port()
                        && (at.equals(remote) || at.isAnyAddress()) && holder(o.ino()) != null) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Whether the peer of connection {@code d} (the tree's socket {@code ino}, TCP, in a net namespace of
     * the tree's) waits in the accept queue of a listener the tree holds there: a socket of no file,
     * established or half closed by the client, on a port that listener listens on. {@code
     * --tcp-skip-in-flight} leaves it out; its client, carried, is reset by the restored listener.
     */
    public synchronized boolean peerNotAccepted(long ino, SockDiag.InetSocket d) {
        int ns = netnsOf(ino);
        SockAddr local = d.local().unmapped(), remote = d.remote().unmapped();
        List<SockDiag.InetSocket> all = new ArrayList<>(inet(SockAddr.AF_INET, Sockets.IPPROTO_TCP).values());
        all.addAll(inet(SockAddr.AF_INET6, Sockets.IPPROTO_TCP).values());
        boolean queued = diagIn(ns, q -> {
            for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
                for (SockDiag.InetSocket o : q.ownerless(family, -1)) {
                    if (o.local().unmapped().equals(remote) && o.remote().unmapped().equals(local)
                            && (o.state() == SockDiag.TCP_ESTABLISHED || o.state() == SockDiag.TCP_CLOSE_WAIT)) {
                        return true;
                    }
                }
            }
            return false;
        });
        return queued && all.stream().anyMatch(l -> l.state() == SockDiag.TCP_LISTEN && netnsOf(l.ino()) == ns
                && l.local().port() == remote.port() && holder(l.ino()) != null);
    }

    /**
     * Raw sockets of one family, by inode, from /proc/net/raw or raw6 (sock_diag's raw part is an
     * optional kernel module, missing on this project's kernel). Read when first asked, like sock_diag.
     */
    public synchronized Map<Long, SockDiag.InetSocket> raw(int family) {
        return inet.computeIfAbsent(family * 1000 + Sockets.IPPROTO_RAW, k -> {
            return procNet(family == SockAddr.AF_INET ? "raw" : "raw6", (path, text) -> ProcNetRaw.parse(path, text, family));
        });
    }

    /** ICMP datagram ("ping") sockets of one family, by inode, from /proc/net/icmp or icmp6. */
    public synchronized Map<Long, SockDiag.InetSocket> ping(int family) {
        return inet.computeIfAbsent(family * 1000 + Sockets.IPPROTO_ICMP, k -> {
            return procNet(family == SockAddr.AF_INET ? "icmp" : "icmp6",
                    (path, text) -> ProcNetRaw.parse(path, text, family, Sockets.IPPROTO_ICMP));
        });
    }

    /** A /proc/net table of cryo's net namespace and of each of the tree's (/proc/PID/net of its maker), merged. */
    private Map<Long, SockDiag.InetSocket> procNet(String table,
                                                   java.util.function.BiFunction<String, String, Map<Long, SockDiag.InetSocket>> parse) {
        String path = "/proc/net/" + table;
        Map<Long, SockDiag.InetSocket> out = new HashMap<>(parse.apply(path, ProcFs.text(path)));
        for (int creator : netnsCreators) {
            String theirs = dev.cryo.kernel.ExitedLeaders.proc(creator) + "/net/" + table;
            out.putAll(parse.apply(theirs, ProcFs.text(theirs)));
        }
        return out;
    }

    /** "pid N fd M" of some fd of the tree holding socket {@code ino}, or null when no task of the tree holds it. */
    public synchronized String holder(long ino) {
        if (treeSockets == null) {
            treeSockets = socketsOf(tree);
        }
        String h = treeSockets.get(ino);
        if (h == null && !threadsScanned) {
            threadsScanned = true;
            scanThreadsAlone();
            h = treeSockets.get(ino);
        }
        if (h == null && !inFlightScanned) {
            inFlightScanned = true;
            scanInFlight();
            h = treeSockets.get(ino);
        }
        return h;
    }

    private boolean inFlightScanned, threadsScanned;

    /**
     * Sockets the threads of the tree hold alone in fd tables of their own (opened after unshare(CLONE_FILES) in
     * that thread) count as held: they are carried with those tables. Looked for once, when a socket no task holds
     * is asked for.
     */
    private void scanThreadsAlone() {
        for (Pid p : tree) {
            List<Pid> threads;
            try {
                threads = ProcFs.tasks(p);
            } catch (RuntimeException gone) {
                continue;
            }
            for (Pid t : threads) {
                try {
                    if (t.equals(p) || dev.cryo.kernel.Sys.shareResource(p, t, dev.cryo.kernel.Sys.KCMP_FILES)) {
                        continue;
                    }
                    ProcFs.fdTargets(t).forEach((fd, target) -> {
                        if (target.startsWith("socket:[")) {
                            treeSockets.putIfAbsent(Long.parseLong(target.substring(8, target.length() - 1)),
                                    "pid " + p + " thread " + t + " fd " + fd);
                        }
                    });
                } catch (RuntimeException gone) {
                    // its dump says
                }
            }
        }
    }

    /** Socket inode → "pid N fd M" of the first fd of {@code pids} holding it; a task gone meanwhile holds none. */
    private static Map<Long, String> socketsOf(Collection<Pid> pids) {
        Map<Long, String> out = new HashMap<>();
        for (Pid p : pids) { // one exited meanwhile (before the freeze) holds none: the seize will say
            ProcFs.fdTargets(p).forEach((fd, t) -> {
                if (t.startsWith("socket:[")) {
                    out.putIfAbsent(Long.parseLong(t.substring(8, t.length() - 1)), "pid " + p + " fd " + fd);
                }
            });
        }
        return out;
    }

    /**
     * Sockets passed in the unread messages of the tree's unix sockets (SCM_RIGHTS) count as held:
     * they are carried with those messages, and so are the sockets in flight in their queues in
     * turn. Looked for once, when a socket no task holds is asked for.
     */
    private void scanInFlight() {
        Pid self = Pid.of((int) ProcessHandle.current().pid());
        for (Map.Entry<Long, String> e : new ArrayList<>(treeSockets.entrySet())) {
            SockDiag.UnixSocket d = unix().get(e.getKey());
            if (d == null || d.state() == SockDiag.UNIX_LISTEN) {
                continue;
            }
            String[] where = e.getValue().split(" "); // "pid N fd M"
            if (where.length != 4) {
                continue; // one a thread holds alone ("pid N thread T fd M"): its queue is not looked into
            }
            Pid pid = Pid.of(Integer.parseInt(where[1]));
            try (Fd pidfd = dev.cryo.kernel.Sys.pidfdOpen(pid);
                 Fd sock = dev.cryo.kernel.Sys.pidfdGetfd(pidfd, pid, Integer.parseInt(where[3]))) {
                scanQueue(self, sock, e.getKey(), e.getValue(), 0);
            } catch (RuntimeException ignored) {
                // its dump reports what is wrong with that socket
            }
        }
    }

    /** The sockets in flight in the queue of {@code sock} (inode {@code ino}), and in theirs, {@code depth} levels down. */
    private void scanQueue(Pid self, Fd sock, long ino, String where, int depth) {
        for (Sockets.Message m : Sockets.peekQueue(sock, 1 << 16, true)) {
            for (Fd f : m.fds()) {
                try (f) {
                    String t = ProcFs.fdTarget(self, f.value());
                    if (!t.startsWith("socket:[")) {
                        continue;
                    }
                    long passed = Long.parseLong(t.substring(8, t.length() - 1));
                    String at = "in flight in the queue of socket " + ino + " (" + where + ")";
                    SockDiag.UnixSocket d = unix().get(passed);
                    // a loop (a socket in its own queue) is refused by its dump: depth bounds the walk
                    if (treeSockets.putIfAbsent(passed, at) == null && d != null && d.state() != SockDiag.UNIX_LISTEN
                            && depth < 8) {
                        try {
                            scanQueue(self, f, passed, at, depth + 1);
                        } catch (RuntimeException ignored) {
                            // its dump reports what is wrong with that socket
                        }
                    }
                }
            }
        }
    }

    /** True the first time a socket inode is seen: that fd carries the socket's queues. */
    public synchronized boolean claim(long ino) {
        return claimed.add(ino);
    }

    /** The nftables table that holds this dump's TCP connections (recorded for the restore to remove). */
    public String lockTable() {
        return lockTable;
    }

    /**
     * {@link #lockTable()} for the connection of socket {@code ino}: none inside a net namespace of the
     * tree's, unless its peer is outside ({@link #peerOutside}).
     */
    public synchronized String lockTable(long ino) {
        return inBound.containsKey(ino) ? NetworkLock.inNamespace(lockTable, inBound.get(ino))
                : netnsOf(ino) == 0 || throughVeth.contains(ino) ? lockTable : "";
    }

    /** Connections in a net namespace of the tree's whose peer is outside the tree. */
    private final java.util.Set<Long> throughVeth = new java.util.HashSet<>();

    /**
     * Whether connection {@code ino} lives in a net namespace of the tree's and its peer (not the tree's,
     * {@link #peerInTree}) is outside that namespace: it reaches cryo's namespace through the namespace's
     * veth (a veth to a third namespace or another device is refused), so {@link #repair} holds it with
     * the lock there, seen from the peer's side.
     */
    public synchronized boolean peerOutside(long ino, SockDiag.InetSocket d) {
        int ns = netnsOf(ino);
        if (ns == 0 || d.remote().inetAddress().isLoopbackAddress()) {
            return false;
        }
        int family = d.local().family();
        List<SockDiag.InetSocket> there = diagIn(ns, q -> {
            List<SockDiag.InetSocket> all = new ArrayList<>(q.inetSockets(family, Sockets.IPPROTO_TCP).values());
            all.addAll(q.ownerless(family, -1)); // an orphaned peer closing in there
            return all;
        });
        if (there.stream().anyMatch(o -> o.local().equals(d.remote()) && o.remote().equals(d.local()))) {
            return false; // the peer is in that namespace too, held by no task of the tree
        }
        throughVeth.add(ino);
        return true;
    }

    /**
     * Whether connection {@code ino}, of a net namespace the tree made, has no other end there at all: no
     * socket of that namespace, held or not, in any state, is its peer. A peer an earlier dump left out with
     * --tcp-skip-in-flight is such (the restore made the client alone), and so is one gone with its reset
     * lost. Made new, the namespace holds no peer either: the connection comes back as it is, and its next
     * segment is answered there as here (a reset from the listener of its port, or nothing).
     */
    public synchronized boolean peerNowhere(long ino, SockDiag.InetSocket d) {
        int ns = netnsOf(ino);
        SockAddr local = d.local().unmapped(), remote = d.remote().unmapped();
        return ns != 0 && !diagIn(ns, q -> {
            for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
                List<SockDiag.InetSocket> all = new ArrayList<>(q.inetSockets(family, Sockets.IPPROTO_TCP).values());
                all.addAll(q.ownerless(family, -1));
                if (all.stream().anyMatch(o -> o.ino() != ino && o.local().unmapped().equals(remote)
                        && o.remote().unmapped().equals(local))) {
                    return true;
                }
            }
            return false;
        });
    }

    /**
     * Whether the peer of connection {@code ino} (LAST_ACK, of a net namespace the tree made) is in
     * TIME_WAIT there: it has had every byte and the FIN of {@code ino}, and only its last ACK has not
     * arrived (lost, or dropped by a firewall: zdtm's socket-tcp-closed-last-ack).
     */
    public synchronized boolean peerInTimeWait(long ino, SockDiag.InetSocket d) {
        int ns = netnsOf(ino);
        return ns != 0 && diagIn(ns, q -> q.ownerless(d.local().family(), 1 << SockDiag.TCP_TIME_WAIT).stream()
                .anyMatch(o -> o.local().equals(d.remote()) && o.remote().equals(d.local())));
    }

    /**
     * Locks the network for one more connection (socket {@code ino}), then puts its socket in repair
     * mode to read it; cryo keeps the socket until the dump ends. A connection the lock holds leaves repair
     * mode once read ({@link #killing} puts it back for the kill): should cryo die before the dump's end, the
     * kernel lets the tree run at once, and a socket in repair mode fails every recv (EPERM) and send (EINVAL)
     * until the watchdog's JVM is up; held by the lock alone nothing reaches it nor leaves, and its peer only
     * sends again once the watchdog lifts the lock. One no lock holds (both ends the tree's, in a net namespace
     * of its own) stays in repair mode: only that keeps the two ends from trading packets meanwhile.
     * Returns the connection's state. A connection in
     * {@code state}: established, shut for writing (FIN_WAIT1/2), or having received its peer's FIN (CLOSE_WAIT, and LAST_ACK, CLOSING with its own FIN sent too),
     * or a connection attempt in flight (SYN_SENT: {@link TcpRepair#readConnecting}).
     */
    public synchronized TcpRepair.Connection repair(long ino, Fd sock, SockAddr local, SockAddr remote, int state) {
        if (ended) { // a dumper still collecting when the dump failed: no lock again, no socket left in repair mode
            throw new KernelException("connection " + local + " -> " + remote + " left as it is: the dump is over");
        }
        boolean locked = true;
        // inside a net namespace of the tree's both ends are the tree's, frozen: nothing else reaches them,
        // but for a peer outside, held in cryo's namespace at the veth's end, where the flow runs the other
        // way (the peer's packets leave by the output hook). The lock outlives the killed tree's namespace:
        // the restore's veth is up before the socket is rebuilt, and the new namespace would reset the peer
        if (inOurNetns(sock)) {
            NetworkLock.Flow flow = new NetworkLock.Flow(local, remote);
            if (!lockedAhead) {
                lockedAhead = true;
                lockAhead(flow);
            } else if (flows.add(flow)) {
                relock();
            }
        } else if (throughVeth.contains(ino)) {
            if (flows.add(new NetworkLock.Flow(remote, local))) { // else locked before the freeze (holdPorts)
                relock();
            }
        } else if (inBound.containsKey(ino)) { // its peer stays in that namespace: held there, as on the host
            String at = inBound.get(ino);
            Set<NetworkLock.Flow> f = boundFlows.computeIfAbsent(at, k -> new LinkedHashSet<>());
            if (f.add(new NetworkLock.Flow(local, remote))) {
                watchdog().table(NetworkLock.inNamespace(lockTable, at));
                NetworkLock.lock(NetworkLock.inNamespace(lockTable, at), List.copyOf(f));
            }
        } else {
            locked = false;
            holdInside(netnsOf(ino));
        }
        LockWatchdog watch = watchdog(); // also for a connection no lock holds
        boolean reuseAddr = TcpRepair.enter(sock);
        repaired.put(sock, reuseAddr);
        watch.repaired(ino, reuseAddr);
        TcpRepair.Connection c = read(sock, local, remote, state);
        if (locked) {
            TcpRepair.leaveQuietly(sock, reuseAddr); // nothing sent: the lock would drop it anyway
            outOfRepair.add(sock);
        }
        return c;
    }

    /** The locks inside the tree's net namespaces ({@link #holdInside}), by the task that made each namespace. */
    private final Map<Integer, String> insideLocks = new LinkedHashMap<>();

    /**
     * Locks every TCP connection of the tree's in the net namespace made by {@code maker} (0: none) inside it, at the
     * first one the dump reads, in one transaction. Both ends are the tree's, frozen, and in repair mode once read,
     * but the kernel goes on trading their segments (queued or paced data, ACKs): bytes that reached an end after the
     * dump had read it were acknowledged to its peer, read after, whose image no longer held them (zdtm's
     * socket-tcpbuf6-local: lost at the restore, a stalled stream, or a window the restore refused with EINVAL).
     * The namespace's firewall was read before (its sockets are known from that scan). One bound on the host
     * outlives a kill: named by its path there, else by its maker's.
     */
    private void holdInside(int maker) {
        if (maker == 0 || insideLocks.containsKey(maker) || !NetworkLock.available()) {
            return;
        }
        List<NetworkLock.Flow> f = new ArrayList<>();
        boolean bound = boundNetns.containsKey(maker); // other programs' connections there pass
        for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
            diagIn(maker, q -> q.inetSockets(family, Sockets.IPPROTO_TCP)).values().stream()
                    .filter(d -> (REPAIRED_STATES & 1 << d.state()) != 0 && (!bound || holder(d.ino()) != null))
                    .forEach(d -> f.add(new NetworkLock.Flow(d.local(), d.remote())));
        }
        String at = bound ? boundNetns.get(maker) : dev.cryo.kernel.ExitedLeaders.proc(maker) + "/ns/net";
        String name = NetworkLock.inNamespace(lockTable + "_in", at);
        insideLocks.put(maker, name);
        watchdog().table(name);
        NetworkLock.lock(name, f);
    }

    /** Lifts {@link #holdInside}'s locks; {@code killed}: only those of namespaces bound on the host, which outlive the tree. */
    private void liftInside(boolean killed, List<String> problems) {
        insideLocks.forEach((maker, name) -> {
            if (!killed || boundNetns.containsKey(maker)) {
                try {
                    NetworkLock.unlock(name);
                } catch (RuntimeException e) {
                    problems.add("could not remove the network lock " + name + ": " + e.getMessage());
                }
            }
        });
        insideLocks.clear();
    }

    /** Sockets {@link #repair} took out of repair mode once read, held by the lock alone until {@link #killing}. */
    private final Set<Fd> outOfRepair = new LinkedHashSet<>();

    private static TcpRepair.Connection read(Fd sock, SockAddr local, SockAddr remote, int state) {
        if (state == SockDiag.TCP_SYN_SENT) {
            // the answer may have come before the lock held the flow: then it is established
            state = TcpSocketHandler.tcpState(sock);
            if (state == SockDiag.TCP_SYN_SENT) {
                return TcpRepair.readConnecting(sock);
            } else if (state != SockDiag.TCP_ESTABLISHED) {
                throw new KernelException("TCP connection attempt " + local + " -> " + remote + " ended while the"
                        + " dump read it (" + SockDiag.stateName(state) + ")");
            }
        }
        return TcpRepair.read(sock, TcpSocketHandler.finSent(state), state == SockDiag.TCP_FIN_WAIT2,
                TcpSocketHandler.finReceived(state));
    }

    private boolean lockedAhead;
    /** Released or abandoned: what a dumper still collecting meets afterwards is left alone. */
    private boolean ended;

    /** The TCP states {@link #repair} takes a connection in. */
    private static final int REPAIRED_STATES = 1 << SockDiag.TCP_ESTABLISHED | 1 << SockDiag.TCP_FIN_WAIT1
            | 1 << SockDiag.TCP_FIN_WAIT2 | 1 << SockDiag.TCP_CLOSE_WAIT | 1 << SockDiag.TCP_LAST_ACK
            | 1 << SockDiag.TCP_CLOSING | 1 << SockDiag.TCP_SYN_SENT;

    /**
     * Locks {@code first} with every other connection of the tree's in cryo's namespace, in one nft run:
     * with --tcp-established the dump repairs them all (or fails, and the lock goes), and an nft run
     * per connection, each with the table so far, made a server holding 380 connections frozen for 20 s.
     */
    private void lockAhead(NetworkLock.Flow first) {
        flows.add(first);
        if (options.tcpEstablished()) {
            for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
                for (SockDiag.InetSocket d : inet(family, Sockets.IPPROTO_TCP).values()) {
                    if ((REPAIRED_STATES & 1 << d.state()) != 0 && netnsOf(d.ino()) == 0 && holder(d.ino()) != null) {
                        flows.add(new NetworkLock.Flow(d.local(), d.remote()));
                    }
                }
            }
        }
        relock();
    }

    /** Whether {@link #release} or {@link #abandon} has run: the dump is over for its sockets. */
    public synchronized boolean ended() {
        return ended;
    }

    /** Whether {@code sock} is one of the sockets put in repair mode, which the dump's end takes out of it. */
    public synchronized boolean inRepair(Fd sock) {
        return repaired.containsKey(sock);
    }

    /**
     * The image is complete. A killed tree's connections vanish silently (their sockets close in
     * repair mode) and stay locked until the restore; a tree left running gets them back working.
     * {@code restoredHere}: the image is for a restore on this host (a dump, not a migration that
     * restores elsewhere); with --tcp-established the held listeners then stay held until the restore
     * too, so a client's new connection waits for the restored listener instead of being refused.
     */
    public synchronized void release(boolean killed, boolean restoredHere) {
        try {
            closeDiags();
            releaseHeld(killed, restoredHere);
        } finally {
            disarm();
        }
    }

    private void releaseHeld(boolean killed, boolean restoredHere) {
        if (killed) {
            ended = true;
            backIntoRepair(); // done by killing() already, unless a kill went another way
            repaired.keySet().forEach(Fd::close);
            repaired.clear();
            closeHeldTuns();
            List<String> problems = new ArrayList<>();
            liftInside(true, problems);
            problems.forEach(p -> org.slf4j.LoggerFactory.getLogger(SocketDumpState.class).warn("{}", p));
            if (migrating && !flows.isEmpty()) {
                resetClosing();
                liftAfterMigration();
            } else if ((!held.isEmpty() || !heldUdp.isEmpty()) && !(restoredHere && options.tcpEstablished())) {
                held.clear();
                heldUdp.clear();
                udplite.clear();
                if (flows.isEmpty()) {
                    NetworkLock.unlock(lockTable);
                } else {
                    NetworkLock.lock(lockTable, List.copyOf(flows));
                }
            }
            resetClosing();
        } else {
            abandon();
        }
    }

    /**
     * The migrated tree runs on the other host, which holds its connections now, and was killed here:
     * the lock goes once the killed namespaces' veth ends are gone with them (until then a peer's
     * packet could still reach a dying namespace, whose kernel would answer it with a reset), and the
     * peers' packets follow the addresses' routes to the other host.
     */
    private void liftAfterMigration() {
        flows.clear();
        held.clear();
        heldUdp.clear();
        udplite.clear();
        long deadline = System.nanoTime() + OUTER_ENDS_WAIT_NANOS;
        for (String end : outerEnds) {
            while (exists(end)) {
                if (System.nanoTime() > deadline) {
                    throw new KernelException("the tree runs on the other host, but veth " + end + " of its killed net"
                            + " namespace is still here, so the network lock " + lockTable + " stays and holds its"
                            + " connections' peers off; once " + end + " is gone, `nft delete table inet " + lockTable
                            + "` lets them reach the tree");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(5_000_000);
            }
        }
        NetworkLock.unlock(lockTable);
    }

    private static final long OUTER_ENDS_WAIT_NANOS = 10_000_000_000L;

    private static boolean exists(String device) {
        try {
            return java.net.NetworkInterface.getByName(device) != null;
        } catch (java.net.SocketException e) {
            throw new KernelException("cannot look for device " + device + ": " + e.getMessage(), e);
        }
    }

    /**
     * Connection {@code sock} is dumped closed (--tcp-close) and no lock holds it: cryo keeps it until
     * the dump ends, so that a killed tree's close is not the last and sends no FIN ({@link #release}).
     */
    public synchronized void closeAtKill(Fd sock) {
        if (ended) {
            sock.close();
            return;
        }
        closing.add(sock);
    }

    /**
     * Tun/tap device {@code device} is not persistent and {@code file}, cryo's copy of a file of the tree's attached
     * to it, may be its last: {@link #killing} makes it persistent right before the kill, so that it waits for the
     * restore; a tree that runs on (-R, a failed dump, cryo's death) finds it as it was. This object closes {@code file}.
     * A migration keeps none: its source is killed only once the copy runs on the destination, which then holds its own
     * file of any device it could find (made persistent, it outlived the migrated tree on the source's host).
     */
    public synchronized void persistAtKill(Fd file, String device) {
        if (ended || migrating) { // a dumper still collecting when the dump ended, or no restore to wait for
            file.close();
            return;
        }
        persistAtKill.add(new HeldTun(file, device));
    }

    private void closeHeldTuns() {
        persistAtKill.forEach(t -> t.file().close());
        persistAtKill.clear();
    }

    /**
     * The killed tree's connections dumped closed end with a reset (SO_LINGER 0 at cryo's last close):
     * closed with a FIN they would keep their ports for a minute (FIN_WAIT, TIME_WAIT), where a
     * listener without SO_REUSEADDR cannot bind again at the restore. The peer learns the connection
     * is gone, as the restored socket reads it reset.
     */
    private void resetClosing() {
        byte[] lingerZero = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.nativeOrder()).putInt(1).putInt(0).array();
        List<String> problems = new ArrayList<>();
        for (Fd s : closing) {
            try {
                Sockets.setBytes(s, Sockets.SOL_SOCKET, Sockets.SO_LINGER, lingerZero);
            } catch (KernelException e) {
                problems.add(e.getMessage()); // closed with a FIN: its port may linger
            } finally {
                s.close();
            }
        }
        closing.clear();
        if (!problems.isEmpty()) {
            throw new KernelException("could not reset connections dumped closed: " + String.join("; ", problems));
        }
    }

    /** The dump failed or the tree stays: connections leave repair mode and the lock goes. */
    public synchronized void abandon() {
        try {
            closeDiags();
            abandonHeld();
        } finally {
            disarm();
        }
    }

    private void abandonHeld() {
        ended = true;
        closing.forEach(Fd::close);
        closing.clear();
        closeHeldTuns();
        List<String> problems = new ArrayList<>();
        liftInside(false, problems); // first: the window probes of the ends leaving repair mode get through
        for (Map.Entry<Fd, Boolean> r : repaired.entrySet()) {
            Fd s = r.getKey();
            try {
                TcpRepair.leave(s, r.getValue());
            } catch (KernelException e) {
                problems.add(e.getMessage());
            } finally {
                s.close();
            }
        }
        repaired.clear();
        for (String at : boundFlows.keySet()) {
            try {
                NetworkLock.unlock(NetworkLock.inNamespace(lockTable, at));
            } catch (RuntimeException e) {
                problems.add("could not remove the network lock inside " + at + ": " + e.getMessage());
            }
        }
        boundFlows.clear();
        if (!flows.isEmpty() || !held.isEmpty() || !heldUdp.isEmpty()) {
            flows.clear();
            held.clear();
            heldUdp.clear();
            udplite.clear();
            NetworkLock.unlock(lockTable);
        }
        if (!problems.isEmpty()) {
            throw new KernelException("could not give the TCP sockets back as they were: " + String.join("; ", problems));
        }
    }

    /**
     * Before the freeze: new connections to the TCP listeners of {@code pids} (in this network
     * namespace) are held back, their SYNs dropped by the dump's network lock until the dump ends,
     * so the clients retransmit them a second later. The program, still running, can then empty
     * its accept queues, and no connection queues up during the freeze: a connection not accepted
     * yet cannot be carried (no socket of the program's holds it), and would refuse the dump.
     * Datagrams to the tree's bound UDP sockets are dropped from then on too: none lands in a queue
     * after cryo has read it, and once a killed tree's sockets are gone its clients see a lost
     * datagram, which they send again, instead of an ICMP "port unreachable", which they take as
     * refused. Returns the inodes of the listeners held, empty when there are none or nftables is missing.
     */
    public synchronized java.util.Set<Long> holdPorts(Collection<Pid> pids) {
        if (!NetworkLock.available()) {
            return java.util.Set.of();
        }
        Set<Long> inodes = socketsOf(pids).keySet();
        for (SockDiag.InetSocket l : listeners().values()) {
            if (inodes.contains(l.ino())) {
                held.put(l.ino(), l.local());
            }
        }
        try (SockDiag d = SockDiag.open()) {
            for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
                for (int proto : new int[] {Sockets.IPPROTO_UDP, Sockets.IPPROTO_UDPLITE}) {
                    for (SockDiag.InetSocket u : d.inetSockets(family, proto).values()) {
                        if (inodes.contains(u.ino()) && u.local().port() != 0) {
                            heldUdp.put(u.ino(), u.local());
                            if (proto == Sockets.IPPROTO_UDPLITE) {
                                udplite.add(u.ino());
                            }
                        }
                    }
                }
                if (options.tcpEstablished() && !lockedAhead) {
                    // the tree's connections are locked with its ports, before the freeze: the first repair then
                    // runs no nft in the frozen window (0.1-0.4 s here); what is dropped meanwhile is sent again
                    for (SockDiag.InetSocket c : d.inetSockets(family, Sockets.IPPROTO_TCP).values()) {
                        if ((REPAIRED_STATES & 1 << c.state()) != 0 && inodes.contains(c.ino())) {
                            flows.add(new NetworkLock.Flow(c.local(), c.remote()));
                        }
                    }
                }
            }
        }
        if (options.tcpEstablished() && !lockedAhead) { // and those of its containers through their veth
            flows.addAll(throughVethAhead(inodes));
        }
        lockedAhead = !flows.isEmpty(); // a connection made later is added by its repair, as before
        if (!held.isEmpty() || !heldUdp.isEmpty() || !flows.isEmpty()) {
            relock();
        }
        return java.util.Set.copyOf(held.keySet());
    }

    /**
     * The flows, as cryo's namespace sees them (the peer's end first, as {@link #repair} holds them), of the tree's
     * connections in its own net namespaces whose peer is outside ({@link #peerOutside}: through the namespace's
     * veth), read before the freeze through the namespaces' kept sockets ({@link #diags}). Locked then with the
     * others, the frozen repair of each adds nothing and runs no nft: that relock was 5-43 ms of a container's
     * migration downtime at load 15-19. One whose peer turns out to be inside its namespace, read frozen, is held
     * for nothing: its packets never pass here.
     */
    private List<NetworkLock.Flow> throughVethAhead(Set<Long> inodes) {
        List<NetworkLock.Flow> out = new ArrayList<>();
        for (SockDiag d : diags.values()) {
            for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
                Collection<SockDiag.InetSocket> all = d.inetSockets(family, Sockets.IPPROTO_TCP).values();
                for (SockDiag.InetSocket c : all) {
                    if ((REPAIRED_STATES & 1 << c.state()) != 0 && inodes.contains(c.ino())
                            && !c.remote().inetAddress().isLoopbackAddress()
                            && all.stream().noneMatch(o -> o.local().equals(c.remote()) && o.remote().equals(c.local()))) {
                        out.add(new NetworkLock.Flow(c.remote(), c.local()));
                    }
                }
            }
        }
        return out;
    }

    private void relock() {
        watchdog().table(lockTable);
        Set<SockAddr> udp = new LinkedHashSet<>(), lite = new LinkedHashSet<>();
        heldUdp.forEach((ino, a) -> (udplite.contains(ino) ? lite : udp).add(a));
        NetworkLock.lock(lockTable, List.copyOf(flows), List.copyOf(held.values()), List.copyOf(udp), List.copyOf(lite));
    }

    /**
     * The network lock a listener's or a UDP socket's record names for the restore to remove: the
     * dump's table when the socket is held and may stay held until the restore, else none.
     */
    public synchronized String portLock(long ino) {
        return (held.containsKey(ino) || heldUdp.containsKey(ino)) && options.tcpEstablished() ? lockTable : "";
    }

    /**
     * How many connections wait in the accept queues of the held listeners, or are still in their
     * handshake there (a SYN answered, no final ACK yet, or TCP_DEFER_ACCEPT waiting for the first
     * bytes), read afresh.
     */
    public synchronized int notAccepted() {
        int n = 0;
        List<SockDiag.InetSocket> requests = null;
        for (SockDiag.InetSocket l : listeners().values()) {
            if (held.containsKey(l.ino())) {
                if (requests == null) {
                    requests = requests();
                }
                n += l.rqueue() + halfOpen(l, requests);
            }
        }
        return n;
    }

    /** The request sockets (SYN_RECV, held by no file) of this network namespace, both families. */
    private static List<SockDiag.InetSocket> requests() {
        try (SockDiag d = SockDiag.open()) {
            return requests(d);
        }
    }

    /** The request sockets of the network namespace of {@code d}. */
    private static List<SockDiag.InetSocket> requests(SockDiag d) {
        List<SockDiag.InetSocket> out = new ArrayList<>(d.ownerless(SockAddr.AF_INET, 1 << SockDiag.TCP_SYN_RECV));
        out.addAll(d.ownerless(SockAddr.AF_INET6, 1 << SockDiag.TCP_SYN_RECV));
        return out;
    }

    private static int halfOpen(SockDiag.InetSocket l, List<SockDiag.InetSocket> requests) {
        boolean wildcard = l.local().inetAddress().isAnyLocalAddress();
        return (int) requests.stream().filter(r -> r.local().port() == l.local().port()
                && (wildcard || r.local().equals(l.local()))).count();
    }

    /**
     * Connections to listener {@code l} whose handshake has not completed (request sockets in
     * SYN_RECV, held by no file): no socket of the program's holds them yet, so they cannot be carried.
     */
    public synchronized int halfOpen(SockDiag.InetSocket l) {
        int creator = netnsOf(l.ino());
        return halfOpen(l, creator == 0 ? requests() : diagIn(creator, SocketDumpState::requests));
    }

    private static Map<Long, SockDiag.InetSocket> listeners() {
        Map<Long, SockDiag.InetSocket> out = new HashMap<>();
        try (SockDiag d = SockDiag.open()) {
            for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
                // polled every few ms while the program drains its queues: the kernel lists listeners only
                d.inetSockets(family, Sockets.IPPROTO_TCP, 1 << SockDiag.TCP_LISTEN).values().forEach(s -> out.put(s.ino(), s));
            }
        }
        return out;
    }

    /** The reuseport groups of each task's sockets (one BPF iterator run over its fd table), by fd, by pid. */
    private final Map<Integer, Map<Integer, ReuseportGroups.Member>> reuseport = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The reuseport groups of {@code pid}'s sockets, by fd: a task's read once (frozen, its table stands
     * still); cryo's own afresh, since the files in flight it takes to dump come and go in its table.
     */
    Map<Integer, ReuseportGroups.Member> reuseportGroups(Pid pid) {
        return pid.value() == ProcessHandle.current().pid() ? ReuseportGroups.of(pid.value())
                : reuseport.computeIfAbsent(pid.value(), ReuseportGroups::of);
    }

    /** The multicast groups joined in each net namespace of the tree's datagram and raw sockets, by family. */
    private final Map<NetnsFamily, List<dev.cryo.kernel.net.MulticastMemberships.HostGroup>> hostGroups =
            new java.util.concurrent.ConcurrentHashMap<>();

    private record NetnsFamily(long netns, int family) {}

    /**
     * The multicast groups ({@code family}'s) joined on the interfaces of the net namespace of {@code sock}, which
     * its options read its memberships among: read once per namespace and family, frozen (a tree's socket cannot
     * join or leave one meanwhile), on a thread that joined it. Read per socket, they were a thread and a setns
     * each: 2,000 bound UDP sockets were frozen 3.3 s, 1.5 ms a socket at load 2. {@code netns}: the
     * namespace's inode ({@link Sockets#netnsInode}).
     */
    List<dev.cryo.kernel.net.MulticastMemberships.HostGroup> hostGroups(Fd sock, long netns, int family) {
        return hostGroups.computeIfAbsent(new NetnsFamily(netns, family), k -> {
            try (Fd ns = Sockets.netns(sock)) {
                return dev.cryo.kernel.net.MulticastMemberships.groupsIn(ns, family);
            }
        });
    }

    /**
     * The signal owner (F_SETOWN_EX, F_SETSIG) of each socket of a task of the tree, read through the copy its
     * probe took, for the fd's record to take ({@link #signalOwner}): read through a copy of its own, it was a
     * second pidfd_getfd per socket, an eighth of a TCP connection's read (2,000 of them).
     */
    private final Map<FdProbe.Ref, java.util.Optional<FdOwner>> signalOwners = new java.util.concurrent.ConcurrentHashMap<>();

    /** Notes the signal owner of the socket of {@code fd}, read through {@code copy}; not cryo's own (in flight). */
    void noteSignalOwner(FdProbe fd, Fd copy) {
        if (fd.pid().value() != ProcessHandle.current().pid()) { // cryo's fd numbers come and go
            signalOwners.put(fd.ref(), java.util.Optional.ofNullable(FdOwner.of(copy, fd.pid(), fd.fd())));
        }
    }

    /** The signal owner of {@code fd} ({@link FdOwner#probe}): as its socket's probe read it, else read now. */
    public FdOwner signalOwner(FdProbe fd) {
        java.util.Optional<FdOwner> read = signalOwners.remove(fd.ref());
        return read != null ? read.orElse(null) : FdOwner.probe(fd.pid(), fd.fd(), fd.info().flags(), fd.target());
    }

    /** What each task's sockets hold that no getsockopt reads (one BPF iterator run over its fd table), by fd, by pid. */
    private final Map<Integer, Map<Integer, UnreadableSockState.Of>> unreadable = new java.util.concurrent.ConcurrentHashMap<>();

    /** What {@code pid}'s sockets hold that no getsockopt reads, by fd: read as {@link #reuseportGroups} are. */
    Map<Integer, UnreadableSockState.Of> unreadable(Pid pid) {
        return pid.value() == ProcessHandle.current().pid() ? UnreadableSockState.of(pid.value())
                : unreadable.computeIfAbsent(pid.value(), UnreadableSockState::of);
    }

    /** Per reuseport group dumped: its size, the indexes of the members dumped, and where its first member is. */
    private final Map<Integer, ReuseportSeen> reuseportSeen = new LinkedHashMap<>();

    private record ReuseportSeen(int members, Set<Integer> indexes, String first) {}

    /**
     * Notes member {@code m} of a reuseport group, dumped from an fd of the tree or in flight in a
     * message of one of its unix sockets; {@code where} names it ("pid N fd M: socket I").
     */
    synchronized void noteReuseportMember(ReuseportGroups.Member m, String where) {
        reuseportSeen.computeIfAbsent(m.group(), g -> new ReuseportSeen(m.members(), new java.util.HashSet<>(),
                where + " is member " + m.index())).indexes().add(m.index()); // a socket dup'ed counts once
    }

    /**
     * Once every task is collected: why a reuseport group the tree dumped has members it does not hold
     * (neither in an fd table nor in flight in a message of its own), or null. The restore would append
     * the tree's members to the others, or make them a group apart, and the kernel picks a member by its place.
     */
    public synchronized String reuseportGroupsIncomplete() {
        for (ReuseportSeen g : reuseportSeen.values()) {
            if (g.indexes().size() < g.members()) {
                return g.first() + " of a SO_REUSEPORT group of " + g.members() + " sockets, " + (g.members()
                        - g.indexes().size()) + " of them held outside the tree (the kernel picks a member by its place"
                        + " in the group, which the restore could not give back); not supported";
            }
        }
        return null;
    }

    /** Whether task {@code pid} is in this (cryo's) network namespace. */
    public static boolean inOurNetns(dev.cryo.kernel.Pid pid) {
        try {
            return Ours.NET.equals(java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/ns/net")).toString());
        } catch (java.io.IOException e) {
            throw new KernelException("cannot read the network namespace of pid " + pid + ": " + e.getMessage(), e);
        }
    }

    /** Whether a socket lives in this (cryo's) network namespace. */
    static boolean inOurNetns(Fd sock) {
        return ourNetns(Sockets.netnsInode(sock));
    }

    /** Whether the net namespace of inode {@code netns} is cryo's. */
    static boolean ourNetns(long netns) {
        return netns == Ours.INODE;
    }

    /** cryo's own net namespace (its main thread's, which never moves), read once: asked twice per connection. */
    private static final class Ours {
        static final String NET = read();
        static final long INODE = Long.parseLong(NET.substring(NET.indexOf('[') + 1, NET.indexOf(']')));

        private static String read() {
            try {
                return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/net")).toString();
            } catch (java.io.IOException e) {
                throw new KernelException("cannot read cryo's network namespace: " + e.getMessage(), e);
            }
        }
    }
}
