package dev.cryo.engine.files;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.ErroredQueues;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.proc.ProcFs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Connections waiting in a unix listener's queue whose client has closed already (a one-shot client that sent its
 * request and exited, nginx giving up on a busy php-fpm): the server accepts them later, reads what the client sent,
 * then end of file, and SO_PEERCRED names the client. No process holds either end, so cryo's BPF iterator reads each
 * at its place in the queue ({@link ErroredQueues#waiting}); the restore connects again in the client's name (the task
 * of the tree, or a stand-in at the pid of one that exited), sends the bytes with their credentials and closes, in the
 * queue's order among the connections of live clients. CRIU refuses these (zdtm's sk-unix-listen03 is crfail).
 */
public final class ClosedClients {
    private static final int MAX_CLIENTS = 65536, MAX_SENT = 16;

    private ClosedClients() {}

    /**
     * One such connection: what its client sent, and who connected ({@code creds} SO_PEERCRED, pid as cryo sees it,
     * pid 0: none; {@code groups} SO_PEERGROUPS; {@code inside} the pid it had in its holder's pid namespace when the
     * client has exited and the holder has one of its own, else null).
     */
    public record Client(List<UnixSocketHandler.Message> sent, Sockets.Ucred creds, List<Integer> groups,
                  UnixSocketHandler.PeerInside inside) {
        public Client {
            sent = List.copyOf(sent);
            groups = List.copyOf(groups);
        }

        SocketHub.Peer peer() {
            return creds.present() ? SocketHub.Peer.of(creds, groups, inside) : null;
        }
    }

    /**
     * The connection at {@code position} of the queue of listener {@code p} held by {@code holder}; refused when cryo
     * cannot read it, or cannot connect in its client's name again (a process outside the tree that still runs).
     */
    static Client dump(SocketProbe p, String what, int position, FdHandler.DumpContext ctx, Pid holder) {
        String which = what + ": a connection whose client has closed waits to be accepted (number " + (position + 1)
                + " in its queue)";
        int level = Math.max(0, ProcFs.nsIds(holder, holder, "NSpid").size() - 1);
        ErroredQueues.Waiting w;
        try {
            w = ErroredQueues.waiting(p.sock, position, level);
        } catch (RuntimeException e) {
            throw p.refuse(which + ", and cryo cannot read it where it sits (" + e.getMessage() + "); not supported");
        }
        if (w == null || !w.clientClosed()) {
            throw p.refuse(which + ", and cryo's BPF iterator found " + (w == null ? "no connection" : "a live client")
                    + " at that place; not supported");
        }
        Sockets.Ucred c = w.peer();
        UnixSocketHandler.PeerInside inside = null;
        if (c.present() && !ctx.inTree(c.pid())) {
            if (Files.exists(Path.of("/proc/" + c.pid()))) {
                throw p.refuse(which + ": it was made by pid " + c.pid() + ", which is not in the tree and still runs;"
                        + " a restore could not connect in its name again");
            }
            if (level > 0 && w.pidInside() <= 0) {
                throw p.refuse(which + ": it was made by pid " + c.pid() + ", which has exited and was outside the pid"
                        + " namespace of pid " + holder + " holding the listener; a restore could not make a process at"
                        + " a pid the holder sees");
            }
            inside = level > 0 ? new UnixSocketHandler.PeerInside(holder.value(), w.pidInside()) : null;
        }
        List<Integer> groups = Arrays.stream(w.groups()).boxed().toList();
        UnixSocketHandler.checkGroupsCanBeMade(p, c, groups, which);
        if (!w.sent().isEmpty() && Sockets.getInt(p.sock, Sockets.SOL_SOCKET, Sockets.SO_PASSSEC) != 0) {
            throw p.refuse(which + " with data, which the restore sends again, and the listener passes security labels"
                    + " (SO_PASSSEC), which would be cryo's; not supported");
        }
        List<UnixSocketHandler.Message> sent = new ArrayList<>();
        for (ErroredQueues.Queued m : w.sent()) {
            if (m.passesFiles()) {
                throw p.refuse(which + ": its client passed file descriptors (SCM_RIGHTS); not supported");
            }
            if (m.data() == null) {
                throw p.refuse(which + ": its client sent " + m.unread() + "; not supported");
            }
            Sockets.Ucred mc = m.creds();
            if (mc.present() && mc.pid() != c.pid() && !ctx.inTree(mc.pid())) {
                throw p.refuse(which + ": a message carries the credentials of pid " + mc.pid() + ", neither its client"
                        + " nor a task of the tree; not supported");
            }
            sent.add(mc.present() ? new UnixSocketHandler.Message(m.data(), new byte[0], List.of(), mc.pid(), mc.uid(),
                    mc.gid(), false) : new UnixSocketHandler.Message(m.data(), new byte[0]));
        }
        return new Client(sent, c, groups, inside);
    }

    /**
     * Connects to {@code to} in the client's name (its task, a stand-in at its pid, else cryo), sends what it had
     * sent, each message with the credentials it carried (the client's pid exists meanwhile), and closes: the new
     * connection waits to be accepted as the old one did.
     */
    static void connect(Client c, SockAddr to, int type, SocketHub hub) {
        try (Fd s = Sockets.socket(SockAddr.AF_UNIX, type, 0)) {
            hub.connect(s, to, c.peer());
            UnixSocketHandler.sendFromWaitingClient(s, c.sent());
        }
    }

    /** The client waiting at the {@code n}th place (from 0) of the closed ones of listener {@code u}. */
    static Client nth(UnixSocketHandler.UnixSocket u, int n) {
        if (n >= u.closedClients().size()) {
            throw new RestoreException("unix socket " + u.ino() + " (" + u.address() + "): the image names more closed"
                    + " connections waiting to be accepted than it carries");
        }
        return u.closedClients().get(n);
    }

    static void write(Output out, List<Client> clients) {
        out.writeVarInt(clients.size(), true);
        for (Client c : clients) {
            ModelFields.writeList(out, UnixSocketHandler.MESSAGE_CODEC, c.sent(), MAX_SENT, "UnixSocket.closedClient.sent");
            out.writeInt(c.creds().pid());
            out.writeInt(c.creds().uid());
            out.writeInt(c.creds().gid());
            ModelFields.writeInts(out, c.groups(), UnixSocketHandler.MAX_GROUPS, "UnixSocket.closedClient.groups");
            out.writeBoolean(c.inside() != null);
            if (c.inside() != null) {
                out.writeInt(c.inside().holder());
                out.writeInt(c.inside().pid());
            }
        }
    }

    static List<Client> read(Input in) {
        int n = ModelFields.readCount(in, "UnixSocket", MAX_CLIENTS, "closed clients");
        List<Client> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            List<UnixSocketHandler.Message> sent = ModelFields.readList(in, UnixSocketHandler.MESSAGE_CODEC, MAX_SENT,
                    "UnixSocket.closedClient.sent");
            Sockets.Ucred creds = new Sockets.Ucred(in.readInt(), in.readInt(), in.readInt());
            List<Integer> groups = ModelFields.readInts(in, UnixSocketHandler.MAX_GROUPS, "UnixSocket.closedClient.groups");
            out.add(new Client(sent, creds, groups, in.readBoolean()
                    ? new UnixSocketHandler.PeerInside(in.readInt(), in.readInt()) : null));
        }
        return out;
    }
}
