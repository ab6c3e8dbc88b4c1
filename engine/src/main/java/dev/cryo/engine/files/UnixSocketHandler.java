package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.net.UnderMount;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Unix sockets, stream, datagram and seqpacket: unbound, bound to a path or an abstract name,
 * listening (with the connections not yet accepted), connected inside the tree (both ends and the
 * unread messages of both queues, in order), datagram sockets connected to an outside path with
 * --ext-unix-sk; shutdown state and options. What sock_diag says is the truth; the queues are
 * peeked through cryo's copy of the socket, with the files passed in them (SCM_RIGHTS: dumped like
 * any fd, see {@link InFlightFiles}) and the sender credentials they carry (SCM_CREDENTIALS).
 */
public final class UnixSocketHandler implements SocketFdHandler<UnixSocketHandler.UnixSocket> {
    public static final int TAG = 40, RECORD_ID = 191, MESSAGE_ID = 192;
    private static final int MAX_MESSAGE = 4 << 20, MAX_QUEUE = 100_000, MAX_PASSED = 253; // SCM_MAX_FD
    /** Supplementary groups of a peer (NGROUPS_MAX is 65536; more than the restore's scratch area holds is refused). */
    static final int MAX_GROUPS = 256;

    /**
     * {@code fileMode} of a stream or seqpacket socket bound to a path whose socket file was removed
     * or replaced since (another socket's file may stand there): bound again, its file removed at once.
     */
    public static final int FILE_GONE = -2;

    /**
     * One unread message (or run of stream bytes) and, for datagrams, the name of its sender;
     * {@code files}: the files passed with it (SCM_RIGHTS), in order, each dumped like an fd whose
     * number is its index; {@code credPid/Uid/Gid}: the credentials it carries (pid 0: none);
     * {@code senderGone}: that pid had exited by the dump (a log daemon's message from a {@code logger}
     * that is gone): a stand-in at the pid sends it again ({@link SenderStandIns}).
     */
    public record Message(byte[] data, byte[] from, List<FdImage> files, int credPid, int credUid, int credGid,
                          boolean senderGone) {
        public Message {
            files = List.copyOf(files);
        }

        public Message(byte[] data, byte[] from) {
            this(data, from, List.of(), 0, 0, 0, false);
        }

        Sockets.Ucred creds() {
            return credPid == 0 ? null : new Sockets.Ucred(credPid, credUid, credGid);
        }
    }

    /**
     * One unix socket. {@code peerIno} is the connected peer (0: none, or a peer that has gone);
     * {@code listenerIno} the listening socket a not-yet-accepted client waits on, whose {@code queue} is
     * then what it sent, waiting in its connection for the accept (images before v7: none); {@code external}
     * marks a peer outside the tree that {@code peerName} reconnects to. {@code primary}: this fd
     * carries the queue (a socket held by several fds is carried once). {@code bindDir}: the
     * directory a relative {@code name} was bound in ("" for an absolute or abstract name).
     * {@code movedTo}: where its socket file was renamed to since the bind (its name stays the
     * bound path, clients reach it by the new one: daemons bind a temporary name and rename it
     * over the real one, as supervisord does); "" when the file is at its name or gone.
     * {@code boundInOwnView}: its socket file is reached only through its holder's own mount namespace
     * (nscd's private bind mount over /var/run/nscd): bound again inside it, once the tree is forked.
     * {@code peerCreds}: SO_PEERCRED as the kernel recorded it (pid as cryo sees it; pid 0: none), made
     * again by the restore ({@code SocketHub}: inside that task of the tree, or a stand-in at a pid
     * that had exited); null in images of cryo before it carried them. {@code peerGroups}: SO_PEERGROUPS,
     * the groups recorded with them (null: not recorded, images before v4). {@code peerInside}: the pid
     * the peer, a process that had exited, had in the pid namespace of its holder's own (null: none, or
     * the holder sees pids as cryo does). {@code resetPending}: a stream socket whose peer closed with bytes it
     * had not read holds ECONNRESET the program has not read yet (images before v6: none). {@code underMount}: its
     * file is under a mount made since on a directory of its relative name (zdtm's overmount_sock), bound again there
     * through a clone of its directory's mount alone ({@link UnderMount}; images before v8: none). {@code closedClients}:
     * a listener's connections whose client has closed, one for each 0 of {@code pending}, in order ({@link
     * ClosedClients}; images before v9: none).
     */
    public record UnixSocket(long ino, int type, int state, byte[] name, long peerIno, byte[] peerName, boolean external,
                             long listenerIno, int backlog, long[] pending, int shutdown, boolean primary,
                             List<Message> queue, SocketOptions options, int fileUid, int fileGid, int fileMode,
                             String bindDir, String movedTo, boolean boundInOwnView, Sockets.Ucred peerCreds,
                             List<Integer> peerGroups, PeerInside peerInside, boolean resetPending, boolean underMount,
                             List<ClosedClients.Client> closedClients)
            implements FileDesc {
        public UnixSocket {
            queue = List.copyOf(queue);
            closedClients = List.copyOf(closedClients);
        }

        public UnixSocket(long ino, int type, int state, byte[] name, long peerIno, byte[] peerName, boolean external,
                          long listenerIno, int backlog, long[] pending, int shutdown, boolean primary,
                          List<Message> queue, SocketOptions options, int fileUid, int fileGid, int fileMode,
                          String bindDir, String movedTo, boolean boundInOwnView, Sockets.Ucred peerCreds,
                          List<Integer> peerGroups, PeerInside peerInside, boolean resetPending, boolean underMount) {
            this(ino, type, state, name, peerIno, peerName, external, listenerIno, backlog, pending, shutdown, primary,
                    queue, options, fileUid, fileGid, fileMode, bindDir, movedTo, boundInOwnView, peerCreds, peerGroups,
                    peerInside, resetPending, underMount, List.of());
        }

        public UnixSocket(long ino, int type, int state, byte[] name, long peerIno, byte[] peerName, boolean external,
                          long listenerIno, int backlog, long[] pending, int shutdown, boolean primary,
                          List<Message> queue, SocketOptions options, int fileUid, int fileGid, int fileMode,
                          String bindDir, String movedTo, boolean boundInOwnView, Sockets.Ucred peerCreds,
                          List<Integer> peerGroups) {
            this(ino, type, state, name, peerIno, peerName, external, listenerIno, backlog, pending, shutdown, primary,
                    queue, options, fileUid, fileGid, fileMode, bindDir, movedTo, boundInOwnView, peerCreds, peerGroups,
                    null, false, false);
        }

        /** This socket, its peer having had pid {@code inside.pid()} in the pid namespace of task {@code inside.holder()}. */
        UnixSocket withPeerInside(PeerInside inside) {
            return new UnixSocket(ino, type, state, name, peerIno, peerName, external, listenerIno, backlog, pending,
                    shutdown, primary, queue, options, fileUid, fileGid, fileMode, bindDir, movedTo, boundInOwnView,
                    peerCreds, peerGroups, inside, resetPending, underMount, closedClients);
        }

        /** Whether its unread messages pass files: its queue is filled once they are restored (FILES). */
        public boolean passesFiles() {
            return queue.stream().anyMatch(m -> !m.files().isEmpty());
        }

        /**
         * Whether the queue is filled once FILES made the tree's files and tasks: a message passes
         * files, or names a task of the tree as its sender (the kernel takes credentials only of a
         * pid that exists).
         */
        public boolean fillsLate() {
            return queue.stream().anyMatch(m -> !m.files().isEmpty() || m.creds() != null);
        }

        SockAddr address() {
            return SockAddr.unix(name);
        }

        /** Who socketpair(), listen() or connect() names as this socket's peer (SO_PEERCRED, SO_PEERGROUPS). */
        SocketHub.Peer peer() {
            return SocketHub.Peer.of(peerCreds, peerGroups, peerInside);
        }
    }

    /**
     * The pid a peer that had exited had in the pid namespace of task {@code holder} (a container's), which
     * the dump read by an SO_PEERCRED call made in the holder: its stand-in is made at that pid in there.
     */
    public record PeerInside(int holder, int pid) {}

    public static final RecordCodec<Message> MESSAGE_CODEC = RecordCodec.of(Message.class, MESSAGE_ID, 2, (out, m) -> {
        ModelFields.writeBytes(out, m.data(), MAX_MESSAGE, "UnixSocket.message");
        ModelFields.writeBytes(out, m.from(), 108, "UnixSocket.from");
        ModelFields.writeList(out, dev.cryo.engine.model.codec.FdImageCodec.INSTANCE, m.files(), MAX_PASSED,
                "UnixSocket.files");
        out.writeInt(m.credPid());
        out.writeInt(m.credUid());
        out.writeInt(m.credGid());
        out.writeBoolean(m.senderGone());
    }, (in, v) -> new Message(ModelFields.readBytes(in, MAX_MESSAGE, "UnixSocket.message"),
            ModelFields.readBytes(in, 108, "UnixSocket.from"),
            ModelFields.readList(in, dev.cryo.engine.model.codec.FdImageCodec.INSTANCE, MAX_PASSED, "UnixSocket.files"),
            in.readInt(), in.readInt(), in.readInt(), v >= 2 && in.readBoolean()));

