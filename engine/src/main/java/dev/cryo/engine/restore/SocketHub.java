package dev.cryo.engine.restore;

import dev.cryo.engine.files.PrivateModes;
import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.NetworkLock;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.engine.files.TcpSocketHandler;
import dev.cryo.engine.files.UnixSocketHandler;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.cryo.kernel.Fcntl.F_SETFD;
import static dev.cryo.kernel.Fcntl.F_SETFL;
import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_NONBLOCK;

/**
 * Every socket of the image, rebuilt by cryo itself before the FILES stage (pairs joined, names
 * bound, listeners listening, queues refilled, connections made or repaired), then planted into
 * each task that held it: sent over a unix socket with SCM_RIGHTS and received by an injected
 * recvmsg. A socket shared by several fds or tasks is built once and planted in each. Closed once
 * every task holds its sockets.
 */
public final class SocketHub implements AutoCloseable {
    /** The restore half of one socket kind, run by the hub in three passes over every socket. */
    public interface Kind<D extends FileDesc> {
        Class<D> type();

        long ino(D d);

        /** Whether this record carries the socket (the first fd met at dump). */
        boolean primary(D d);

        /** Pass 1: create, set options, bind, listen. */
        void create(D d, SocketHub hub);

        /** Its index in its SO_REUSEPORT group, the order pass 1 makes the group's members in (-1: in none). */
        default int reuseportIndex(D d) {
            return -1;
        }

        /** Pass 2: refill queues. */
        void connect(D d, SocketHub hub);

        /** Pass 3: connect, repair, shut down. */
        void finish(D d, SocketHub hub);
    }

    /** What planting needs from the task being restored. */
    public interface Remote {
        long call(String name, int nr, long... args);

        /** A call whose result matters only as success or failure and that reads no memory: may wait to run with the next. */
        default void later(String name, int nr, long... args) {
            call(name, nr, args);
        }

        /** Copies bytes at an offset of the task's scratch area; returns their address. */
        long put(long offset, byte[] data);

        byte[] read(long address, int len);

        /** The task's pid (0: unknown, taken to be in cryo's network namespace). */
        default int pid() {
            return 0;
        }
    }

    private final Map<Long, FileDesc> records = new LinkedHashMap<>();
    private final Map<Long, Fd> sockets = new HashMap<>();
    private final List<Runnable> later = new ArrayList<>();
    private final List<Path> madeDirs = new ArrayList<>();
    /** Directories made again for a socket file there at the dump, and that file: kept once the tree runs. */
    private final List<Path> madeForGood = new ArrayList<>();
    private final Map<Long, Path> reachAt = new HashMap<>();
    private final List<Path> hiddenFiles = new ArrayList<>();
    private final Map<Integer, Fd> anonymous = new HashMap<>();
    private final Map<String, Fd> formerSenders = new HashMap<>();
    private final Set<String> lockTables = new LinkedHashSet<>();
    private final boolean tcpClose;
    private Fd sender;

    private SocketHub(boolean tcpClose) {
        this.tcpClose = tcpClose;
    }

    /** Builds every socket of the image; {@code tcpClose}: established TCP connections come back closed. */
    public static SocketHub of(List<TaskImage> tasks, boolean tcpClose) {
        return of(tasks, tcpClose, List.of());
    }

    /**
     * Builds every socket of the image living in cryo's network namespace; those living in a net
     * namespace of the tree's ({@code nets}) wait for it to exist: {@link #buildInNamespaces}.
     */
    public static SocketHub of(List<TaskImage> tasks, boolean tcpClose,
                               List<dev.cryo.engine.namespaces.NetNamespaceImage> nets) {
        SocketHub hub = new SocketHub(tcpClose);
        Map<Long, Integer> netnsOf = new HashMap<>(), inViewHolders = new HashMap<>();
        nets.forEach(n -> n.sockets().forEach(ino -> netnsOf.put(ino, n.pid())));
        List<FileDesc> primaries = new ArrayList<>();
        for (TaskImage t : tasks) {
            for (FdImage fd : dev.cryo.engine.files.InFlightFiles.of(t)) {
                Kind<FileDesc> k = kind(fd.desc());
                if (k != null && t.creds().uids().size() > 1 && t.creds().gids().size() > 1) {
                    hub.holders.putIfAbsent(k.ino(fd.desc()), new Peer(new Sockets.Ucred(t.pid(), t.creds().uids().get(1),
                            t.creds().gids().get(1)), t.creds().groups()));
                }
                if (k != null && k.primary(fd.desc())) {
                    hub.records.put(k.ino(fd.desc()), fd.desc());
                    Integer ns = netnsOf.get(k.ino(fd.desc()));
                    boolean unix = fd.desc() instanceof dev.cryo.engine.files.UnixSocketHandler.UnixSocket;
                    boolean inView = unix && ((dev.cryo.engine.files.UnixSocketHandler.UnixSocket) fd.desc()).boundInOwnView();
                    if (inView && ns != null) { // a container's: its namespace's sockets are made seeing the files as it does
                        hub.deferred.computeIfAbsent(ns, x -> new ArrayList<>()).add(fd.desc());
                        hub.inViewOfNetns.computeIfAbsent(ns, x -> new HashMap<>()).put(k.ino(fd.desc()), t.pid());
                        hub.fsIdsOf.put(t.pid(), SocketViews.fsIds(t.creds()));
                    } else if (inView) {
                        hub.inViews.computeIfAbsent(t.pid(), x -> new ArrayList<>()).add(fd.desc());
                        inViewHolders.put(k.ino(fd.desc()), t.pid());
                    } else if (ns == null && unix) { // made once the tasks their peer credentials name exist
                        hub.afterFork.add(fd.desc());
                    } else if (ns == null) {
                        primaries.add(fd.desc());
                    } else {
                        hub.deferred.computeIfAbsent(ns, x -> new ArrayList<>()).add(fd.desc());
                    }
                }
            }
        }
        // the unnamed other end of a connection bound in its holder's own view (accepted from a listener closed since:
        // the pair is made through a listener of the moment bound to that name, there; zdtm's overmount_sock in a
        // container without a net namespace of its own) is made with it in that view
        for (java.util.Iterator<FileDesc> i = hub.afterFork.iterator(); i.hasNext(); ) {
            FileDesc end = i.next();
            var u = (dev.cryo.engine.files.UnixSocketHandler.UnixSocket) end;
            Integer holder = u.name().length == 0 ? inViewHolders.get(u.peerIno()) : null;
            if (holder != null) {
                i.remove();
                hub.inViews.get(holder).add(end);
            }
        }
        try {
            OwnFileLimit.roomFor(hub.records.size(), "sockets, which the restore builds in cryo's own process before"
                    + " handing each to its task");
            hub.build(primaries);
        } catch (RuntimeException e) {
            hub.close();
            throw new RestoreException("cannot rebuild the sockets: " + e.getMessage(), e);
        }
        return hub;
    }

