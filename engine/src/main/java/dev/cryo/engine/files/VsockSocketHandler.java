package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.SockFields;
import dev.cryo.kernel.net.Sockets;

import java.util.Map;

/**
 * AF_VSOCK stream and seqpacket sockets that are not connected: listeners (sshd started by systemd's
 * vsock socket units, a microVM's guest agent) and sockets only bound or not even that. They come back
 * bound to their context id (VMADDR_CID_ANY, as a rule) and port, listening with their backlog, with
 * their buffer sizes (SO_VM_SOCKETS_BUFFER_*). Refused by name: a connected or connecting one (its
 * peer is a hypervisor's or another VM's end, which cryo cannot repair), a listener with connections
 * it has not accepted (each a connected socket), one holding an unread error. The state, backlog and
 * accept queue are read with a BPF iterator (SockFields): vsock's sock_diag tells no backlog.
 */
public final class VsockSocketHandler implements SocketFdHandler<VsockSocketHandler.VsockSocket> {
    public static final int TAG = 3050, RECORD_ID = 6100;

    /** {@code backlog}: -1 when not listening; {@code local}'s port VMADDR_PORT_ANY when unbound. */
    public record VsockSocket(long ino, int type, SockAddr local, int backlog, long bufferSize, long bufferMin,
                              long bufferMax, SocketOptions options, boolean primary) implements FileDesc {}

    static final RecordCodec<VsockSocket> CODEC = RecordCodec.of(VsockSocket.class, RECORD_ID, 1, (out, r) -> {
        out.writeLong(r.ino());
        out.writeVarInt(r.type(), true);
        SockAddrFields.write(out, r.local());
        out.writeVarInt(r.backlog(), false);
        out.writeVarLong(r.bufferSize(), true);
        out.writeVarLong(r.bufferMin(), true);
        out.writeVarLong(r.bufferMax(), true);
        RecordFields.writeRecord(out, SocketOptions.CODEC, r.options());
        out.writeBoolean(r.primary());
    }, (in, v) -> new VsockSocket(in.readLong(), in.readVarInt(true), SockAddrFields.read(in), in.readVarInt(false),
            in.readVarLong(true), in.readVarLong(true), in.readVarLong(true),
            RecordFields.readRecord(in, SocketOptions.CODEC), in.readBoolean()));

    @Override
    public String kind() {
        return "vsock socket";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<VsockSocket> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return SocketProbe.protoName(fd).equals("AF_VSOCK");
    }

    @Override
    public VsockSocket dump(FdProbe fd, DumpContext ctx) {
        try (SocketProbe p = SocketProbe.take(fd, ctx.sockets())) {
            String what = "AF_VSOCK socket " + p.ino;
            if (p.type != Sockets.SOCK_STREAM && p.type != Sockets.SOCK_SEQPACKET) {
                throw p.refuse(what + " of type " + p.type + " (datagram) is not supported");
            }
            int state, pending = 0, backlog = -1;
            try {
                state = SockFields.STATE.of(p.sock);
                if (state == SockDiag.TCP_LISTEN) {
                    pending = SockFields.ACCEPT_QUEUE.of(p.sock);
                    backlog = SockFields.BACKLOG.of(p.sock);
                }
            } catch (RuntimeException e) {
                throw p.refuse(what + ": its state is read with a BPF iterator that cannot run here (" + e.getMessage()
                        + "); not supported");
            }
            if (pending > 0) {
                throw p.refuse(what + " is listening with " + pending + " connection(s) not accepted yet"
                        + " (connected sockets, which cryo cannot carry); not supported");
            }
            SockAddr peer = Sockets.peerName(p.sock);
            if (state != SockDiag.TCP_LISTEN && (state != SockDiag.TCP_CLOSE || peer != null)) {
                throw p.refuse(what + " is connected or connecting (state " + state
                        + (peer == null ? "" : ", peer cid " + Integer.toUnsignedString(peer.cid()) + " port "
                        + Integer.toUnsignedString(peer.port())) + "): a vsock connection cannot be carried; not supported");
            }
            if (p.errorPending()) {
                throw p.refuse(what + " holds an error the program has not read; not supported");
            }
            int level = SockAddr.AF_VSOCK;
            return new VsockSocket(p.ino, p.type, Sockets.sockName(p.sock), backlog,
                    Sockets.getLong(p.sock, level, Sockets.SO_VM_SOCKETS_BUFFER_SIZE),
                    Sockets.getLong(p.sock, level, Sockets.SO_VM_SOCKETS_BUFFER_MIN_SIZE),
                    Sockets.getLong(p.sock, level, Sockets.SO_VM_SOCKETS_BUFFER_MAX_SIZE),
                    p.options(true), ctx.sockets().claim(p.ino));
        }
    }

    @Override
    public void show(VsockSocket r, Map<String, Object> m) {
        m.put("kind", "vsock socket");
        m.put("inode", r.ino());
        m.put("type", r.type() == Sockets.SOCK_STREAM ? "stream" : "seqpacket");
        if (r.local().port() != SockAddr.VMADDR_PORT_ANY) {
            m.put("cid", r.local().cid() == SockAddr.VMADDR_CID_ANY ? "any" : Integer.toUnsignedString(r.local().cid()));
            m.put("port", Integer.toUnsignedString(r.local().port()));
        }
        if (r.backlog() >= 0) {
            m.put("listening", r.backlog());
        }
        m.put("buffer", r.bufferSize() + " (" + r.bufferMin() + ".." + r.bufferMax() + ")");
        m.put("options", r.options().show());
    }

    @Override
    public Class<VsockSocket> type() {
        return VsockSocket.class;
    }

    @Override
    public long ino(VsockSocket r) {
        return r.ino();
    }

    @Override
    public boolean primary(VsockSocket r) {
        return r.primary();
    }

    @Override
    public void create(VsockSocket r, SocketHub hub) {
        Fd s = Sockets.socket(SockAddr.AF_VSOCK, r.type(), 0);
        hub.put(r.ino(), s);
        r.options().apply(s);
        // the kernel fits the size into [min, max] at each of these: the bounds first
        int level = SockAddr.AF_VSOCK;
        Sockets.setLong(s, level, Sockets.SO_VM_SOCKETS_BUFFER_MAX_SIZE, r.bufferMax());
        Sockets.setLong(s, level, Sockets.SO_VM_SOCKETS_BUFFER_MIN_SIZE, r.bufferMin());
        Sockets.setLong(s, level, Sockets.SO_VM_SOCKETS_BUFFER_SIZE, r.bufferSize());
        if (r.local().port() != SockAddr.VMADDR_PORT_ANY) {
            Sockets.bind(s, r.local());
        }
        if (r.backlog() >= 0) {
            Sockets.listen(s, r.backlog());
        }
    }

    @Override
    public void connect(VsockSocket r, SocketHub hub) {}

    @Override
    public void finish(VsockSocket r, SocketHub hub) {}
}