    static final RecordCodec<UnixSocket> CODEC = RecordCodec.of(UnixSocket.class, RECORD_ID, 9, (out, u) -> {
        out.writeLong(u.ino());
        out.writeVarInt(u.type(), true);
        out.writeVarInt(u.state(), true);
        ModelFields.writeBytes(out, u.name(), 108, "UnixSocket.name");
        out.writeLong(u.peerIno());
        ModelFields.writeBytes(out, u.peerName(), 108, "UnixSocket.peerName");
        out.writeBoolean(u.external());
        out.writeLong(u.listenerIno());
        out.writeVarInt(u.backlog(), true);
        ModelFields.writeLongs(out, u.pending(), 65536, "UnixSocket.pending");
        out.writeVarInt(u.shutdown(), true);
        out.writeBoolean(u.primary());
        ModelFields.writeList(out, MESSAGE_CODEC, u.queue(), MAX_QUEUE, "UnixSocket.queue");
        RecordFields.writeRecord(out, SocketOptions.CODEC, u.options());
        out.writeInt(u.fileUid());
        out.writeInt(u.fileGid());
        out.writeInt(u.fileMode());
        ModelFields.writeText(out, u.bindDir(), ModelLimits.PATH, "UnixSocket.bindDir");
        ModelFields.writeText(out, u.movedTo(), ModelLimits.PATH, "UnixSocket.movedTo");
        out.writeBoolean(u.boundInOwnView());
        out.writeBoolean(u.peerCreds() != null);
        if (u.peerCreds() != null) {
            out.writeInt(u.peerCreds().pid());
            out.writeInt(u.peerCreds().uid());
            out.writeInt(u.peerCreds().gid());
        }
        out.writeBoolean(u.peerGroups() != null);
        if (u.peerGroups() != null) {
            ModelFields.writeInts(out, u.peerGroups(), MAX_GROUPS, "UnixSocket.peerGroups");
        }
        out.writeBoolean(u.peerInside() != null);
        if (u.peerInside() != null) {
            out.writeInt(u.peerInside().holder());
            out.writeInt(u.peerInside().pid());
        }
        out.writeBoolean(u.resetPending());
        out.writeBoolean(u.underMount());
        ClosedClients.write(out, u.closedClients());
    }, (in, v) -> new UnixSocket(in.readLong(), in.readVarInt(true), in.readVarInt(true),
            ModelFields.readBytes(in, 108, "UnixSocket.name"), in.readLong(),
            ModelFields.readBytes(in, 108, "UnixSocket.peerName"), in.readBoolean(), in.readLong(), in.readVarInt(true),
            ModelFields.readLongs(in, 65536, "UnixSocket.pending"), in.readVarInt(true), in.readBoolean(),
            ModelFields.readList(in, MESSAGE_CODEC, MAX_QUEUE, "UnixSocket.queue"),
            RecordFields.readRecord(in, SocketOptions.CODEC), in.readInt(), in.readInt(), in.readInt(),
            ModelFields.readText(in, ModelLimits.PATH, "UnixSocket.bindDir"),
            ModelFields.readText(in, ModelLimits.PATH, "UnixSocket.movedTo"), v >= 2 && in.readBoolean(),
            v >= 3 && in.readBoolean() ? new Sockets.Ucred(in.readInt(), in.readInt(), in.readInt()) : null,
            v >= 4 && in.readBoolean() ? ModelFields.readInts(in, MAX_GROUPS, "UnixSocket.peerGroups") : null,
            v >= 5 && in.readBoolean() ? new PeerInside(in.readInt(), in.readInt()) : null, v >= 6 && in.readBoolean(),
            v >= 8 && in.readBoolean(), v >= 9 ? ClosedClients.read(in) : List.of()));

    @Override
    public String kind() {
        return "unix socket";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<UnixSocket> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return SocketProbe.protoName(fd).startsWith("UNIX");
    }

    /**
     * The socket file of inode {@code vfsIno} when it is no longer at {@code bound} but was renamed
     * within the same directory; null when it is at its name, or gone.
     */
    static Path renamedFile(Path bound, long vfsIno) {
        Path dir = bound.getParent();
        if (vfsIno == 0 || dir == null || socketFileIno(bound) == vfsIno) {
            return null;
        }
        try (var entries = Files.newDirectoryStream(dir)) {
            for (Path e : entries) {
                if (socketFileIno(e) == vfsIno) {
                    return e;
                }
            }
        } catch (IOException | RuntimeException e) {
            return null; // an unreadable directory: treated as gone, as before
        }
        return null;
    }

    /**
     * The restore binds a socket again from cryo's own view of the files: a holder in a mount
     * namespace or under a root of its own (a private bind mount, a chroot) may reach its socket file
     * at the bound path where cryo finds another file or none. True when only the holder's view
     * reaches it: a stream or seqpacket socket in a mount namespace of its own (nscd's private
     * /var/run/nscd) is then bound again inside that namespace once the tree is forked. Refused under
     * a root of its own, for a datagram socket (its clients connect from cryo's view), a socket in a
     * net namespace of the tree's, and a socket file renamed since: it would come back behind a file
     * its clients never reach. A file gone in both views counts as the holder's when its directory is
     * one only the holder's view reaches (zdtm's del_standalone_un in its ns flavor): bound there again.
     */
    private static boolean onlyInOwnView(SocketProbe p, SocketDumpState st, SockDiag.UnixSocket d, String what, int pid,
                                         String path) throws IOException {
        Path f = Path.of(path);
        long vfsIno = d.vfsIno();
        if (vfsIno == 0 || !ownView(pid) || socketFileIno(f) == vfsIno || renamedFile(f, vfsIno) != null) {
            return false;
        }
        Pid holder = Pid.of(pid);
        Object dirHere = f.getParent() == null ? null : fileKey(f.getParent());
        int seen = Namespaces.seenBy(holder, () -> socketFileIno(f) == vfsIno ? 1 : renamedFile(f, vfsIno) != null ? 2
                : f.getParent() != null && fileKey(f.getParent()) != null && !fileKey(f.getParent()).equals(dirHere) ? 3 : 0);
        if (seen == 0) {
            return false; // gone in both views, its directory cryo's too
        }
        int netns = st.netnsOf(d.ino());
        String why = seen == 2 ? "it was renamed since the bind"
                : !Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/root")).toString().equals("/") ? "the task has a root of its own"
                : d.type() == Sockets.SOCK_DGRAM && netns == 0 ? clientOutsideView(st, d, pid)
                : d.type() == Sockets.SOCK_DGRAM ? clientElsewhere(st, d, netns)
                : null;
        String view = why == null && netns != 0 ? viewOf(pid) : null;
        String otherView = view == null ? null : peerInOtherView(st, d, view);
        if (otherView != null) {
            throw p.refuse(what + ": " + otherView);
        }
        if (why != null) {
            throw p.refuse(what + ": its socket file is reached through the task's own mount namespace or root, and"
                    + " cryo finds none at " + path + "; binding it again inside that view is not supported when " + why);
        }
        return true;
    }

    /**
     * A path-bound socket linked to {@code d} (its peer, one connected to it, a client waiting on it) whose
     * holder sees the files otherwise than d's ({@code view}), or null: each view's sockets are bound again
     * from a thread in that view, and the two ends of a connection are made again in one.
     */
    private static String peerInOtherView(SocketDumpState st, SockDiag.UnixSocket d, String view) throws IOException {
        java.util.Set<Long> waiting = new java.util.HashSet<>();
        for (long c : d.pendingConnections()) {
            waiting.add(c);
        }
        for (SockDiag.UnixSocket o : st.unix().values()) {
            boolean linked = o.ino() != d.ino()
                    && (o.ino() == d.peerIno() || o.peerIno() == d.ino() || waiting.contains(o.peerIno()));
            String holder = linked && o.name().length > 0 && !o.address().isAbstract() ? st.holder(o.ino()) : null;
            String other = holder == null ? null : viewOf(Integer.parseInt(holder.split(" ")[1]));
            if (other != null && !other.equals(view)) {
                return "it is connected to unix socket " + o.address() + " (" + holder + "), bound in another view of"
                        + " the files (" + other + ", its own " + view + "); the two ends of a connection are made"
                        + " again in one view: not supported";
            }
        }
        return null;
    }

    /**
     * A datagram socket bound in a container's own view (its net namespace's sockets are made again
     * together, seeing the files as it does): why a client connected to it cannot follow, or null.
     */
    /**
     * Why the datagram socket {@code d} of cryo's net namespace, bound where only its holder {@code pid}'s view of
     * the files reaches, cannot be made again inside that view, or null: its connected clients must be unnamed
     * sockets {@code pid} holds, which are then made and connected inside that view too ({@link #clientInView};
     * zdtm's sk-unix-mntns: a child's socket on its own tmpfs, at the path its parent's socket has on the host's).
     */
    private static String clientOutsideView(SocketDumpState st, SockDiag.UnixSocket d, int pid) {
        return st.unix().values().stream().filter(o -> o.ino() != d.ino() && o.peerIno() == d.ino())
                .filter(o -> !o.address().isUnbound() || st.holder(o.ino()) == null
                        || !st.holder(o.ino()).startsWith("pid " + pid + " "))
                .findFirst().map(o -> "it is a datagram socket of cryo's net namespace whose client, socket " + o.ino()
                        + (st.holder(o.ino()) == null ? " (held outside the tree)" : " (" + st.holder(o.ino()) + ")")
                        + (o.address().isUnbound() ? "" : ", bound to " + o.address()) + ", is made again in another"
                        + " view (only unnamed clients the same task holds are connected again inside its view)")
                .orElse(null);
    }

    /**
     * An unnamed datagram socket of cryo's net namespace connected to a socket bound where only its holder's view
     * of the files reaches (held by the same task: {@link #clientOutsideView}): made and connected inside that view.
     */
    private static boolean clientInView(SocketDumpState st, SockDiag.UnixSocket d, int pid) throws IOException {
        SockDiag.UnixSocket peer = d.peerIno() == 0 ? null : st.unix().get(d.peerIno());
        if (d.type() != Sockets.SOCK_DGRAM || !d.address().isUnbound() || peer == null || peer.vfsIno() == 0
                || st.netnsOf(d.ino()) != 0 || peer.address().isUnbound() || peer.address().isAbstract()) {
            return false;
        }
        String path = new String(peer.name(), StandardCharsets.UTF_8);
        Path f = Path.of(path);
        String holder = st.holder(peer.ino());
        return path.startsWith("/") && holder != null && holder.startsWith("pid " + pid + " ") && ownView(pid)
                && socketFileIno(f) != peer.vfsIno() && Namespaces.seenBy(Pid.of(pid), () -> socketFileIno(f)) == peer.vfsIno();
    }

    private static String clientElsewhere(SocketDumpState st, SockDiag.UnixSocket d, int netns) {
        return st.unix().values().stream().filter(o -> o.ino() != d.ino() && o.peerIno() == d.ino()
                        && st.holder(o.ino()) != null && st.netnsOf(o.ino()) != netns)
                .findFirst().map(o -> "its client, socket " + o.ino() + " (" + st.holder(o.ino()) + "), lives in another"
                        + " net namespace").orElse(null);
    }

    /** The directory a relative name was bound in; {@code onlyInView}: as the holder's own view names it, which cryo's does not reach. */
    /** {@code hidden}: its file is not at the path, yet not removed: a mount covers a directory on the path since. */
    private record BoundIn(String dir, boolean onlyInView, boolean hidden) {}

    /**
     * The directory a socket bound to the relative {@code name} was bound in, from the file the kernel
     * keeps for it (SIOCUNIXFILE), removed since or not; null when the kernel does not tell. A holder
     * that sees the files otherwise than cryo (a container's mount namespace) names it as it sees it:
     * the restore binds from cryo's view when that reaches the same directory there, else from the
     * holder's (zdtm's fifo_upon_unix_socket01 in its ns flavor). A file on a mount attached in neither view is one
     * cryo's restore bound under a mount through a clone of its directory's mount alone (UnderMount.bind): the kernel
     * names it from that clone's root, the directory bound in, which is taken to be the holder's cwd (the caller
     * checks the inode under the mount there; zdtm's overmount_sock dumped a second time).
     */
    private static BoundIn boundIn(SocketProbe p, String name, int pid, long vfsIno) throws IOException {
        try (Fd file = Sockets.unixFile(p.sock);
             Fd proc = Sys.open(dev.cryo.kernel.ExitedLeaders.proc(pid), Fcntl.O_PATH | Fcntl.O_DIRECTORY)) {
            boolean detached = !new MountReach(Pid.of(pid)).attached(Sys.mountId("/proc/self/fd/" + file.value()));
            if (!ownView(pid)) {
                String at = named(Files.readSymbolicLink(Path.of("/proc/self/fd/" + file.value())).toString(), name,
                        vfsIno, detached, proc), dir = dirOf(at, name);
                return dir == null ? null : new BoundIn(dir, false, hidden(at, dir, name, vfsIno));
            }
            try (Fd fds = Sys.open("/proc/self/fd", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY)) {
                Object[] seen = Namespaces.seenBy(Pid.of(pid), () -> {
                    String at = named(Sys.readlinkAt(fds, Integer.toString(file.value())), name, vfsIno, detached, proc),
                            dir = dirOf(at, name);
                    return new Object[] {dir, dir == null ? null : fileKey(Path.of(dir)),
                            dir != null && hidden(at, dir, name, vfsIno)};
                });
                String dir = (String) seen[0];
                return dir == null || seen[1] == null ? null
                        : new BoundIn(dir, !seen[1].equals(fileKey(Path.of(dir))), (Boolean) seen[2]);
            }
        } catch (dev.cryo.kernel.KernelException e) {
            return null;
        }
    }