    /**
     * Who a unix socket call names as the peer: pid (as cryo sees it), euid, egid (SO_PEERCRED) and
     * supplementary groups (SO_PEERGROUPS; null: not recorded, the caller's own); {@code inside}: the pid a
     * peer that had exited had in its holder's own pid namespace (null: none).
     */
    public record Peer(Sockets.Ucred creds, List<Integer> groups, UnixSocketHandler.PeerInside inside) {
        public Peer(Sockets.Ucred creds, List<Integer> groups) {
            this(creds, groups, null);
        }

        public static Peer of(Sockets.Ucred creds, List<Integer> groups, UnixSocketHandler.PeerInside inside) {
            return creds == null ? null : new Peer(creds, groups, inside);
        }
    }

    /** The tree's tasks once forked, each traced by a thread of its own. */
    public interface TaskCalls {
        /** Whether {@code pid} (as cryo sees it) is a task of the tree, forked and waiting. */
        boolean has(int pid);

        /** Runs {@code op} on the thread that traces task {@code pid} and returns its result (or throws its failure). */
        <T> T inTask(int pid, java.util.function.Function<Remote, T> op);
    }

    /** The tasks, while the sockets are built once the tree is forked. */
    private TaskCalls tasks;
    /** Processes at the pids of peers that had exited, while a build runs (one per build: its thread traces them). */
    private PeerCredStandIns standIns;
    /** The first task holding each socket: its pid, euid, egid and groups. */
    private final Map<Long, Peer> holders = new HashMap<>();

    /** The task of the image holding socket {@code ino} (pid, euid, egid, groups), or null. */
    public Peer holderCreds(long ino) {
        return holders.get(ino);
    }

    /** Whether a call naming {@code p} is made by the task of the tree at that pid. */
    private boolean inTask(Peer p) {
        return p != null && p.creds().present() && tasks != null && tasks.has(p.creds().pid());
    }

    /** Whether a call naming {@code p} is made by a stand-in at that pid (a process that had exited); else by cryo. */
    private boolean byStandIn(Peer p) {
        return p != null && p.creds().present() && standIns != null;
    }

    /** A unix pair, both ends naming {@code p} as their peer; null: cryo's own. */
    public Fd[] socketpair(int type, Peer p) {
        if (inTask(p)) {
            return madeAhead(type, p);
        }
        return byStandIn(p) ? standIns.socketpair(type, p) : Sockets.socketpair(SockAddr.AF_UNIX, type);
    }

    /** listen(): clients connecting next name {@code p} as their peer (null: cryo's own). */
    public void listen(Fd s, int backlog, Peer p) {
        if (inTask(p)) {
            TaskPeerCalls.listen(tasks, senderFor(p.creds().pid()), s, backlog, p);
        } else if (byStandIn(p)) {
            standIns.listen(s, backlog, p);
        } else {
            Sockets.listen(s, backlog);
        }
    }

    /** connect(): the server's end names {@code p} as its peer (null: cryo's own). */
    public void connect(Fd s, SockAddr to, Peer p) {
        if (inTask(p)) {
            TaskPeerCalls.connect(tasks, senderFor(p.creds().pid()), s, to, p);
        } else if (byStandIn(p)) {
            standIns.connect(s, to, p);
        } else {
            Sockets.connect(s, to);
        }
    }

    /**
     * Two stream or seqpacket sockets connected to each other, the first naming {@code first} as its
     * peer and the second {@code second}: connected through a listener of the moment, bound to an
     * abstract name of the kernel's choosing.
     */
    public Fd[] connectedPair(int type, Peer first, Peer second) {
        try (Fd l = Sockets.socket(SockAddr.AF_UNIX, type, 0)) {
            Sockets.bind(l, SockAddr.unix(new byte[0])); // autobind
            listen(l, 1, first);
            Fd c = Sockets.socket(SockAddr.AF_UNIX, type, 0);
            try {
                connect(c, Sockets.sockName(l), second);
                return new Fd[] {c, Sockets.accept(l, Sockets.SOCK_CLOEXEC)};
            } catch (RuntimeException e) {
                c.close();
                throw e;
            }
        }
    }

    /** Unix sockets of cryo's net namespace, built once the tree is forked: the tasks their peers name exist then. */
    private final List<FileDesc> afterFork = new ArrayList<>();
    /** Sockets of the tree's net namespaces, by the task that makes the namespace, built once it is forked. */
    private final Map<Integer, List<FileDesc>> deferred = new LinkedHashMap<>();
    /**
     * Net namespaces of the tree's (by maker) holding unix sockets bound in their holder's own view of
     * the files (a container's mount namespace and root; a pod's containers, one view each), with each
     * such socket's holder: the namespace's unix sockets are built view by view, seeing the files as the
     * holders do ({@link SocketViews}).
     */
    private final Map<Integer, Map<Long, Integer>> inViewOfNetns = new HashMap<>();
    /** Those holders' fs uid and gid, as the image has them: their view's sockets are bound as they would. */
    private final Map<Integer, int[]> fsIdsOf = new HashMap<>();
    /** Sockets bound in their holder's own mount namespace, by that holder's pid: built once it is forked. */
    private final Map<Integer, List<FileDesc>> inViews = new LinkedHashMap<>();
    /** The namespace whose sockets are being built (its maker's pid), 0 for cryo's. */
    private int building;

    /**
     * Once every task is forked (each net namespace of the tree's made anew, configured): the unix
     * sockets of cryo's net namespace; then each namespace's sockets, from a thread of cryo's inside
     * it; then the sockets bound in their holder's own mount namespace, from a thread of cryo's that
     * sees the files as that task does. A call whose peer is a task of the tree is made inside that
     * task ({@code tasks}), so the sockets name it (SO_PEERCRED, SO_PEERPIDFD, SO_PEERGROUPS).
     */
    /** Whether {@link #buildInNamespaces} has nothing to build (and so no call to make in any task). */
    public boolean nothingToBuildInNamespaces() {
        return afterFork.isEmpty() && deferred.isEmpty() && inViews.isEmpty();
    }