    /**
     * The socket file's name {@code at} (a link's text), or, when it is on a {@code detached} mount and names no such
     * file in this thread's view, {@code name} under the holder's cwd ({@code proc}: its /proc directory).
     */
    private static String named(String at, String name, long vfsIno, boolean detached, Fd proc) {
        String dir = dirOf(at, name);
        return !detached || dir != null && !hidden(at, dir, name, vfsIno) ? at
                : Path.of(Sys.readlinkAt(proc, "cwd")).resolve(name).toString();
    }

    /** Whether socket file {@code at} (a link's text), not removed, is not what {@code dir}/{@code name} reaches now. */
    private static boolean hidden(String at, String dir, String name, long vfsIno) {
        return !at.endsWith(" (deleted)") && vfsIno != 0 && socketFileIno(Path.of(dir).resolve(name)) != vfsIno;
    }

    /** The directory of socket file {@code at} (a link's text) when it ends in {@code name}, or null. */
    private static String dirOf(String at, String name) {
        at = at.endsWith(" (deleted)") ? at.substring(0, at.length() - " (deleted)".length()) : at;
        Path dir = Path.of(at).getParent();
        if (at.startsWith("/") && dir != null && at.equals(dir.resolve(name).toString())) {
            return dir.toString();
        }
        // a name of more than one component ("overmount_sock.test/foo": zdtm's overmount_sock) ends the path whole
        String tail = "/" + Path.of(name).normalize();
        return at.startsWith("/") && at.endsWith(tail) && !name.startsWith("../") && !name.contains("/../")
                ? (at.length() == tail.length() ? "/" : at.substring(0, at.length() - tail.length())) : null;
    }