    public void buildInNamespaces(TaskCalls tasks) {
        this.tasks = tasks;
        try {
            buildAll();
        } finally {
            this.tasks = null;
            synchronized (pairsAhead) { // the pairs made ahead and not wanted
                pairsAhead.values().forEach(q -> q.forEach(pair -> {
                    pair[0].close();
                    pair[1].close();
                }));
                pairsAhead.clear();
                pairsNext.clear();
            }
        }
    }

    /**
     * Pairs made ahead in a task of the tree for a peer, a type and the build's net namespace: one by one,
     * each cost a message to the task's thread and back and a round trip (5.7 ms a pair for 2000 pairs at
     * load 21); made 1, 2, 4... up to {@link PeerCalls#MAX_PAIRS} at once, at most that many go unused.
     */
    private final Map<List<Object>, java.util.ArrayDeque<Fd[]>> pairsAhead = new HashMap<>();
    private final Map<List<Object>, Integer> pairsNext = new HashMap<>();

    private Fd[] madeAhead(int type, Peer p) {
        List<Object> key = List.of(type, p, java.util.Objects.toString(dev.cryo.kernel.Namespaces.link("thread-self", "net")));
        synchronized (pairsAhead) {
            java.util.ArrayDeque<Fd[]> made = pairsAhead.computeIfAbsent(key, k -> new java.util.ArrayDeque<>());
            if (made.isEmpty()) {
                int n = pairsNext.getOrDefault(key, 1);
                pairsNext.put(key, Math.min(2 * n, PeerCalls.MAX_PAIRS));
                made.addAll(TaskPeerCalls.socketpairs(tasks, senderFor(p.creds().pid()), type, p, n));
            }
            return made.poll();
        }
    }

    private void buildAll() {
        try {
            build(afterFork);
        } catch (RuntimeException x) {
            throw new RestoreException("cannot rebuild the unix sockets: " + x.getMessage(), x);
        }
        afterFork.clear();
        for (Map.Entry<Integer, List<FileDesc>> e : deferred.entrySet()) {
            try {
                Map<Long, Integer> inView = inViewOfNetns.get(e.getKey());
                dev.cryo.kernel.Namespaces.inside(dev.cryo.kernel.Pid.of(e.getKey()), "net", () -> {
                    building = e.getKey();
                    try {
                        if (inView == null) {
                            build(e.getValue());
                        } else { // its unix sockets from threads started here, which stay in this net namespace
                            java.util.Map<Boolean, List<FileDesc>> unix = e.getValue().stream().collect(
                                    java.util.stream.Collectors.partitioningBy(
                                            d -> d instanceof dev.cryo.engine.files.UnixSocketHandler.UnixSocket));
                            build(unix.get(false)); // the others may run nft, which a chroot'ed thread cannot start
                            for (Map.Entry<Integer, List<FileDesc>> v : SocketViews.split(unix.get(true), inView).entrySet()) {
                                if (v.getKey() == SocketViews.CRYOS) {
                                    build(v.getValue());
                                    continue;
                                }
                                dev.cryo.kernel.Namespaces.seenBy(dev.cryo.kernel.Pid.of(v.getKey()), () -> {
                                    SocketViews.asHolder(fsIdsOf.get(v.getKey()), () -> build(v.getValue()));
                                    return null;
                                });
                            }
                        }
                    } finally {
                        building = 0;
                    }
                    return null;
                });
            } catch (RuntimeException x) {
                throw new RestoreException("cannot rebuild the sockets of the net namespace of pid " + e.getKey() + ": "
                        + x.getMessage(), x);
            }
        }
        deferred.clear();
        for (Map.Entry<Integer, List<FileDesc>> e : inViews.entrySet()) {
            try {
                dev.cryo.kernel.Namespaces.seenBy(dev.cryo.kernel.Pid.of(e.getKey()), () -> {
                    build(e.getValue());
                    return null;
                });
            } catch (RuntimeException x) {
                throw new RestoreException("cannot bind the sockets of pid " + e.getKey() + " inside its mount namespace: "
                        + x.getMessage(), x);
            }
        }
        inViews.clear();
    }

    /** Network locks made inside the tree's net namespaces, by the namespace's maker. */
    private final Map<Integer, String> netnsLocks = new LinkedHashMap<>();
    /** Connection attempts made again in the tree's net namespaces, by the namespace's maker: held from their SYN on. */
    private final Map<Integer, List<NetworkLock.Flow>> attempts = new LinkedHashMap<>();

    /**
     * Holds connection attempt {@code local} -> {@code remote} of the net namespace being built (called on
     * the thread inside it) before it is made again: its SYN waits for the lock's removal once the tree
     * runs, as the dump's lock holds one of cryo's namespace, so a listener of the tree's there does not
     * answer it before.
     */
    public void holdAttempt(SockAddr local, SockAddr remote) {
        if (building == 0 || tcpClose || !NetworkLock.available()) {
            return;
        }
        List<NetworkLock.Flow> held = attempts.computeIfAbsent(building, x -> new ArrayList<>());
        held.add(new NetworkLock.Flow(local, remote));
        String table = "cryo_restore_" + ProcessHandle.current().pid() + "_" + building;
        try {
            NetworkLock.lock(table, held);
            netnsLocks.put(building, table);
        } catch (KernelException e) { // without it the attempt may complete before the tree runs, as before
            org.slf4j.LoggerFactory.getLogger(SocketHub.class).warn("the connection attempt {} -> {} is made again"
                    + " without a network lock: {}", local, remote, e.getMessage());
        }
    }

    /**
     * Locks the connections rebuilt in the tree's net namespaces, each inside its namespace (from a
     * thread of cryo's that joins it), as the dump's lock holds those of cryo's namespace: both ends
     * are the tree's and leave repair mode one after the other, so without it one end's FIN, sent by
     * its shutdown, reached the other before that one's own shutdown or the peer's FIN cryo gives
     * again (a connection closing both ways, CLOSING, came back LAST_ACK and the restore failed). One whose
     * record names a lock ({@code lockedOutside}) and whose peer is none of the namespace's ({@link #aloneInside})
     * is not: that lock holds its peer already.
     */
    private void lockInside() {
        if (tcpClose || !NetworkLock.available()) {
            return;
        }
        Map<Integer, List<NetworkLock.Flow>> flows = new LinkedHashMap<>();
        attempts.forEach((maker, f) -> flows.computeIfAbsent(maker, x -> new ArrayList<>()).addAll(f));
        for (Repaired r : repaired) {
            // one whose peer is outside (through the namespace's veth) is held already by the image's lock where
            // its packets pass; locked inside too, the resume of one such connection took 16-81 ms of a container's
            // migration downtime at load 15-19 (two threads joining its namespace, two nft transactions)
            if (r.netns() != 0 && r.local() != null && !(r.lockedOutside() && aloneInside(r))) {
                flows.computeIfAbsent(r.netns(), x -> new ArrayList<>()).add(new NetworkLock.Flow(r.local(), r.remote()));
            }
        }
        flows.forEach((maker, f) -> {
            String table = "cryo_restore_" + ProcessHandle.current().pid() + "_" + maker;
            try {
                dev.cryo.kernel.Namespaces.inside(dev.cryo.kernel.Pid.of(maker), "net", () -> {
                    NetworkLock.lock(table, f);
                    return null;
                });
                netnsLocks.put(maker, table);
            } catch (KernelException e) { // without it the ends are resumed as before; a state not reached is reported
                org.slf4j.LoggerFactory.getLogger(SocketHub.class).warn("the connections of the net namespace of pid {}"
                        + " are resumed without a network lock: {}", maker, e.getMessage());
            }
        });
    }

    /**
     * No other rebuilt connection of {@code r}'s namespace ends at its local address or starts at its remote one: its
     * peer is none of them. A NAT inside the namespace hides a peer's tuple from the dump (peerOutside then took a
     * DNATed connection of two of the tree's sockets for one through the veth, and its record names a lock that its
     * packets never meet): such a pair is locked inside as before. Errs only that way (a server's port shared).
     */
    private boolean aloneInside(Repaired r) {
        SockAddr local = r.local().unmapped(), remote = r.remote().unmapped();
        return repaired.stream().noneMatch(o -> o != r && o.netns() == r.netns() && o.local() != null
                && (local.equals(o.remote().unmapped()) || remote.equals(o.local().unmapped())));
    }

    /** The sockets of the build under way (one namespace's, or cryo's). */
    private final Set<Long> buildingNow = new java.util.HashSet<>();

    /** Whether socket {@code ino} is one of the build under way (the same namespace, the same view). */
    public boolean buildsNow(long ino) {
        return buildingNow.contains(ino);
    }

    /** The three passes over {@code primaries}, then the late steps. */
    private void build(List<FileDesc> primaries) {
        if (primaries.isEmpty()) {
            return;
        }
        try (PeerCredStandIns made = new PeerCredStandIns()) {
            standIns = made;
            buildWith(primaries);
        } finally {
            standIns = null;
        }
    }

    private void buildWith(List<FileDesc> all) {
        List<FileDesc> primaries = inReuseportOrder(all);
        buildingNow.clear();
        primaries.forEach(d -> buildingNow.add(kind(d).ino(d)));
        try {
            for (FileDesc d : primaries) {
                kind(d).create(d, this);
            }
            for (FileDesc d : primaries) {
                kind(d).connect(d, this);
            }
            for (FileDesc d : primaries) {
                kind(d).finish(d, this);
            }
            List<Runnable> steps = new ArrayList<>(later);
            later.clear();
            steps.forEach(Runnable::run);
        } catch (RuntimeException e) {
            later.clear();
            hiddenFiles.forEach(f -> f.toFile().delete()); // a failed restore leaves no file of its own behind
            throw e;
        } finally {
            reachAt.clear();
            hiddenFiles.clear();
            removeMadeDirs();
        }
    }