    /** A file's device and inode, or null when there is none at {@code f}. */
    private static Object fileKey(Path f) {
        try {
            return Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** The view of the files {@code pid} has: its mount namespace and its root. */
    private static String viewOf(int pid) throws IOException {
        return Namespaces.link(Integer.toString(pid), "mnt") + " "
                + Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/root"));
    }

    /** Whether {@code pid} sees the files otherwise than cryo: a mount namespace or a root of its own. */
    private static boolean ownView(int pid) throws IOException {
        return !Objects.equals(Namespaces.link(Integer.toString(pid), "mnt"), Namespaces.link("self", "mnt"))
                || !Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/root")).toString().equals("/");
    }

    private static long socketFileIno(Path f) {
        try {
            var a = Files.readAttributes(f, java.nio.file.attribute.PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return a.isOther() ? (Long) Files.getAttribute(f, "unix:ino", LinkOption.NOFOLLOW_LINKS) : -1;
        } catch (IOException e) {
            return -1;
        }
    }

    /** The messages queued at a seqpacket socket holding an error, counted without a receive (which would take it). */
    private static int queuedMessages(SocketProbe p, String what) {
        try {
            return dev.cryo.kernel.net.SockFields.QUEUED_MESSAGES.of(p.sock);
        } catch (RuntimeException e) {
            throw p.refuse(what + " holds an error the program has not read yet (ECONNRESET: its peer closed with bytes"
                    + " it had not read), and cryo cannot count its queued messages without taking it (" + e.getMessage()
                    + "); not supported");
        }
    }

    /**
     * The {@code queued} messages of a socket holding ECONNRESET, which any receive would take: read by cryo's BPF
     * iterator, as a peek with SO_PASSCRED on would see them. One that passes files is refused (they are not read so).
     */
    private static List<Sockets.Message> behindReset(SocketProbe p, String what, int queued) {
        String held = what + " holds an error the program has not read yet (ECONNRESET: its peer closed with bytes it"
                + " had not read, or connected elsewhere) with " + queued + " message" + (queued == 1 ? "" : "s")
                + " queued";
        if (queued > dev.cryo.kernel.net.ErroredQueues.MAX_MESSAGES) {
            throw p.refuse(held + "; cryo reads at most " + dev.cryo.kernel.net.ErroredQueues.MAX_MESSAGES
                    + " without a receive (a receive would take the error); not supported");
        }
        List<dev.cryo.kernel.net.ErroredQueues.Queued> read;
        try {
            read = dev.cryo.kernel.net.ErroredQueues.read(p.sock);
        } catch (RuntimeException e) {
            throw p.refuse(held + ", which cryo cannot read without a receive (" + e.getMessage() + "); not supported");
        }
        if (read.size() != queued) {
            throw p.refuse(held + ", of which cryo's BPF iterator read " + read.size() + "; not supported");
        }
        List<Sockets.Message> out = new ArrayList<>();
        for (var m : read) {
            if (m.passesFiles()) {
                throw p.refuse(held + ", one passing file descriptors (SCM_RIGHTS), which cryo cannot take without a"
                        + " receive; not supported");
            }
            if (m.data() == null) {
                throw p.refuse(held + ", one of " + m.length() + " bytes; cryo reads at most "
                        + dev.cryo.kernel.net.ErroredQueues.MAX_BYTES + " bytes of each without a receive; not supported");
            }
            out.add(new Sockets.Message(m.data(), m.length(), SockAddr.unix(m.from()), 0, List.of(), m.creds(), 0, null));
        }
        return out;
    }

    /**
     * What a client sent on a connection its listener has not accepted yet (php-fpm busy behind nginx): the bytes
     * wait in the server's end, which no process holds until accept(), read there by cryo's BPF iterator, with the
     * credentials the kernel stamped on them (the sender's, a task of the tree: sent again as that task's).
     */
    private static List<Message> sentNotAccepted(SocketProbe p, String what, DumpContext ctx, int shutdown) {
        String sent = what + ": its connection is not accepted yet and already carries data";
        List<dev.cryo.kernel.net.ErroredQueues.Queued> read;
        try {
            read = dev.cryo.kernel.net.ErroredQueues.notAccepted(p.sock);
        } catch (RuntimeException e) {
            throw p.refuse(sent + ", which sits in a socket no process holds yet, where cryo cannot read it ("
                    + e.getMessage() + "); not supported");
        }
        if (read.isEmpty()) {
            throw p.refuse(sent + ", which cryo's BPF iterator did not find; not supported");
        }
        List<Message> out = new ArrayList<>();
        for (var m : read) {
            if (m.passesFiles()) {
                throw p.refuse(sent + ", passing file descriptors (SCM_RIGHTS); not supported");
            }
            if (m.data() == null) {
                throw p.refuse(sent + ": " + m.unread() + "; not supported");
            }
            Sockets.Ucred c = m.creds();
            if (c.present() && !ctx.inTree(c.pid())) {
                throw p.refuse(sent + " with the credentials of pid " + c.pid() + ", which is not in the tree; not supported");
            }
            if (c.present() && shutdown != 0) { // sent once the tasks exist, after the restore's shutdown
                throw p.refuse(sent + " with credentials, and it is shut down; not supported");
            }
            out.add(c.present() ? new Message(m.data(), new byte[0], List.of(), c.pid(), c.uid(), c.gid(), false)
                    : new Message(m.data(), new byte[0]));
        }
        return out;
    }

    private static String typeName(int type) {
        return switch (type) {
            case Sockets.SOCK_STREAM -> "stream";
            case Sockets.SOCK_DGRAM -> "datagram";
            case Sockets.SOCK_SEQPACKET -> "seqpacket";
            default -> "type " + type;
        };
    }

    @Override
    public UnixSocket dump(FdProbe fd, DumpContext ctx) throws IOException {
        SocketDumpState st = ctx.sockets();
        try (SocketProbe p = SocketProbe.take(fd, ctx.sockets())) {
            SockDiag.UnixSocket d = st.unix().get(p.ino);
            if (d == null) {
                throw p.refuse("unix socket " + p.ino + " is not visible to sock_diag (another network namespace?)");
            }
            String what = "unix " + typeName(d.type()) + " socket " + d.address();
            if (d.type() != Sockets.SOCK_STREAM && d.type() != Sockets.SOCK_DGRAM && d.type() != Sockets.SOCK_SEQPACKET) {
                throw p.refuse(what + ": this socket type is not supported");
            }
            // a unix socket's only error, ECONNRESET: its peer closed with bytes it had not read, or a datagram peer
            // connected elsewhere. A stream or seqpacket end whose peer is gone is made again so (create); a stream's
            // queue is peeked up to its unread bytes only, which leaves the error (Sockets.peekQueue); any receive of
            // the others takes it first, so a seqpacket end's queue is read by cryo's BPF iterator (ErroredQueues).
            boolean resetPending = p.errorPending();
            boolean peerGone = d.peerIno() == 0 && d.state() == SockDiag.UNIX_ESTABLISHED;
            // a datagram socket whose peer, a socket of the tree, connected elsewhere with its messages unread:
            // made again so (a pair whose other end fills its queue, takes a byte and disconnects); its own queue may
            // hold datagrams of that peer only (no other may send to it once connected, to fill it again)
            boolean peerLeft = resetPending && d.type() == Sockets.SOCK_DGRAM && d.peerIno() != 0
                    && st.holder(d.peerIno()) != null && st.unix().containsKey(d.peerIno())
                    && st.unix().get(d.peerIno()).peerIno() != p.ino;
            int queued = resetPending && (peerGone && d.type() == Sockets.SOCK_SEQPACKET || peerLeft)
                    ? queuedMessages(p, what) : -1;
            if (resetPending && !(peerGone && d.type() != Sockets.SOCK_DGRAM || peerLeft)) {
                throw p.refuse(what + " holds an error the program has not read yet (ECONNRESET: its peer closed with"
                        + " bytes it had not read, or connected elsewhere); reading the queue would take it from the"
                        + " program; not supported" + (d.type() == Sockets.SOCK_STREAM ? "" : " for a " + typeName(d.type())
                        + " socket" + (queued > 0 ? " with " + queued + " message" + (queued == 1 ? "" : "s") + " queued"
                        : peerGone ? "" : " whose peer is still there")));
            }
            int uid = -1, gid = -1, mode = -1;
            String bindDir = "", movedTo = "";
            boolean ownView = clientInView(st, d, fd.pid().value()), inViewCwd = false, goneInView = false, underMount = false;
            SockAddr name = d.address();
            if (!name.isUnbound() && !name.isAbstract()) {
                String path = new String(d.name(), StandardCharsets.UTF_8);
                Path f = Path.of(path);
                if (!path.startsWith("/")) {
                    // bound relative to the binder's cwd then: found if it is the holder's cwd now
                    String cwd = Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(fd.pid().value()) + "/cwd")).toString();
                    f = Path.of(cwd).resolve(path);
                    Path at = f;
                    // the cwd as a container sees it (zdtm's sk-unix-rel in its ns flavor): bound again in that view below
                    inViewCwd = d.vfsIno() != 0 && socketFileIno(f) != d.vfsIno() && ownView(fd.pid().value())
                            && Namespaces.seenBy(fd.pid(), () -> socketFileIno(at)) == d.vfsIno();
                    if (!inViewCwd && (d.vfsIno() == 0 || !Files.exists(f, LinkOption.NOFOLLOW_LINKS)
                            || (Long) Files.getAttribute(f, "unix:ino", LinkOption.NOFOLLOW_LINKS) != d.vfsIno())) {
                        // the cwd moved since the bind (zdtm's fifo_upon_unix_socket01): the kernel names the directory
                        BoundIn bound = boundIn(p, path, fd.pid().value(), d.vfsIno());
                        String dir = bound == null ? null : bound.dir();
                        if (bound != null && bound.hidden()) {
                            // bound again under that mount, through a clone of the directory's mount alone
                            int[] under = ownConnectedPath(d, st) || reachedByNoneOfTheTree(d, st)
                                    ? Namespaces.seenBy(fd.pid(), () -> UnderMount.attrs(dir, path, d.vfsIno())) : null;
                            if (under == null) {
                                throw p.refuse(what + ": its socket file " + Path.of(dir).resolve(path) + " is covered by a"
                                        + " mount made on a directory of its path since the bind (overmounted); binding it"
                                        + " again underneath that mount is supported for a connection whose listener"
                                        + " has closed, a listener no connection of the tree came through or waits on,"
                                        + " and a datagram socket with nothing queued that no socket of the tree is"
                                        + " connected to, and only when the file is reached under the mount of " + dir);
                            }
                            underMount = ownView = true;
                            uid = under[0];
                            gid = under[1];
                            mode = under[2];
                        }
                        inViewCwd = bound != null && bound.onlyInView();
                        if (dir == null) {
                            throw p.refuse(what + ": bound to a relative path that is not its socket file in the cwd of pid "
                                    + fd.pid().value() + " (" + cwd + "), and the directory it was bound in is not found;"
                                    + " not supported");
                        }
                        cwd = dir;
                        f = Path.of(dir).resolve(path);
                    }
                    bindDir = cwd;
                }
                if (!underMount && (d.state() == SockDiag.UNIX_LISTEN || d.type() == Sockets.SOCK_DGRAM
                        || d.state() != SockDiag.UNIX_ESTABLISHED || ownConnectedPath(d, st))) {
                    // the socket's own file (an accepted socket only repeats its listener's name)
                    if ((bindDir.isEmpty() || inViewCwd) && onlyInOwnView(p, st, d, what, fd.pid().value(), f.toString())) {
                        ownView = true;
                        Path at = f;
                        int[] attrs = Namespaces.seenBy(fd.pid(), () -> socketFileIno(at) != d.vfsIno() ? null : new int[] {
                                (Integer) Files.getAttribute(at, "unix:uid", LinkOption.NOFOLLOW_LINKS),
                                (Integer) Files.getAttribute(at, "unix:gid", LinkOption.NOFOLLOW_LINKS),
                                (Integer) Files.getAttribute(at, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777});
                        goneInView = attrs == null;
                        if (attrs != null) {
                            uid = attrs[0];
                            gid = attrs[1];
                            mode = attrs[2];
                        }
                    }
                    if (inViewCwd && !ownView) {
                        throw p.refuse(what + ": bound to a name relative to " + bindDir + ", which only the holder's own"
                                + " view of the files reaches, and it cannot be bound again inside that view; not supported");
                    }
                    // a file gone with its directory (zdtm's sk-unix01) is bound in whichever view: the bind makes the
                    // directory (SocketHub.bindUntilFilled)
                    Path moved = ownView || !bindDir.isEmpty() || d.pendingConnections().length > 0 ? null
                            : renamedFile(f, d.vfsIno());
                    if (moved != null) {
                        movedTo = moved.toString();
                        f = moved;
                    }
                    if (ownView && !goneInView) {
                        // read in the task's view above
                    } else if (goneInView || !Files.exists(f, LinkOption.NOFOLLOW_LINKS)
                            || ((Long) Files.getAttribute(f, "unix:ino", LinkOption.NOFOLLOW_LINKS)) != d.vfsIno()) {
                        // nothing reaches a socket through a removed file; clients of the tree are
                        // rebuilt as pairs, but datagrams and pending connections go by the name
                        if (d.vfsIno() != 0 && d.pendingConnections().length > 0) {
                            throw p.refuse(what + ": its socket file was removed or replaced, which is not supported"
                                    + " while connections wait to be accepted");
                        }
                        if (d.vfsIno() != 0 && d.type() == Sockets.SOCK_DGRAM && SocketHub.hiddenReach(f, d.ino()) == null
                                && st.unix().values().stream().anyMatch(o -> o.ino() != d.ino() && o.type() == d.type()
                                && o.vfsIno() != 0 && Arrays.equals(o.name(), d.name()) && st.holder(o.ino()) != null)) {
                            // reached by its path for the restore's connects and sends when a hidden name
                            // beside it would not fit in sun_path: that needs the name for itself alone
                            throw p.refuse(what + ": its socket file was removed or replaced, another datagram socket"
                                    + " of the tree is bound to the same name, and the path is too long for a name"
                                    + " beside it; not supported for a datagram socket");
                        }
                        if (d.vfsIno() != 0) {
                            mode = FILE_GONE;
                        }
                    } else {
                        uid = (Integer) Files.getAttribute(f, "unix:uid", LinkOption.NOFOLLOW_LINKS);
                        gid = (Integer) Files.getAttribute(f, "unix:gid", LinkOption.NOFOLLOW_LINKS);
                        mode = (Integer) Files.getAttribute(f, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
                    }
                }
            }
            long[] pending = new long[0];
            int backlog = 0;
            List<ClosedClients.Client> closedClients = new ArrayList<>();
            if (d.state() == SockDiag.UNIX_LISTEN) {
                backlog = d.wqueue();
                pending = d.pendingConnections();
                for (int i = 0; i < pending.length; i++) {
                    long c = pending[i];
                    if (c == 0) { // the kernel names no peer once the connecting socket is closed
                        closedClients.add(ClosedClients.dump(p, what, i, ctx, fd.pid()));
                        continue;
                    }
                    if (st.holder(c) == null) {
                        throw p.refuse(what + ": a connection from unix socket " + c
                                + " outside the tree waits to be accepted; not supported");
                    }
                    SockDiag.UnixSocket cd = st.unix().get(c);
                    if (cd != null && cd.wqueue() > 0 && Sockets.getInt(p.sock, Sockets.SOL_SOCKET, Sockets.SO_PASSSEC) != 0) {
                        // its client's record carries the bytes and their credentials, not their security label
                        throw p.refuse(what + ": the connection from " + st.holder(c) + " is not accepted yet but"
                                + " already carries data, which the restore sends again, and the listener passes"
                                + " security labels (SO_PASSSEC), which would be cryo's; not supported");
                    }
                }
            }
            byte[] peerName = new byte[0];
            boolean external = false;
            long listener = 0;
            if (d.peerIno() != 0) {
                SockDiag.UnixSocket peer = st.unix().get(d.peerIno());
                peerName = peer == null ? new byte[0] : peer.name();
                if (d.type() == Sockets.SOCK_DGRAM && peerName.length > 0 && peerName[0] != 0 && peerName[0] != '/'
                        && st.holder(d.peerIno()) == null) {
                    // reconnected by name; a server of the tree is found in the directory it was bound in,
                    // one outside the tree would be looked for in cryo's cwd
                    throw p.refuse(what + " is connected to a datagram socket bound to the relative path "
                            + new String(peerName, StandardCharsets.UTF_8) + "; not supported");
                }
                if (st.holder(d.peerIno()) == null) {
                    String peerWhat = (peer == null || peer.address().isUnbound() ? "an unbound socket"
                            : peer.address().toString()) + " (socket " + d.peerIno() + ")";
                    boolean path = peer != null && !peer.address().isUnbound();
                    if (d.type() == Sockets.SOCK_DGRAM && path && st.options().extUnixSk()) {
                        external = true;
                    } else {
                        throw p.refuse(what + " is connected to " + peerWhat + " outside the tree"
                                + OutsideHolder.of("socket:[" + d.peerIno() + "]", ctx::inTree)
                                + (d.type() == Sockets.SOCK_DGRAM && path
                                ? "; --ext-unix-sk lets a datagram socket reconnect to it on restore" : "; not supported"));
                    }
                }
            } else if (d.state() == SockDiag.UNIX_ESTABLISHED && d.type() == Sockets.SOCK_DGRAM) { // (a named one: none,
                // ENOTCONN, when it is only a server another connected to)
                // connected to a datagram socket that closed: it names it until its next send (ECONNREFUSED)
                SockAddr gone = Sockets.peerName(p.sock);
                peerName = gone == null || gone.isUnbound() ? new byte[0] : gone.address();
            } else if (d.state() == SockDiag.UNIX_ESTABLISHED && d.type() != Sockets.SOCK_DGRAM) {
                for (SockDiag.UnixSocket l : st.unix().values()) {
                    if (l.state() == SockDiag.UNIX_LISTEN && Arrays.stream(l.pendingConnections()).anyMatch(c -> c == p.ino)) {
                        if (st.holder(l.ino()) == null) {
                            throw p.refuse(what + ": waits to be accepted by " + l.address() + " (socket " + l.ino()
                                    + ") outside the tree; not supported");
                        }
                        listener = l.ino();
                        peerName = l.name();
                    }
                }
                if (listener == 0) { // its peer closed: the kernel keeps it, and the name getpeername gives, until this end closes
                    SockAddr gone = Sockets.peerName(p.sock);
                    peerName = gone == null || gone.isUnbound() ? new byte[0] : gone.address();
                }
            }
            boolean primary = st.claim(p.ino);
            List<Message> queue = new ArrayList<>();
            // a stream or seqpacket socket never connected has no queue (recvmsg says EINVAL)
            boolean unconnected = d.type() != Sockets.SOCK_DGRAM && d.state() == SockDiag.UNIX_CLOSE;
            if (primary && d.state() != SockDiag.UNIX_LISTEN && !unconnected && queued != 0) {
                List<Sockets.Message> peeked = resetPending && d.type() != Sockets.SOCK_STREAM
                        ? behindReset(p, what, queued) : Sockets.peekQueue(p.sock, MAX_MESSAGE, true);
                List<Fd> passedSoFar = new ArrayList<>();
                try {
                    for (Sockets.Message m : peeked) {
                        if (m.length() > m.data().length) {
                            throw p.refuse(what + ": an unread message of " + m.length() + " bytes is too large");
                        }
                        Sockets.Ucred creds = m.creds();
                        boolean senderGone = false;
                        if (creds != null && creds.present() && !ctx.inTree(creds.pid())) {
                            String why = SenderStandIns.whyNot(creds.pid(), fd.pid());
                            if (why != null) {
                                throw p.refuse(what + ": an unread message carries the credentials of pid " + creds.pid()
                                        + ", " + why + "; not supported");
                            }
                            senderGone = true;
                        }
                        if (creds != null && creds.present()) {
                            String why = whyFilesCannotPass(d, st); // sent again as late as passed files
                            if (why != null) {
                                throw p.refuse(what + ": an unread message carries the credentials of pid " + creds.pid()
                                        + " of the tree; such a queue is filled again once the tasks exist, " + why);
                            }
                        }
                        List<FdImage> files = List.of();
                        if (m.fdsPassed() > 0) {
                            String why = whyFilesCannotPass(d, st);
                            if (why != null) {
                                throw p.refuse(what + ": its unread messages pass file descriptors (SCM_RIGHTS), " + why);
                            }
                            // a socket in flight itself is cryo's copy: its where would name cryo
                            String at = fd.pid().value() == ProcessHandle.current().pid() ? what
                                    : p.fd.where() + " (" + what + ")";
                            files = InFlightFiles.dump(p.ino, m.fds(), passedSoFar, ctx, fd.pid(), at);
                        }
                        byte[] from = d.type() == Sockets.SOCK_DGRAM && m.from().family() == SockAddr.AF_UNIX
                                ? m.from().address() : new byte[0];
                        queue.add(creds == null || !creds.present() ? new Message(m.data(), from, files, 0, 0, 0, false)
                                : new Message(m.data(), from, files, creds.pid(), creds.uid(), creds.gid(), senderGone));
                    }
                } finally {
                    peeked.forEach(m -> m.fds().forEach(Fd::close));
                }
            }
            if (primary && listener != 0 && d.wqueue() > 0) {
                queue.addAll(sentNotAccepted(p, what, ctx, d.shutdown()));
            }
            if (peerLeft) {
                byte[] leftName = st.unix().get(d.peerIno()).name();
                for (Message m : queue) {
                    if (!Arrays.equals(m.from(), leftName) || m.creds() != null || !m.files().isEmpty()) {
                        throw p.refuse(what + " holds an error the program has not read yet (ECONNRESET: its peer"
                                + " connected elsewhere) and a datagram " + (m.creds() != null ? "carrying credentials"
                                : !m.files().isEmpty() ? "passing files" : "from " + SockAddr.unix(m.from())
                                + ", not its peer") + "; only its peer's own datagrams can be queued again behind the"
                                + " reset; not supported");
                    }
                }
            }
            if (resetPending && !p.errorPending()) { // a bug: the program has lost it
                throw p.refuse(what + ": its ECONNRESET was taken by reading its queue");
            }
            SocketOptions opts = SocketOptions.dump(p.sock, SockAddr.AF_UNIX, d.type(), 0, true);
            Sockets.Ucred creds = peerCreds(p, fd.pid(), ctx, what);
            List<Integer> groups = creds.present() ? peerGroups(p, what) : List.of();
            checkGroupsCanBeMade(p, creds, groups, what);
            return new UnixSocket(p.ino, d.type(), d.state(), d.name(), d.peerIno(), peerName, external, listener, backlog,
                    pending, d.shutdown(), primary, queue, opts, uid, gid, mode, bindDir, movedTo, ownView, creds, groups,
                    null, resetPending, underMount, closedClients);
        } catch (DumpException e) {
            throw e;
        }
    }

    /**
     * A listener or datagram socket the restore need not reach by its file while it builds the tree's sockets (none of
     * them goes through it): a listener no connection waits on and no socket of the tree was accepted from (an
     * accepted end shares its file), a datagram socket with nothing queued that no socket of the tree is connected to.
     * Bound under a mount covering its file since, it is reached there only by the program's own clients once the
     * program unmounts the cover.
     */
    private static boolean reachedByNoneOfTheTree(SockDiag.UnixSocket d, SocketDumpState st) {
        boolean listener = d.state() == SockDiag.UNIX_LISTEN && d.pendingConnections().length == 0;
        boolean datagram = d.type() == Sockets.SOCK_DGRAM && d.rqueue() == 0;
        return (listener || datagram) && d.vfsIno() != 0 && st.unix().values().stream().noneMatch(o -> o.ino() != d.ino()
                && (o.peerIno() == d.ino() || o.vfsIno() == d.vfsIno() && o.vfsDev() == d.vfsDev()));
    }

    /**
     * A connected stream or seqpacket end (its peer there or gone) bound to a path of its own (a client that bound
     * before it connected), not an accepted end, which repeats its listener's name and shares its file (the same
     * inode: no listener of its net namespace has it). An accepted end whose listener has closed counts as one: bound
     * again, it names the same.
     */
    private static boolean ownConnectedPath(SockDiag.UnixSocket d, SocketDumpState st) {
        return d.type() != Sockets.SOCK_DGRAM && d.state() == SockDiag.UNIX_ESTABLISHED
                && d.vfsIno() != 0 && st.unix().values().stream()
                .noneMatch(l -> l.state() == SockDiag.UNIX_LISTEN && l.vfsIno() == d.vfsIno());
    }

    /**
     * SO_PEERCRED of the socket, which the restore makes again in that process: the task of the tree
     * itself, or a stand-in at the pid of one that had exited ({@code PeerCredStandIns}), in the holder's
     * pid namespace when it has one of its own. Refused when it names a process outside the tree that
     * still runs, or one that had exited while the holder's pid namespace cannot be read.
     */
    private static Sockets.Ucred peerCreds(SocketProbe p, Pid holder, DumpContext ctx, String what) {
        Sockets.Ucred c = Sockets.peerCred(p.sock);
        if (!c.present() || ctx.inTree(c.pid())) {
            return c;
        }
        String who = what + ": its peer credentials (SO_PEERCRED) name pid " + c.pid() + " (uid " + c.uid() + ", gid "
                + c.gid() + "), which is not in the tree and ";
        if (Files.exists(Path.of("/proc/" + c.pid()))) {
            throw p.refuse(who + "still runs; a restore could not make the socket in that process's name again");
        }
        String ns = SenderStandIns.outsideCryosPidNamespace(holder);
        if (ns != null && !ns.equals(SenderStandIns.OWN_PID_NAMESPACE)) {
            throw p.refuse(who + "has exited, and pid " + holder + " holding it " + ns + "; a restore makes a"
                    + " process at that pid only in cryo's pid namespace, where the holder would not see it");
        }
        return c; // in a pid namespace of the holder's own: its pid there is read in the holder (PeerCredsInside)
    }

    /** SO_PEERGROUPS, recorded with the peer credentials (made again with them). */
    private static List<Integer> peerGroups(SocketProbe p, String what) {
        int[] g = Sockets.peerGroups(p.sock);
        if (g.length > MAX_GROUPS) {
            throw p.refuse(what + ": its peer had " + g.length + " supplementary groups (SO_PEERGROUPS) at the call that"
                    + " made its peer credentials; more than " + MAX_GROUPS + " are not supported");
        }
        return Arrays.stream(g).boxed().toList();
    }

    /**
     * The restore makes the call behind the peer credentials in the task they name, with the groups it
     * gives it; in a user namespace that denies setgroups the task has its own groups for good, so peer
     * groups it no longer has (it dropped them before entering) cannot be made again: refused.
     */
    static void checkGroupsCanBeMade(SocketProbe p, Sockets.Ucred c, List<Integer> groups, String what) {
        if (!c.present()) {
            return;
        }
        String setgroups;
        List<Integer> now;
        try {
            setgroups = Files.readString(Path.of(dev.cryo.kernel.ExitedLeaders.proc(c.pid()) + "/setgroups")).strip();
            now = dev.cryo.kernel.proc.ProcFs.status(Pid.of(c.pid()), Pid.of(c.pid())).groups();
        } catch (java.io.IOException | RuntimeException gone) {
            return; // exited: a stand-in of cryo's makes the call, with any groups
        }
        if (setgroups.equals("deny") && !new java.util.TreeSet<>(now).equals(new java.util.TreeSet<>(groups))) {
            throw p.refuse(what + ": its peer credentials name pid " + c.pid() + " with supplementary groups " + groups
                    + " (SO_PEERGROUPS), which it no longer has (" + now + "), and its user namespace denies setgroups;"
                    + " a restore could not make them again");
        }
    }

    /**
     * Why the files passed in this socket's queue could not be passed again, or null: the queue is
     * filled late (once FILES restored them), which only a pair end or a datagram socket nobody
     * connected fills from its senders, none shut down.
     */
    private static String whyFilesCannotPass(SockDiag.UnixSocket d, SocketDumpState st) {
        SockDiag.UnixSocket peer = d.peerIno() == 0 ? null : st.unix().get(d.peerIno());
        boolean pair = peer != null && peer.peerIno() == d.ino() && st.holder(peer.ino()) != null;
        boolean named = d.type() == Sockets.SOCK_DGRAM && !d.address().isUnbound();
        boolean server = named && d.peerIno() == 0;
        boolean orphan = d.peerIno() == 0 && d.state() == SockDiag.UNIX_ESTABLISHED && !named; // its peer closed
        if (!pair && !server && !orphan) {
            return "which is supported for two sockets connected to each other, one whose peer closed and a named"
                    + " datagram socket not connected, not for this one";
        }
        if (!orphan && (d.shutdown() != 0 || (pair && peer.shutdown() != 0))) {
            return "and it or its peer is shut down; not supported";
        }
        return null;
    }

    @Override
    public void show(UnixSocket u, Map<String, Object> m) {
        m.put("kind", "unix socket");
        m.put("type", typeName(u.type()));
        m.put("inode", u.ino());
        m.put("state", u.state() == SockDiag.UNIX_LISTEN ? "listening" : u.state() == SockDiag.UNIX_ESTABLISHED
                ? "connected" : "unconnected");
        m.put("name", u.address().toString());
        if (u.peerIno() != 0 || u.external()) {
            m.put("peer", u.peerIno());
            m.put("peerName", SockAddr.unix(u.peerName()).toString());
        } else if (peerGone(u) && u.peerName().length > 0) {
            m.put("closedPeerName", SockAddr.unix(u.peerName()).toString()); // a peer of cryo's named so closes
        }
        if (u.external()) {
            m.put("external", true);
        }
        if (u.listenerIno() != 0) {
            m.put("waitsOnListener", u.listenerIno());
        }
        if (u.state() == SockDiag.UNIX_LISTEN) {
            m.put("backlog", u.backlog());
            m.put("pending", Arrays.stream(u.pending()).boxed().toList());
            if (!u.closedClients().isEmpty()) { // the 0s of pending: connected again in the client's name, then closed
                m.put("closedClientsWaiting", u.closedClients().stream().map(c -> c.creds().pid() + ": "
                        + c.sent().stream().mapToInt(x -> x.data().length).sum() + " bytes").toList());
            }
        }
        if (u.shutdown() != 0) {
            m.put("shutdown", u.shutdown());
        }
        if (u.resetPending()) {
            m.put("unreadError", "ECONNRESET"); // made again by its peer's close with a byte unread
        }
        if (u.fileMode() == FILE_GONE) {
            m.put("socketFile", "removed");
        }
        if (!u.movedTo().isEmpty()) {
            m.put("socketFile", u.movedTo());
        }
        if (u.boundInOwnView()) {
            m.put("boundInOwnMountNamespace", true); // bound again inside its holder's mount namespace
        }
        if (u.peerCreds() != null && u.peerCreds().present()) { // SO_PEERCRED, made again at that pid
            Map<String, Object> creds = new java.util.LinkedHashMap<>();
            creds.put("pid", u.peerCreds().pid());
            creds.put("uid", u.peerCreds().uid());
            creds.put("gid", u.peerCreds().gid());
            if (u.peerGroups() != null) { // SO_PEERGROUPS, made again with them
                creds.put("groups", u.peerGroups());
            }
            if (u.peerInside() != null) { // its stand-in is made at that pid in the holder's pid namespace
                creds.put("pidInside", u.peerInside().pid());
                creds.put("pidNamespaceOf", u.peerInside().holder());
            }
            m.put("peerCredentials", creds);
        }
        m.put("queuedMessages", u.queue().size());
        m.put("queuedBytes", u.queue().stream().mapToInt(x -> x.data().length).sum());
        if (u.passesFiles()) {
            List<Object> passed = new ArrayList<>();
            for (Message x : u.queue()) {
                for (FdImage f : x.files()) {
                    passed.add(FdHandlers.show(f.desc()));
                }
            }
            m.put("passedFiles", passed);
        }
        long withCreds = u.queue().stream().filter(x -> x.credPid() != 0).count();
        if (withCreds > 0) {
            m.put("messagesWithCredentials", withCreds);
        }
        List<Integer> gone = u.queue().stream().filter(Message::senderGone).map(Message::credPid).distinct().toList();
        if (!gone.isEmpty()) {
            m.put("sendersGone", gone); // made again at these pids for the send (SenderStandIns)
        }
        m.put("options", u.options().show());
    }

    // ---- restore half: built by cryo in SocketHub, then planted into the task --------------------

    @Override
    public Class<UnixSocket> type() {
        return UnixSocket.class;
    }

    @Override
    public long ino(UnixSocket u) {
        return u.ino();
    }

    @Override
    public boolean primary(UnixSocket u) {
        return u.primary();
    }

    /** Creates the socket (and, for a pair inside the tree, its peer too), binds and listens. */
    @Override
    public void create(UnixSocket u, SocketHub hub) {
        if (hub.has(u.ino())) {
            return; // made with its peer
        }
        UnixSocket peer = u.peerIno() == 0 ? null : hub.record(u.peerIno(), UnixSocket.class);
        UnixSocket reset = u.type() != Sockets.SOCK_DGRAM ? null : resetByItsPeer(u, peer) ? u : resetHere(u, hub);
        if (reset != null) {
            makeReset(reset, hub.record(reset.peerIno(), UnixSocket.class), hub);
            return;
        }
        if (isPair(u, peer) && connectsByName(u) && connectsByName(peer)) {
            // two named datagram sockets connected to each other by connect(): no peer credentials
            Fd a = Sockets.socket(SockAddr.AF_UNIX, u.type(), 0), b = Sockets.socket(SockAddr.AF_UNIX, u.type(), 0);
            hub.put(u.ino(), a);
            hub.put(peer.ino(), b);
            u.options().apply(a);
            peer.options().apply(b);
            bindPairEnd(a, u, hub);
            bindPairEnd(b, peer, hub);
            connectTo(a, peer);
            connectTo(b, u);
            return;
        }
        if (isPair(u, peer)) {
            Fd[] pair = makePair(u, peer, hub);
            u.options().apply(pair[0]);
            peer.options().apply(pair[1]);
            hub.put(u.ino(), pair[0]);
            hub.put(peer.ino(), pair[1]);
            bindPairEnd(pair[0], u, hub);
            bindPairEnd(pair[1], peer, hub);
            return;
        }
        if (peerGone(u)) {
            // connected once, the peer has gone: a pair whose other end is closed after the queue is filled, named
            // as the gone peer was (getpeername still gives its name): a listener's name by that listener itself
            UnixSocket l = listenerOf(u, hub); // an accepted end keeps its listener's name
            UnixSocket server = l == null ? listenerNamed(u.type(), u.peerName(), hub) : null; // its accepted end closed
            // a datagram socket connected by connect(2) names no peer credentials, which a socketpair would give; its
            // queue is sent through a pair (its stand-in peer cannot reach it unbound otherwise)
            boolean connected = u.type() == Sockets.SOCK_DGRAM && u.peerName().length > 0 && u.queue().isEmpty()
                    && (u.peerCreds() == null || !u.peerCreds().present());
            Fd[] pair = l != null ? reversed(throughListener(l, l.peer(), u.peer(), hub))
                    : server != null ? throughListener(server, u.peer(), null, hub)
                    : connected ? new Fd[] {Sockets.socket(SockAddr.AF_UNIX, u.type(), 0), Sockets.socket(SockAddr.AF_UNIX,
                    u.type(), 0)} : hub.socketpair(u.type(), u.peer());
            if (l == null) {
                bindConnectedEnd(pair[0], u, hub); // its own name (a sender with SO_PASSCRED autobinds)
            }
            SockAddr goneName = SockAddr.unix(server != null ? new byte[0] : u.peerName());
            // an abstract name is held until that peer closes: taken as late as can be; a path's file is removed at once
            boolean late = goneName.isAbstract() && !u.fillsLate() && u.type() != Sockets.SOCK_DGRAM; // its datagrams come from it
            if (connected) {
                hub.connectToClosedPeer(pair[0], pair[1], goneName, u.ino());
            } else if (!goneName.isUnbound() && !late) {
                hub.nameAsClosedPeer(pair[1], goneName, u.ino());
            }
            u.options().apply(pair[0]);
            hub.put(u.ino(), pair[0]);
            if (u.fillsLate()) { // filled once FILES made the files: fillPassing
                hub.keepOrphanEnd(u.ino(), pair[1]);
                return;
            }
            hub.later(() -> {
                fill(pair[1], u, hub, null);
                unreadAtClose(pair[0], u);
                if (late) {
                    hub.nameAsClosedPeer(pair[1], goneName, u.ino());
                }
                pair[1].close(); // shuts a stream or seqpacket end down as the peer's close did
                shutDown(pair[0], u);
            });
            return;
        }
        Fd s = Sockets.socket(SockAddr.AF_UNIX, u.type(), 0);
        hub.put(u.ino(), s);
        u.options().apply(s);
        bindOwnName(s, u, hub);
        if (u.state() == SockDiag.UNIX_LISTEN) {
            hub.listen(s, u.backlog(), u.peer());
        }
    }

    /** Binds {@code s} to {@code u}'s own name, its socket file as it was (gone, renamed, its owner and mode). */
    private static void bindOwnName(Fd s, UnixSocket u, SocketHub hub) {
        bindOwnName(s, u, hub, null);
    }

    /** As above, {@code whileBound} (null: nothing; not for a listener's or datagram socket's gone file) run
     * once {@code s} is bound, while its file is at the path. */
    private static void bindOwnName(Fd s, UnixSocket u, SocketHub hub, Runnable whileBound) {
        SockAddr name = u.address();
        if (!name.isUnbound()) {
            String moveTo = u.movedTo().isEmpty() ? null : u.movedTo();
            if (u.underMount()) { // its file and owner set there, the listener of the moment reached there
                UnderMount.bind(s, u.bindDir(), name, u.fileUid(), u.fileGid(), u.fileMode(), whileBound);
                return;
            }
            if ((u.fileMode() == FILE_GONE || moveTo != null) && (u.type() == Sockets.SOCK_DGRAM
                    || u.state() == SockDiag.UNIX_LISTEN)) { // its clients connect, its senders send, by a file of it first
                hub.bindUntilFilled(u.ino(), s, u.bindDir(), name, moveTo);
            } else if (u.fileMode() == FILE_GONE || moveTo != null) {
                hub.bindWithoutFile(s, u.bindDir(), name, moveTo, whileBound);
                whileBound = null;
            } else if (!u.bindDir().isEmpty()) { // a relative name, bound again where it was
                hub.setAsideSocketFile(filePath(u));
                Sockets.bindIn(s, u.bindDir(), name);
            } else if (name.isAbstract()) {
                if (!AbstractNameBind.bind(s, name, u.type(), u.ino())) {
                    throw new RestoreException("unix socket name " + name + " is taken by another socket");
                }
            } else {
                hub.setAsideSocketFile(filePath(u));
                if (u.fileMode() >= 0) { // its file was there at the dump: its clients connect by it
                    hub.makeGoneDirs(filePath(u), u.fileUid(), u.fileGid());
                }
                Sockets.bind(s, name);
            }
            if (whileBound != null) {
                whileBound.run();
            }
            if (!name.isAbstract() && u.fileMode() >= 0) { // a datagram socket's file is moved late
                String at = moveTo == null ? filePath(u) : moveTo;
                SocketHub.setOwner(at, u.fileUid(), u.fileGid(), u.fileMode());
            }
        }
    }

    /**
     * Two sockets connected to each other, each naming its recorded peer credentials (the connecting
     * end gets the listener's, the accepted end the connecting caller's). A connection accepted from
     * a listener of the image is made again through it, so the accepted end repeats its name and the
     * other end names it as its peer; else a socketpair when both name the same process (a pair), or
     * a connection through a listener of the moment.
     */
    private Fd[] makePair(UnixSocket u, UnixSocket peer, SocketHub hub) {
        UnixSocket l = listenerOf(peer, hub);
        if (l != null) {
            return throughListener(l, u.peer(), peer.peer(), hub);
        }
        if ((l = listenerOf(u, hub)) != null) {
            return reversed(throughListener(l, peer.peer(), u.peer(), hub));
        }
        if (u.type() == Sockets.SOCK_DGRAM || Objects.equals(u.peer(), peer.peer())
                || u.peerCreds() == null || peer.peerCreds() == null) {
            return hub.socketpair(u.type(), u.peer());
        }
        // the named end was the accepted one: it takes the listener of the moment's name
        UnixSocket accepted = u.address().isUnbound() ? peer : u, client = accepted == u ? peer : u;
        Fd[] made = ownConnectedPath(accepted, hub) ? throughItsName(accepted, client, hub)
                : hub.connectedPair(u.type(), client.peer(), accepted.peer());
        return accepted == u ? reversed(made) : made;
    }

    /**
     * A connection accepted from a listener closed since, named by a path (zdtm's transition/unix_sock):
     * made through a listener of the moment bound to that name, as the accepted end takes its listener's
     * name and no other can be bound on top (EINVAL); the file is left as the closed listener left it.
     * Returns {client, accepted}.
     */
    private static Fd[] throughItsName(UnixSocket accepted, UnixSocket client, SocketHub hub) {
        // under a mount: by its relative name, in the clone bindOwnName binds it in
        SockAddr at = accepted.underMount() ? accepted.address() : reachedBy(accepted);
        if (at == null) {
            throw new RestoreException("cannot connect again to the name " + accepted.address() + " of a closed listener:"
                    + " the path of its file in " + accepted.bindDir() + " does not fit in sun_path");
        }
        Fd[] made = new Fd[2];
        try (Fd l = Sockets.socket(SockAddr.AF_UNIX, accepted.type(), 0)) {
            bindOwnName(l, accepted, hub, () -> {
                hub.listen(l, 1, client.peer());
                Fd c = Sockets.socket(SockAddr.AF_UNIX, accepted.type(), 0);
                try {
                    hub.connect(c, at, accepted.peer());
                    made[1] = Sockets.accept(l, Sockets.SOCK_CLOEXEC);
                } catch (RuntimeException e) {
                    c.close();
                    throw e;
                }
                made[0] = c;
            });
        }
        return made;
    }

    /** A named datagram socket without peer credentials (connected by connect(), not made by socketpair), its file in place. */
    private static boolean connectsByName(UnixSocket u) {
        return u.type() == Sockets.SOCK_DGRAM && u.peerCreds() != null && !u.peerCreds().present()
                && !u.address().isUnbound() && u.movedTo().isEmpty() && u.fileMode() != FILE_GONE;
    }

    private static void connectTo(Fd s, UnixSocket to) {
        if (to.bindDir().isEmpty()) {
            Sockets.connect(s, to.address());
        } else {
            Sockets.connectIn(s, to.bindDir(), to.address());
        }
    }

    private static Fd[] reversed(Fd[] pair) {
        return new Fd[] {pair[1], pair[0]};
    }

    /**
     * The listener of this build whose name {@code end} repeats (an accepted end), when cryo reaches
     * it ({@link #reachable}); else null.
     */
    private static UnixSocket listenerOf(UnixSocket end, SocketHub hub) {
        return end.type() == Sockets.SOCK_DGRAM ? null : listenerNamed(end.type(), end.name(), hub);
    }

    /** The listener of this build of {@code type} bound to {@code name}, when cryo reaches it; else (or unbound) null. */
    private static UnixSocket listenerNamed(int type, byte[] name, SocketHub hub) {
        if (name.length == 0) {
            return null;
        }
        return hub.records(UnixSocket.class).stream()
                .filter(l -> l.state() == SockDiag.UNIX_LISTEN && l.type() == type && Arrays.equals(l.name(), name)
                        && hub.buildsNow(l.ino()) && reachable(l))
                .findFirst().orElse(null);
    }

    /**
     * Whether cryo reaches listener {@code l} while the sockets are built: by its name, its file in
     * place; by its renamed file; or, its file gone, by the hidden one made for the build.
     */
    private static boolean reachable(UnixSocket l) {
        if (l.underMount()) { // its file under a mount of the tree's: none of the tree's sockets came through it
            return false;
        }
        if (!l.movedTo().isEmpty()) {
            return true;
        }
        return l.fileMode() == FILE_GONE ? SocketHub.hiddenReach(Path.of(filePath(l)), l.ino()) != null : reachedBy(l) != null;
    }

    /**
     * A client connects to listener {@code l} (listening meanwhile in the name the client must see,
     * {@code clientCreds}) as {@code acceptedCreds}, and is accepted; returns {client, accepted}.
     * The listener's queue is empty then: its waiting clients connect in the last pass.
     */
    private Fd[] throughListener(UnixSocket l, SocketHub.Peer clientCreds, SocketHub.Peer acceptedCreds, SocketHub hub) {
        create(l, hub);
        Fd ls = hub.get(l.ino());
        boolean other = !Objects.equals(clientCreds, l.peer());
        if (other) {
            hub.listen(ls, l.backlog(), clientCreds);
        }
        Fd c = Sockets.socket(SockAddr.AF_UNIX, l.type(), 0);
        try {
            SockAddr hidden = hub.reach(l.ino());
            hub.connect(c, hidden != null ? hidden : reachedBy(l), acceptedCreds);
            Fd a = Sockets.accept(ls, 0);
            SocketOptions.clearInherited(a);
            if (other) {
                hub.listen(ls, l.backlog(), l.peer());
            }
            return new Fd[] {c, a};
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /**
     * The address a client of cryo's (or of a stand-in, whose cwd is not the listener's) connects to
     * listener {@code l} by: a relative name (postfix's private/rewrite) by its file's whole path,
     * if that fits in sun_path; the client still names the listener by the name it was bound to.
     */
    private static SockAddr reachedBy(UnixSocket l) {
        if (l.bindDir().isEmpty()) {
            return l.address();
        }
        byte[] path = filePath(l).getBytes(StandardCharsets.UTF_8);
        return path.length <= SockAddr.SUN_PATH ? SockAddr.unix(path) : null;
    }

    /** The socket file's path, a relative name resolved in the directory it was bound in. */
    private static String filePath(UnixSocket u) {
        String name = new String(u.name(), StandardCharsets.UTF_8);
        return u.bindDir().isEmpty() ? name : Path.of(u.bindDir()).resolve(name).toString();
    }

    /**
     * Connected once, its peer closed since (a socketpair end whose other end was closed): made
     * again as a pair whose other end is closed once the unread bytes are sent through it. A named
     * datagram socket is "established" also when another one connected to it (the kernel marks both
     * ends): it is bound again instead, and its clients connect to its name.
     */
    private static boolean peerGone(UnixSocket u) {
        boolean namedDgram = u.type() == Sockets.SOCK_DGRAM && !u.address().isUnbound();
        return u.peerIno() == 0 && u.listenerIno() == 0 && u.state() == SockDiag.UNIX_ESTABLISHED && !namedDgram;
    }

    /** A datagram socket holding ECONNRESET because its peer {@code peer}, of the image, connected elsewhere. */
    private static boolean resetByItsPeer(UnixSocket u, UnixSocket peer) {
        return u.resetPending() && u.type() == Sockets.SOCK_DGRAM && peer != null && peer.peerIno() != u.ino();
    }

    /** The datagram socket of the image that holds ECONNRESET because {@code u} connected elsewhere, or null. */
    private static UnixSocket resetHere(UnixSocket u, SocketHub hub) {
        return hub.records(UnixSocket.class).stream().filter(b -> b.peerIno() == u.ino() && resetByItsPeer(b, u))
                .findFirst().orElse(null);
    }

    /**
     * {@code b} and its peer {@code a} connected to each other as they were before a connected elsewhere
     * (a pair, or each by the other's name), a sends b's queue (its own datagrams), a byte of b's waits at a, and a
     * disconnects: the kernel drops a's queue and gives b ECONNRESET, b still connected to a with its queue. a
     * connects to its own peer later (finish) and its queue is filled then, as any socket's.
     */
    private static void makeReset(UnixSocket b, UnixSocket a, SocketHub hub) {
        boolean paired = b.peerCreds() != null && b.peerCreds().present() || b.address().isUnbound() || a.address().isUnbound();
        Fd[] pair = paired ? hub.socketpair(b.type(), b.peer())
                : new Fd[] {Sockets.socket(SockAddr.AF_UNIX, b.type(), 0), Sockets.socket(SockAddr.AF_UNIX, a.type(), 0)};
        hub.put(b.ino(), pair[0]);
        hub.put(a.ino(), pair[1]);
        b.options().apply(pair[0]);
        a.options().apply(pair[1]);
        bindPairEnd(pair[0], b, hub);
        bindPairEnd(pair[1], a, hub);
        if (!paired) { // each by the other's name
            connectTo(pair[0], a);
            connectTo(pair[1], b);
        }
        fill(pair[1], b, hub, null); // its peer's datagrams (the dump took no other), before the peer leaves
        Sockets.send(pair[0], new byte[1], Sockets.MSG_DONTWAIT);
        Sockets.disconnect(pair[1]);
    }

    /**
     * Two sockets connected to each other, made again by socketpair; a datagram socket connected to
     * itself is not a pair: it is bound again and connects to its own name.
     */
    private static boolean isPair(UnixSocket u, UnixSocket peer) {
        return peer != null && peer.peerIno() == u.ino() && peer.ino() != u.ino();
    }

    /**
     * An end of a pair made by socketpair gets its name back: a datagram socket's path is its own
     * (two named datagram sockets connected to each other); a stream end's path may be its
     * listener's (accepted sockets repeat it), which is not its own to bind.
     */
    private static void bindPairEnd(Fd s, UnixSocket u, SocketHub hub) {
        if (u.type() == Sockets.SOCK_DGRAM && !u.address().isUnbound() && !u.address().isAbstract()
                && u.fileMode() == FILE_GONE) { // its peer fills its queue: nothing needs its file
            hub.bindWithoutFile(s, u.bindDir(), u.address(), null);
            return;
        }
        if (u.type() == Sockets.SOCK_DGRAM && !u.address().isUnbound() && !u.address().isAbstract()) {
            String path = filePath(u);
            hub.setAsideSocketFile(path);
            if (u.bindDir().isEmpty()) {
                Sockets.bind(s, u.address());
            } else {
                Sockets.bindIn(s, u.bindDir(), u.address());
            }
            if (u.fileMode() >= 0) {
                SocketHub.setOwner(path, u.fileUid(), u.fileGid(), u.fileMode());
            }
            if (!u.movedTo().isEmpty()) {
                hub.moveSocketFile(Path.of(path), Path.of(u.movedTo()));
            }
            return;
        }
        bindConnectedEnd(s, u, hub);
    }

    /** A connected stream or seqpacket end: its own path with its file, or an abstract name not its listener's. */
    private static void bindConnectedEnd(Fd s, UnixSocket u, SocketHub hub) {
        if (ownConnectedPath(u, hub)) {
            if (!Sockets.sockName(s).isUnbound()) {
                return; // accepted from a listener of the moment at its name: throughItsName
            }
            bindOwnName(s, u, hub);
        } else {
            bindQuietly(s, u, hub);
        }
    }

    /**
     * A connected stream or seqpacket end whose path is its own: the dump recorded its file
     * ({@link #ownConnectedPath(SockDiag.UnixSocket, SocketDumpState)}), and no listener of the image has that name.
     */
    private static boolean ownConnectedPath(UnixSocket u, SocketHub hub) {
        return u.type() != Sockets.SOCK_DGRAM && u.state() == SockDiag.UNIX_ESTABLISHED && !u.address().isUnbound()
                && !u.address().isAbstract()
                && (u.fileMode() >= 0 || u.fileMode() == FILE_GONE) && hub.records(UnixSocket.class).stream()
                .noneMatch(l -> l.state() == SockDiag.UNIX_LISTEN && Arrays.equals(l.name(), u.name()));
    }

    /**
     * A socket of a pair may repeat its listener's name (accepted sockets do): that name is not its
     * own to bind, and never taken from a listener of the image built after it.
     */
    private static void bindQuietly(Fd s, UnixSocket u, SocketHub hub) {
        // the records looked through only for a name (each of a task's 4000 unnamed pair ends did it: n squared)
        if (!u.address().isUnbound() && u.address().isAbstract() && hub.records(UnixSocket.class).stream()
                .noneMatch(o -> o.state() == SockDiag.UNIX_LISTEN && Arrays.equals(o.name(), u.name()))) {
            AbstractNameBind.bind(s, u.address(), u.type(), u.ino()); // false: the listener holds the name
        }
    }

    /** Fills the queues, then connects and shuts down, in the order the kernel allows. */
    @Override
    public void connect(UnixSocket u, SocketHub hub) {
        UnixSocket peer = u.peerIno() == 0 ? null : hub.record(u.peerIno(), UnixSocket.class);
        boolean pair = isPair(u, peer);
        if (u.fillsLate()) {
            return; // filled once the files are restored: fillPassing
        }
        if (pair) {
            fill(hub.get(peer.ino()), u, hub, null);
        } else if (!u.queue().isEmpty() && u.listenerIno() == 0 && !peerGone(u)
                && !resetByItsPeer(u, peer)) { // a gone peer's bytes, or a reset one's: create()
            if (u.address().isUnbound()) {
                throw new RestoreException("unix socket " + u.ino() + ": unread datagrams at an unnamed socket cannot be queued again");
            }
            fill(null, u, hub, null);
        }
    }

    /**
     * Fills the queue of a socket whose messages pass files, once FILES restored them:
     * {@code passed} holds cryo's fds of each message's files, in queue order.
     */
    public static void fillPassing(UnixSocket u, SocketHub hub, List<List<Fd>> passed) {
        if (u.listenerIno() != 0) { // its credentials name a task of the tree, which exists now
            sendFromWaitingClient(hub.get(u.ino()), u.queue());
            return;
        }
        UnixSocket peer = u.peerIno() == 0 ? null : hub.record(u.peerIno(), UnixSocket.class);
        if (peerGone(u)) {
            try (Fd other = hub.takeOrphanEnd(u.ino())) {
                fill(other, u, hub, passed);
                unreadAtClose(hub.get(u.ino()), u);
            } // closed: shuts a stream or seqpacket end down as the peer's close did
            shutDown(hub.get(u.ino()), u);
            return;
        }
        fill(isPair(u, peer) ? hub.get(peer.ino()) : null, u, hub, passed);
    }

    /**
     * An end whose peer closed with bytes it had not read holds ECONNRESET until the program reads it: the
     * kernel sets it at that close, so one byte of {@code end} waits unread at the other end when it closes.
     */
    private static void unreadAtClose(Fd end, UnixSocket u) {
        if (u.resetPending()) {
            Sockets.send(end, new byte[1], Sockets.MSG_DONTWAIT);
        }
    }

    /** Second pass: connections (after every queue is filled, since a connected receiver takes only its peer's). */
    @Override
    public void finish(UnixSocket u, SocketHub hub) {
        Fd s = hub.get(u.ino());
        UnixSocket peer = u.peerIno() == 0 ? null : hub.record(u.peerIno(), UnixSocket.class);
        boolean pair = isPair(u, peer);
        if (!pair && (u.external() || (peer != null && u.type() == Sockets.SOCK_DGRAM && !resetByItsPeer(u, peer)))) {
            SockAddr hidden = peer == null ? null : hub.reach(peer.ino());
            if (hidden != null) { // its server's file is gone: reached by the file made for the build
                Sockets.connect(s, hidden);
            } else if (peer != null && !peer.bindDir().isEmpty()) { // a relative name, where its server was bound
                Sockets.connectIn(s, peer.bindDir(), SockAddr.unix(u.peerName()));
            } else {
                Sockets.connect(s, SockAddr.unix(u.peerName()));
            }
        }
        if (peer == null && u.type() == Sockets.SOCK_DGRAM && !u.address().isUnbound() && u.peerName().length > 0
                && !u.external()) { // a named one connected to a datagram socket that closed: to a stand-in at its name
            try (Fd standIn = Sockets.socket(SockAddr.AF_UNIX, u.type(), 0)) {
                hub.connectToClosedPeer(s, standIn, SockAddr.unix(u.peerName()), u.ino());
            }
        }
        if (u.state() == SockDiag.UNIX_LISTEN) {
            // by its file's whole path where its name is relative (cryo's cwd is not the binder's: zdtm's
            // sk-unix-listen01), or by the file made for the build where its own is gone
            SockAddr hidden = hub.reach(u.ino()), to = hidden != null ? hidden : reachedBy(u);
            int closed = 0;
            for (long c : u.pending()) { // in the order they wait to be accepted
                if (c == 0) { // its client had closed
                    ClosedClients.connect(ClosedClients.nth(u, closed++), to != null ? to : u.address(), u.type(), hub);
                    continue;
                }
                Fd client = hub.get(c);
                UnixSocket cr = hub.record(c, UnixSocket.class);
                if (client == null || cr == null) {
                    throw new RestoreException("unix socket " + c + ", waiting on " + u.address() + ", is not in the image");
                }
                // the client takes the listener's credentials as they are at its connect
                boolean other = cr.peerCreds() != null && !cr.peer().equals(u.peer());
                if (other) {
                    hub.listen(s, u.backlog(), cr.peer());
                }
                hub.connect(client, to != null ? to : u.address(), cr.peerCreds() == null ? null : hub.holderCreds(c));
                if (!cr.fillsLate()) { // what it had sent, without credentials: it waits in the new connection
                    sendFromWaitingClient(client, cr.queue());
                }
                if (other) {
                    hub.listen(s, u.backlog(), u.peer());
                }
            }
        }
        if (!peerGone(u)) { // a gone peer's end is shut down once its bytes are in (create)
            shutDown(s, u);
        }
    }

    private static void shutDown(Fd s, UnixSocket u) {
        if (u.shutdown() != 0) {
            try {
                Sockets.shutdown(s, u.shutdown() == 3 ? Sockets.SHUT_RDWR : u.shutdown() == 2 ? Sockets.SHUT_WR : Sockets.SHUT_RD);
            } catch (RuntimeException e) {
                if (!(e instanceof dev.cryo.kernel.SyscallException se && se.is(dev.cryo.kernel.Errno.ENOTCONN))) {
                    throw e;
                }
            }
        }
    }

    /**
     * Sends u's queued messages to u: from {@code from} (its pair) or, for datagrams, from their
     * senders, each with its files ({@code passed}, null: none) and credentials. SO_PASSCRED is off
     * at both ends meanwhile, so a message that carried none gets none (the kernel would stamp cryo's);
     * SO_PASSRIGHTS on at u, which the program may have turned off after the files came (off, the kernel
     * refuses to queue files: EPERM).
     */
    private static void fill(Fd from, UnixSocket u, SocketHub hub, List<List<Fd>> passed) {
        if (u.queue().isEmpty()) {
            return;
        }
        Fd to = hub == null ? null : hub.get(u.ino());
        int toCreds = to == null ? 0 : passcred(to, 0);
        boolean rightsLent = to != null && passed != null && lendRights(to);
        try (SenderStandIns standIns = new SenderStandIns()) {
            int i = 0;
            for (Message m : u.queue()) {
                List<Fd> files = passed == null ? List.of() : passed.get(i);
                i++;
                Fd sender = from != null ? from : hub.boundTo(m.from(), u.type());
                if (m.senderGone()) {
                    standIns.at(m.credPid());
                }
                int was = passcred(sender, 0);
                SockAddr hidden = from != null ? null : hub.reach(u.ino());
                SockAddr dest = from != null ? null : hidden != null ? hidden : reachedBy(u); // a relative name by its file's whole path
                if (from == null && dest == null) {
                    throw new RestoreException("unread datagrams to " + u.address() + " cannot be queued again: the"
                            + " path of its file in " + u.bindDir() + " does not fit in sun_path");
                }
                try {
                    sendAll(sender, m, files, dest);
                } finally {
                    passcred(sender, was);
                }
            }
        } finally {
            if (to != null) {
                passcred(to, toCreds);
            }
            if (rightsLent) {
                Sockets.setInt(to, Sockets.SOL_SOCKET, Sockets.SO_PASSRIGHTS, 0);
            }
        }
    }

    /** Turns SO_PASSRIGHTS on if it is off (a kernel before 6.16 has none: always on); whether it was off. */
    private static boolean lendRights(Fd s) {
        byte[] v = Sockets.getBytesOrNull(s, Sockets.SOL_SOCKET, Sockets.SO_PASSRIGHTS, 4);
        if (v == null || !Arrays.equals(v, new byte[4])) {
            return false;
        }
        Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_PASSRIGHTS, 1);
        return true;
    }

    /**
     * What a client waiting on a listener had sent, sent again from it into its new connection not accepted yet, each
     * message with the credentials it carried (SO_PASSCRED off meanwhile: one that carried none gets none).
     */
    static void sendFromWaitingClient(Fd client, List<Message> queue) {
        int was = passcred(client, 0);
        try {
            for (Message m : queue) {
                sendAll(client, m, List.of(), null);
            }
        } finally {
            passcred(client, was);
        }
    }

    /** Sets SO_PASSCRED, returns what it was. */
    private static int passcred(Fd s, int value) {
        int was = Sockets.getInt(s, Sockets.SOL_SOCKET, Sockets.SO_PASSCRED);
        if (was != value) {
            Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_PASSCRED, value);
        }
        return was;
    }

    /** One message (a datagram whole; stream bytes maybe in several sends, the files with the first). */
    private static void sendAll(Fd s, Message m, List<Fd> files, SockAddr to) {
        byte[] data = m.data();
        int done = 0;
        do {
            byte[] rest = done == 0 ? data : Arrays.copyOfRange(data, done, data.length);
            int n = Sockets.sendMsg(s, rest, done == 0 ? files : List.of(), m.creds(), to, Sockets.MSG_DONTWAIT);
            if (n <= 0 && data.length > 0) {
                throw new RestoreException("could not queue " + data.length + " unread bytes again");
            }
            done += n;
        } while (done < data.length);
    }
}