    /**
     * {@code primaries} with the members of SO_REUSEPORT groups, in the places members have, sorted by
     * their index: a member takes the next index as it binds (UDP) or listens (TCP), and the kernel picks
     * the socket of a datagram or connection by index (the flow's hash scaled to the members, or what
     * the group's program returns), so a group bound out of fd order came back with its flows swapped.
     */
    private static List<FileDesc> inReuseportOrder(List<FileDesc> primaries) {
        List<Integer> places = new ArrayList<>();
        List<FileDesc> members = new ArrayList<>();
        for (int i = 0; i < primaries.size(); i++) {
            FileDesc d = primaries.get(i);
            if (kind(d).reuseportIndex(d) >= 0) {
                places.add(i);
                members.add(d);
            }
        }
        if (members.size() < 2) {
            return primaries;
        }
        members.sort(java.util.Comparator.comparingInt(d -> kind(d).reuseportIndex(d))); // stable: groups apart keep theirs
        List<FileDesc> out = new ArrayList<>(primaries);
        for (int k = 0; k < places.size(); k++) {
            out.set(places.get(k), members.get(k));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Kind<FileDesc> kind(FileDesc d) {
        FdHandler<?> h = FdHandlers.of(d);
        return h instanceof Kind<?> k ? (Kind<FileDesc>) k : null;
    }

    private final Map<Long, Fd> orphanEnds = new HashMap<>();

    /** The other end of a pair made for socket {@code ino} whose peer had closed, kept until its queue is filled. */
    public void keepOrphanEnd(long ino, Fd end) {
        orphanEnds.put(ino, end);
    }

    public Fd takeOrphanEnd(long ino) {
        Fd end = orphanEnds.remove(ino);
        if (end == null) {
            throw new IllegalStateException("unix socket " + ino + ": no other end kept");
        }
        return end;
    }

    /** Fills the queue of a socket whose messages pass files, with cryo's fds of them ({@code passed}, per message). */
    public synchronized void fillPassing(dev.cryo.engine.files.UnixSocketHandler.UnixSocket u, List<List<Fd>> passed) {
        dev.cryo.engine.files.UnixSocketHandler.fillPassing(u, this, passed);
    }

    /** The sockets of the image this hub makes (those of the tree's net namespaces too). */
    public int size() {
        return records.size();
    }

    public boolean tcpClose() {
        return tcpClose;
    }

    public boolean has(long ino) {
        return sockets.containsKey(ino);
    }

    public Fd get(long ino) {
        return sockets.get(ino);
    }

    public void put(long ino, Fd s) {
        sockets.put(ino, s);
    }

    /** The record of another socket of the image, or null when the image has none of that kind. */
    public <D extends FileDesc> D record(long ino, Class<D> type) {
        FileDesc d = records.get(ino);
        return type.isInstance(d) ? type.cast(d) : null;
    }

    /** Every record of the image of that kind. */
    public <D extends FileDesc> List<D> records(Class<D> type) {
        return records.values().stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** Runs once every socket is connected. */
    public void later(Runnable r) {
        later.add(r);
    }

    /** A network lock (nftables table) to remove once the restored tasks run. */
    public void lockedBy(String table) {
        if (!table.isEmpty()) {
            lockTables.add(table);
        }
    }

    /** The hub's socket bound to a unix {@code name} of this type, a stand-in bound to it when that socket is gone, or an unnamed one of cryo's. */
    public Fd boundTo(byte[] name, int type) {
        if (name.length > 0) {
            SockAddr want = SockAddr.unix(name);
            for (Map.Entry<Long, Fd> e : sockets.entrySet()) {
                try {
                    if (want.equals(Sockets.sockName(e.getValue()))
                            && Sockets.getInt(e.getValue(), Sockets.SOL_SOCKET, Sockets.SO_TYPE) == type) {
                        return e.getValue();
                    }
                } catch (KernelException ignored) {
                    // not a unix socket
                }
            }
        }
        if (name.length > 0) {
            return formerSender(SockAddr.unix(name), type);
        }
        return anonymous.computeIfAbsent(type, t -> Sockets.socket(SockAddr.AF_UNIX, t, 0));
    }

    /**
     * A stand-in for a datagram sender closed since it sent (its messages wait unread): a socket
     * bound to its name, so the receiver still reads that name as the sender. A path-bound one has
     * its socket file removed at once (the name stays the socket's), and a file standing at the path
     * (the closed sender's own leftover) is moved aside for that instant and put back.
     */
    private Fd formerSender(SockAddr name, int type) {
        String key = type + ":" + name;
        Fd known = formerSenders.get(key);
        if (known != null) {
            return known;
        }
        Fd s = Sockets.socket(SockAddr.AF_UNIX, type, 0);
        try {
            bindFormerName(s, name);
        } catch (KernelException | IOException e) {
            s.close();
            throw new RestoreException("unread datagrams sent by " + name + " (a socket closed since) cannot be queued"
                    + " again from that name: " + e.getMessage());
        }
        formerSenders.put(key, s);
        return s;
    }

    /**
     * Names {@code s}, cryo's stand-in for the peer of unix socket {@code ino} that had closed, as that peer was:
     * the socket keeps naming it (getpeername) after it closes. An abstract name another socket holds now is left
     * out, warned: the socket then names no peer.
     */
    public void nameAsClosedPeer(Fd s, SockAddr name, long ino) {
        try {
            bindFormerName(s, name);
        } catch (KernelException | IOException e) {
            org.slf4j.LoggerFactory.getLogger(SocketHub.class).warn("unix socket {} names no peer now, where it named {},"
                    + " its peer that had closed: {}", ino, name, e.getMessage());
        }
    }

    /**
     * Datagram socket {@code s} connected by connect(2) (no peer credentials, as a socketpair would give) to {@code
     * peer}, cryo's stand-in for its peer that had closed, named as that one was ({@link #nameAsClosedPeer}); a name
     * another socket holds now is left out, warned, and the stand-in takes one of the kernel's choosing.
     */
    public void connectToClosedPeer(Fd s, Fd peer, SockAddr name, long ino) {
        try {
            if (name.isAbstract()) {
                Sockets.bind(peer, name);
                Sockets.connect(s, name);
            } else {
                bindAside(peer, "", name, null, () -> Sockets.connect(s, name));
            }
        } catch (KernelException | IOException e) {
            org.slf4j.LoggerFactory.getLogger(SocketHub.class).warn("unix socket {} names no peer now, where it named {},"
                    + " its peer that had closed: {}", ino, name, e.getMessage());
            Sockets.bind(peer, SockAddr.unix(new byte[0])); // autobind
            Sockets.connect(s, Sockets.sockName(peer));
        }
    }

    /** A closed socket's name (a path's file removed at once, whatever stood there put back). */
    private void bindFormerName(Fd s, SockAddr name) throws IOException {
        if (name.isAbstract()) {
            Sockets.bind(s, name);
        } else {
            bindAside(s, "", name, null);
        }
    }

    /**
     * Binds {@code s} to a path whose socket file is gone: the name stays the socket's, the file it
     * makes is removed at once, and whatever stands at the path is put back.
     */
    public void bindWithoutFile(Fd s, String dir, SockAddr name, String moveTo) {
        bindWithoutFile(s, dir, name, moveTo, null);
    }

    /** As above, {@code whileThere} (null: nothing) run while the file is at the path: a connect by it. */
    public void bindWithoutFile(Fd s, String dir, SockAddr name, String moveTo, Runnable whileThere) {
        try {
            bindAside(s, dir, name, moveTo, whileThere);
        } catch (IOException e) {
            throw new RestoreException("cannot bind a unix socket to " + name + " without its file: " + e.getMessage(), e);
        }
    }

    /**
     * Binds socket {@code ino} (a datagram socket or a listener) to a path whose socket file is gone:
     * its clients connect, and its senders send, by a file of it until every socket is connected and
     * every queue filled.
     * That file gets at once a hidden name beside it ({@link #hiddenReach}) and leaves the path,
     * so the path is free for another socket of the same name, and whatever stood there is put
     * back; the hidden file goes with the late steps. A file renamed since the bind ({@code
     * moveTo}) is renamed there at once and reached there.
     */
    public void bindUntilFilled(long ino, Fd s, String dir, SockAddr name, String moveTo) {
        Path path = fileOf(dir, name);
        Path hidden = moveTo != null ? Path.of(moveTo) : hiddenReach(path, ino);
        try {
            makeDirsFor(path);
            for (int k = 1; moveTo == null && hidden != null && Files.exists(hidden, LinkOption.NOFOLLOW_LINKS); k++) {
                Path other = hidden.resolveSibling(hiddenReach(path, ino).getFileName() + "." + k); // never over a file there
                if (k > 9 || other.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= SockAddr.SUN_PATH) {
                    throw new RestoreException("cannot bind a unix socket to " + name + " for a while: " + hidden
                            + " and the names after it are taken");
                }
                hidden = other;
            }
            Path aside = null;
            if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                aside = path.resolveSibling(".cryo-aside-" + System.nanoTime());
                Files.move(path, aside, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                bindIn(s, dir, name);
                if (moveTo != null) {
                    moveSocketFile(path, hidden);
                } else if (hidden != null) {
                    // a second name, the path's then removed: the socket's own file keeps its name, as the kernel
                    // shows it (SIOCUNIXFILE: "DIR/NAME (deleted)"), where a rename showed ".cryo-..." to the next
                    // dump, which then could not find the directory a relative name was bound in
                    Files.createLink(hidden, path);
                    hiddenFiles.add(hidden);
                    Files.delete(path);
                }
            } finally {
                if (aside != null && hidden != null) {
                    Files.move(aside, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                }
            }
            if (hidden != null) {
                reachAt.put(ino, hidden);
            }
            if (moveTo != null) {
                return;
            }
            Path moved = hidden == null ? aside : null; // too long a path for a hidden name: the file stays at the path
            Path file = hidden == null ? path : hidden;
            if (madeDirs.contains(file.toAbsolutePath().getParent())) {
                // the tasks' connects and sends reach it by an fd of it (past cryo's 0700 directory), as whoever they
                // are: in a user namespace of theirs, root there cannot write a socket file of cryo's (EACCES)
                Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
            }
            later.add(0, () -> { // first of the late steps: nothing after needs the file
                try {
                    Files.delete(file);
                    if (moved != null) {
                        Files.move(moved, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                    }
                } catch (IOException e) {
                    throw new RestoreException("cannot remove the socket file " + file + " again: " + e.getMessage(), e);
                }
            });
        } catch (IOException e) {
            throw new RestoreException("cannot bind a unix socket to " + name + " for a while: " + e.getMessage(), e);
        }
    }

    /**
     * Where a socket whose file is gone is reached while the sockets are built: a hidden
     * name beside its path; null when that path would not fit in {@code sun_path}.
     */
    public static Path hiddenReach(Path file, long ino) {
        Path hidden = file.resolveSibling(".cryo-" + Long.toString(ino, 36));
        return hidden.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length < SockAddr.SUN_PATH ? hidden : null;
    }

    /** The address socket {@code ino} is reached by while the sockets are built, when not its name. */
    public SockAddr reach(long ino) {
        Path at = reachAt.get(ino);
        return at == null ? null : SockAddr.unix(at.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private void bindAside(Fd s, String dir, SockAddr name, String moveTo) throws IOException {
        bindAside(s, dir, name, moveTo, null);
    }

    /** As above, {@code whileThere} run while the socket's file is at its path. */
    private void bindAside(Fd s, String dir, SockAddr name, String moveTo, Runnable whileThere) throws IOException {
        Path path = fileOf(dir, name);
        makeDirsFor(path);
        Path aside = null;
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            aside = path.resolveSibling(".cryo-aside-" + System.nanoTime());
            Files.move(path, aside, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        try {
            bindIn(s, dir, name);
            if (whileThere != null) {
                try {
                    whileThere.run();
                } catch (RuntimeException e) {
                    Files.delete(path);
                    throw e;
                }
            }
            if (moveTo == null) {
                Files.delete(path);
            } else {
                moveSocketFile(path, Path.of(moveTo));
            }
        } finally {
            if (aside != null) {
                Files.move(aside, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
        }
    }

    /**
     * The directories above {@code file} that are gone (removed after the bind, as zdtm's sk-unix01
     * does), made for the bind and removed again once the sockets are built: a socket's name is
     * only a path the kernel keeps, but the bind needs its directory.
     */
    private void makeDirsFor(Path file) throws IOException {
        java.util.Deque<Path> missing = new java.util.ArrayDeque<>();
        for (Path d = file.toAbsolutePath().getParent(); d != null && !Files.exists(d, LinkOption.NOFOLLOW_LINKS);
                d = d.getParent()) {
            missing.push(d);
        }
        while (!missing.isEmpty()) {
            Path d = missing.pop();
            Files.createDirectory(d, PrivateModes.DIR_ATTRIBUTE);
            madeDirs.add(d);
        }
    }

    /**
     * Makes the directories above {@code file}, a socket file that was there at the dump, that are
     * gone since (a program's temporary directory its exit removed: Python's multiprocessing
     * manager listens in /tmp/pymp-*, which a warmed-up interpreter dumped with -R and then ended
     * normally removes). The restored program's clients connect by that path, as before the dump,
     * so they stay: 0700 and owned by the socket file's owner, as mkdtemp makes them (their own
     * mode is not in the image). A failed restore removes them with the file.
     */
    public void makeGoneDirs(String file, int uid, int gid) {
        java.util.Deque<Path> missing = new java.util.ArrayDeque<>();
        for (Path d = Path.of(file).toAbsolutePath().getParent(); d != null && !Files.exists(d, LinkOption.NOFOLLOW_LINKS);
                d = d.getParent()) {
            missing.push(d);
        }
        synchronized (this) {
            if (missing.isEmpty()) {
                if (madeForGood.contains(Path.of(file).toAbsolutePath().getParent())) {
                    madeForGood.add(0, Path.of(file)); // another socket's directory made again: removed before it
                }
                return;
            }
            org.slf4j.LoggerFactory.getLogger(SocketHub.class).warn("{} is gone since the dump, and the unix socket {} was"
                    + " bound in it: made again (0700, owner {}:{}) for its clients to connect by that path",
                    missing.peekFirst(), file, uid, gid);
            List<Path> made = new ArrayList<>(List.of(Path.of(file))); // removed in this order if the restore fails
            while (!missing.isEmpty()) {
                Path d = missing.pop();
                try {
                    Files.createDirectory(d);
                } catch (IOException e) {
                    madeForGood.addAll(0, made.subList(1, made.size())); // those made so far go with a failed restore
                    throw new RestoreException("cannot make " + d + " again for the unix socket " + file + ": " + e.getMessage(), e);
                }
                made.add(1, d);
                Sys.chownChmod(d.toString(), uid, gid, 0700);
            }
            madeForGood.addAll(0, made);
        }
    }

    /** Removes the directories {@link #makeDirsFor} made, deepest first; one something else filled meanwhile stays. */
    private void removeMadeDirs() {
        for (int i = madeDirs.size() - 1; i >= 0; i--) {
            try {
                Files.deleteIfExists(madeDirs.get(i));
            } catch (IOException e) {
                org.slf4j.LoggerFactory.getLogger(SocketHub.class).warn("the directory {}, made to bind a socket in it,"
                        + " is left: {}", madeDirs.get(i), e.toString());
            }
        }
        madeDirs.clear();
    }

    /** The file of socket name {@code name}; a relative name is in {@code dir} (empty: an absolute name). */
    private static Path fileOf(String dir, SockAddr name) {
        String raw = new String(name.address(), java.nio.charset.StandardCharsets.UTF_8);
        Path path = Path.of(raw.indexOf(0) >= 0 ? raw.substring(0, raw.indexOf(0)) : raw);
        return dir.isEmpty() ? path : Path.of(dir).resolve(path);
    }

    /** bind(2) to {@code name}, a relative name in {@code dir}. */
    private static void bindIn(Fd s, String dir, SockAddr name) {
        if (dir.isEmpty()) {
            Sockets.bind(s, name);
        } else {
            Sockets.bindIn(s, dir, name);
        }
    }

    /** Unlinks a leftover socket file of a dead socket at {@code path} before binding it again. */
    /**
     * Renames a freshly bound socket file to where the dumped socket's file had been renamed; a socket file there
     * (never anything else) is set aside as for a bind ({@link #setAsideSocketFile}): a dead one, or that of a
     * migration's frozen source, put back should the restore fail.
     */
    public void moveSocketFile(Path from, Path to) {
        setAsideSocketFile(to.toString());
        try {
            Files.move(from, to, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new RestoreException("cannot rename the socket file " + from + " to " + to + ": " + e.getMessage(), e);
        }
    }

    /**
     * Clears {@code path} for a socket's bind: a socket file there (a stale one, or that of a migration's source
     * frozen on this host, which still listens by it) is renamed aside in its directory, removed once the tree is
     * restored ({@link #restored}) and put back if the restore fails ({@link #close}). It was removed: a migration
     * that failed after the destination's restore bound the path left its resumed source listening by no file, its
     * clients refused (ECONNREFUSED).
     */
    public void setAsideSocketFile(String path) {
        Path p = Path.of(path);
        try {
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!a.isOther()) {
                    throw new RestoreException(path + " exists and is not a socket file");
                }
                Path aside = p.resolveSibling(".cryo-aside-" + Long.toHexString(System.nanoTime()));
                Files.move(p, aside, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                synchronized (this) {
                    setAside.add(new Path[] {p, aside});
                }
            }
        } catch (IOException e) {
            throw new RestoreException("cannot move the old socket file " + path + " aside: " + e.getMessage(), e);
        }
    }

    /** Socket files moved aside for a bind: {path, where it went}. */
    private final List<Path[]> setAside = new ArrayList<>();

    public static void setOwner(String path, int uid, int gid, int mode) {
        Sys.chownChmod(path, uid, gid, mode);
    }

    /**
     * Puts socket {@code ino} into the task: an injected unix datagram socket bound to a one-off
     * abstract name receives it from cryo (SCM_RIGHTS). Returns its fd number in the task.
     */
    public long plant(long ino, int fdFlags, Remote r) {
        return plant(ino, fdFlags, r, null);
    }

    /** {@link #plant} through {@code in}, a receiver the task keeps for many (null: one of the moment). */
    public long plant(long ino, int fdFlags, Remote r, FdDelivery.Receiver in) {
        Fd s = handOver(ino, fdFlags);
        if (in != null) {
            return in.receive(r, senderFor(r.pid()), s, (fdFlags & O_CLOEXEC) != 0, "socket " + ino);
        }
        long got = FdDelivery.deliver(r, senderFor(r.pid()), s, "socket " + ino);
        if ((fdFlags & O_CLOEXEC) == 0) {
            r.call("fcntl(F_SETFD)", SyscallNr.FCNTL, got, F_SETFD, 0);
        }
        return got;
    }

    /** Socket {@code ino} as cryo holds it, for a task to take as it is; its O_NONBLOCK set from {@code fdFlags}. */
    public Fd handOver(long ino, int fdFlags) {
        Fd s = sockets.get(ino);
        if (s == null) {
            throw new RestoreException("socket " + ino + " was not rebuilt");
        }
        // O_NONBLOCK lives in the open file, which the task shares with cryo's copy
        Sys.call(() -> "fcntl(socket " + ino + ", F_SETFL)", SyscallNr.FCNTL, s.value(), F_SETFL, fdFlags & O_NONBLOCK, 0);
        return s;
    }

    /**
     * Sends {@code files} of cryo's into task {@code r} in one message, received by {@code in} with one
     * injected recvmsg; returns their fd numbers there, in order.
     */
    public int[] handIn(List<Fd> files, Remote r, FdDelivery.Receiver in, boolean cloexec, String what) {
        return in.receiveAll(r, senderFor(r.pid()), files, cloexec, what);
    }

    private record Repaired(Fd socket, dev.cryo.kernel.net.TcpRepair.Connection connection, boolean reuseAddr,
                            int state, SockAddr local, SockAddr remote, int netns, boolean lockedOutside) {}

    private final List<Repaired> repaired = new ArrayList<>();

    /**
     * A TCP connection rebuilt in repair mode; {@link #resumeConnections} makes it live and gives it
     * back its SO_REUSEADDR ({@code reuseAddr}), which leaving repair mode clears.
     */
    public void repaired(Fd s, dev.cryo.kernel.net.TcpRepair.Connection c, boolean reuseAddr) {
        repaired.add(new Repaired(s, c, reuseAddr, SockDiag.TCP_ESTABLISHED, null, null, building, false));
    }

    /**
     * {@link #repaired} of a connection dumped in {@code state}: one that had sent its FIN sends it
     * again once live, one that had received its peer's FIN gets it again, in the order the state
     * says (CLOSING: its own first; LAST_ACK: the peer's first). {@code lockedOutside}: its record names a
     * network lock (HeldConnections makes sure one holds it during the restore), so {@link #lockInside} makes
     * none for it.
     */
    public void repaired(Fd s, dev.cryo.kernel.net.TcpRepair.Connection c, boolean reuseAddr, int state,
                         SockAddr local, SockAddr remote, boolean lockedOutside) {
        repaired.add(new Repaired(s, c, reuseAddr, state, local, remote, building, lockedOutside));
    }

    /**
     * Takes the rebuilt connections out of repair mode, once every task holds its sockets and
     * before any task runs (a task reading a socket in repair mode would get EPERM). Returns how many.
     */
    public int resumeConnections() {
        lockInside();
        int resumed = repaired.size();
        for (Repaired r : repaired) {
            dev.cryo.kernel.net.TcpRepair.resume(r.socket(), r.connection(), r.reuseAddr());
            boolean sent = TcpSocketHandler.finSent(r.state()), received = TcpSocketHandler.finReceived(r.state());
            if (sent && r.state() != SockDiag.TCP_LAST_ACK) {
                Sockets.shutdown(r.socket(), Sockets.SHUT_WR);
            }
            if (received && r.netns() == 0) {
                peerFin(r, r.state() == SockDiag.TCP_CLOSING ? SockDiag.TCP_CLOSING : SockDiag.TCP_CLOSE_WAIT);
            } else if (received) { // its raw packet goes through the loopback of the connection's namespace
                dev.cryo.kernel.Namespaces.inside(dev.cryo.kernel.Pid.of(r.netns()), "net", () -> {
                    peerFin(r, r.state() == SockDiag.TCP_CLOSING ? SockDiag.TCP_CLOSING : SockDiag.TCP_CLOSE_WAIT);
                    return null;
                });
            }
            if (r.state() == SockDiag.TCP_LAST_ACK) {
                Sockets.shutdown(r.socket(), Sockets.SHUT_WR);
            }
        }
        repaired.clear();
        // every end has its FINs as dumped: what the lock dropped is sent again (the FINs, the window
        // probes), and the tasks' first window updates must not be lost; the attempts stay held
        unlockNamespaces(false);
        return resumed;
    }

    /** Delivers the peer's FIN again and waits (at most 2 s) until the socket has taken it: it is then in {@code until}. */
    private static void peerFin(Repaired r, int until) {
        dev.cryo.kernel.net.TcpRepair.Connection c = r.connection();
        dev.cryo.kernel.net.PeerFin.send(r.local(), r.remote(), c.recvSeq(), dev.cryo.kernel.net.TcpRepair.sendUnacked(c),
                dev.cryo.kernel.net.TcpRepair.peerWindow(c));
        long deadline = System.nanoTime() + 2_000_000_000L;
        int now;
        while ((now = tcpState(r.socket())) != until) {
            if (System.nanoTime() > deadline) {
                throw new RestoreException("TCP connection " + r.local() + " -> " + r.remote() + ": the peer's FIN, sent "
                        + "again, was not taken (state " + SockDiag.stateName(now) + ", not " + SockDiag.stateName(until) + ")");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
    }

    private static int tcpState(Fd s) {
        return Sockets.getBytes(s, Sockets.SOL_TCP, Sockets.TCP_INFO, 8)[0] & 0xff;
    }

    private record Deferred(Fd held, java.util.function.Consumer<Fd> action) {}

    private final List<Deferred> whenRestored = new ArrayList<>();

    /** {@code action} runs on {@code held} once the tree runs ({@link #restored}); a failed restore only closes it. */
    public synchronized void whenRestored(Fd held, java.util.function.Consumer<Fd> action) {
        whenRestored.add(new Deferred(held, action));
    }

    /** The tree is restored and runs: what waited for it is done (a tun device is no longer persistent...). */
    public synchronized void restored() {
        List<String> problems = new ArrayList<>();
        for (Deferred d : whenRestored) {
            try (Fd held = d.held()) {
                d.action().accept(held);
            } catch (RuntimeException e) {
                problems.add(e.getMessage());
            }
        }
        whenRestored.clear();
        madeForGood.clear(); // the tree's now
        synchronized (this) {
            for (Path[] a : setAside) {
                try {
                    Files.deleteIfExists(a[1]);
                } catch (IOException e) {
                    problems.add("the old socket file of " + a[0] + ", moved aside to " + a[1] + ", is left: " + e);
                }
            }
            setAside.clear();
        }
        if (!problems.isEmpty()) {
            throw new KernelException(String.join("; ", problems));
        }
    }

    /** Removes the network locks of the image's TCP connections: the restored sockets own them again. */
    public void unlockNetwork() {
        for (String t : lockTables) {
            NetworkLock.unlock(t);
        }
        lockTables.clear();
        unlockNamespaces(true);
    }

    /**
     * Removes the locks made inside the tree's net namespaces ({@link #lockInside}). Without {@code attemptsToo}
     * (the connections resumed, the tree not yet running) a namespace's lock keeps holding its connection
     * attempts ({@link #holdAttempt}): lifted there, a SYN sent again a second after the first, while the
     * restore's last steps ran, reached the restored listener before the tree ran.
     */
    private void unlockNamespaces(boolean attemptsToo) {
        for (var it = netnsLocks.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Integer, String> l = it.next();
            List<NetworkLock.Flow> held = attemptsToo ? null : attempts.get(l.getKey());
            dev.cryo.kernel.Namespaces.inside(dev.cryo.kernel.Pid.of(l.getKey()), "net", () -> {
                if (held == null) {
                    NetworkLock.unlock(l.getValue());
                } else {
                    NetworkLock.lock(l.getValue(), held); // the attempts alone
                }
                return null;
            });
            if (held == null) {
                it.remove();
            }
        }
        if (attemptsToo) {
            attempts.clear();
        }
    }

    public Set<String> lockTables() {
        return Set.copyOf(lockTables);
    }

    @Override
    public void close() {
        synchronized (this) {
            whenRestored.forEach(d -> d.held().close());
            whenRestored.clear();
            for (Path p : madeForGood) { // a failed restore: the socket files, then the directories made for them
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    org.slf4j.LoggerFactory.getLogger(SocketHub.class).warn("{}, made again for a socket, is left: {}", p,
                            e.toString());
                }
            }
            madeForGood.clear();
            for (int i = setAside.size() - 1; i >= 0; i--) { // a failed restore: each old file back, over the bound one
                Path[] a = setAside.get(i);
                try {
                    Files.move(a[1], a[0], java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) {
                    org.slf4j.LoggerFactory.getLogger(SocketHub.class).warn("the old socket file of {}, moved aside to {},"
                            + " could not be put back: {}", a[0], a[1], e.toString());
                }
            }
            setAside.clear();
        }
        sockets.values().forEach(Fd::close);
        sockets.clear();
        anonymous.values().forEach(Fd::close);
        anonymous.clear();
        formerSenders.values().forEach(Fd::close);
        formerSenders.clear();
        orphanEnds.values().forEach(Fd::close);
        orphanEnds.clear();
        if (sender != null) {
            sender.close();
        }
        nsSenders.values().forEach(Fd::close);
        nsSenders.clear();
    }

    /** Senders made inside the tree's own network namespaces, by namespace. */
    private final Map<String, Fd> nsSenders = new HashMap<>();

    /**
     * The socket that sends a planted socket to the task: abstract unix names belong to a network
     * namespace, so a task in one of its own (made by the tree) is reached from a sender made in it.
     */
    private synchronized Fd senderFor(int pid) {
        String theirs = FdDelivery.foreignNetns(pid);
        if (theirs != null) {
            return nsSenders.computeIfAbsent(theirs, k -> FdDelivery.senderIn(pid, theirs));
        }
        if (sender == null) {
            sender = FdDelivery.senderIn(0, null);
        }
        return sender;
    }
}
