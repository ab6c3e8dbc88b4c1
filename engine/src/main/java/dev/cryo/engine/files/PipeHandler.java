package dev.cryo.engine.files;

import com.esotericsoftware.kryo.KryoException;
import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.kernel.PipePeek;
import dev.cryo.kernel.SyscallNr;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;

import static dev.cryo.kernel.Fcntl.F_SETFL;
import static dev.cryo.kernel.Fcntl.O_ACCMODE;
import static dev.cryo.kernel.Fcntl.O_RDONLY;

/**
 * Pipes and FIFOs. Both ends are identified by the pipe inode so restore can join them again;
 * the unread bytes are peeked (not consumed) and carried by the first end this dump meets. A FIFO
 * whose node was deleted while it stays open (CRIU's zdtm fifo-ghost) carries the node's mode and
 * owner: restore makes the node again at its path, opens it, and unlinks it (see {@code PipeHub}).
 */
public final class PipeHandler implements FdHandler<PipeHandler.Pipe> {
    public static final int TAG = 2, RECORD_ID = 112;
    private static final String DELETED = " (deleted)";

    /**
     * One end of a pipe or FIFO; ends sharing {@code pipeId} (the pipe inode) are joined again.
     * The bytes sitting in the pipe and its buffer size (F_SETPIPE_SZ) are carried once, by the
     * first end dumped ({@code data} empty and {@code size} 0 elsewhere). {@code fifoPath} is empty
     * for anonymous pipes; {@code deleted} is the node of a FIFO that was unlinked (its path without
     * the kernel's " (deleted)"), null otherwise. {@code packets}: the lengths of the packets {@code data}
     * holds when the pipe is in packet mode (pipe2 O_DIRECT: a read takes one packet at most; version 3),
     * none for a byte stream. {@code hungUp}: a FIFO's read end reported POLLHUP
     * (writers came and went since it was opened); a reader that did not must not after the restore,
     * or a program polling it spins (zdtm's fifo_ro_nonblock, openrc-init's control FIFO).
     */
    public record Pipe(long pipeId, boolean readEnd, String fifoPath, byte[] data, int size, Node deleted,
                       boolean hungUp, java.util.List<Integer> packets) implements FileDesc {
        public Pipe {
            packets = packets == null ? java.util.List.of() : java.util.List.copyOf(packets);
        }

        public Pipe(long pipeId, boolean readEnd, String fifoPath, byte[] data, int size) {
            this(pipeId, readEnd, fifoPath, data, size, null, false, null);
        }

        public Pipe(long pipeId, boolean readEnd, String fifoPath, byte[] data, int size, Node deleted) {
            this(pipeId, readEnd, fifoPath, data, size, deleted, false, null);
        }

        public Pipe(long pipeId, boolean readEnd, String fifoPath, byte[] data, int size, Node deleted, boolean hungUp) {
            this(pipeId, readEnd, fifoPath, data, size, deleted, hungUp, null);
        }

        /** The packet lengths as {@link dev.cryo.kernel.LocalPipe} takes them. */
        public int[] packetLengths() {
            return packets.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    /** The mode (permission bits) and owner of a deleted FIFO's node, given back when it is made again. */
    public record Node(int mode, int uid, int gid) {}

    static final RecordCodec<Pipe> CODEC = RecordCodec.of(Pipe.class, RECORD_ID, 3, (out, p) -> {
        out.writeLong(p.pipeId());
        out.writeBoolean(p.readEnd());
        ModelFields.writeText(out, p.fifoPath(), ModelLimits.PATH, "Pipe.fifoPath");
        ModelFields.writeBytes(out, p.data(), ModelLimits.PIPE_DATA, "Pipe.data");
        out.writeInt(p.size());
        out.writeBoolean(p.deleted() != null);
        if (p.deleted() != null) {
            out.writeVarInt(p.deleted().mode(), true);
            out.writeVarInt(p.deleted().uid(), true);
            out.writeVarInt(p.deleted().gid(), true);
        }
        out.writeBoolean(p.hungUp());
        out.writeVarInt(p.packets().size(), true);
        for (int len : p.packets()) {
            out.writeVarInt(len, true);
        }
    }, (in, version) -> {
        Pipe p = new Pipe(in.readLong(), in.readBoolean(), ModelFields.readText(in, ModelLimits.PATH, "Pipe.fifoPath"),
                ModelFields.readBytes(in, ModelLimits.PIPE_DATA, "Pipe.data"), pipeSize(in.readInt()),
                in.readBoolean() ? new Node(in.readVarInt(true), in.readVarInt(true), in.readVarInt(true)) : null,
                version >= 2 && in.readBoolean(), version >= 3 ? packets(in) : null);
        if (p.packets().stream().mapToLong(Integer::longValue).sum() != (p.packets().isEmpty() ? 0 : p.data().length)) {
            throw new KryoException("Pipe.packets: their lengths do not add up to the data's");
        }
        if (p.deleted() != null && (p.fifoPath().isEmpty() || (p.deleted().mode() & ~07777) != 0)) {
            throw new KryoException("Pipe.deleted: a deleted node needs a FIFO path and permission bits only");
        }
        return p;
    });

    private static java.util.List<Integer> packets(com.esotericsoftware.kryo.io.Input in) {
        int n = ModelFields.readCount(in, "Pipe", ModelLimits.PIPE_DATA, "packets");
        java.util.List<Integer> out = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(in.readVarInt(true));
        }
        return out;
    }

    /** A pipe buffer is a power of two pages up to what root may ask for (1 GiB is far past it). */
    private static int pipeSize(int size) {
        if (size < 0 || size > (1 << 30)) {
            throw new IllegalArgumentException("Pipe.size " + size + " is out of range");
        }
        return size;
    }

    @Override
    public String kind() {
        return "pipe";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<Pipe> codec() {
        return CODEC;
    }

    @Override
    public boolean reopensByPath(FdProbe fd) {
        return fd.target().startsWith("/"); // a FIFO
    }

    @Override
    public boolean handles(FdProbe fd) throws IOException {
        return isPipe(fd.target(), fd.procPath());
    }

    /** Whether an fd whose link reads {@code target} ({@code link}: its /proc/PID/fd/N) is a pipe or a FIFO. */
    static boolean isPipe(String target, java.nio.file.Path link) throws IOException {
        return target.startsWith("pipe:[") || (target.startsWith("/") && FileIdentity.isFifo(link));
    }

    @Override
    public Pipe dump(FdProbe fd, DumpContext ctx) throws IOException {
        boolean anonymous = fd.target().startsWith("pipe:[");
        Node deleted = null;
        String path = anonymous ? "" : fd.target();
        if (!anonymous && path.endsWith(DELETED)) { // the node is gone, the pipe lives on
            path = path.substring(0, path.length() - DELETED.length());
            deleted = new Node((Integer) Files.getAttribute(fd.procPath(), "unix:mode") & 07777,
                    (Integer) Files.getAttribute(fd.procPath(), "unix:uid"),
                    (Integer) Files.getAttribute(fd.procPath(), "unix:gid"));
        }
        long id = anonymous
                ? Long.parseLong(fd.target().substring(6, fd.target().length() - 1))
                : (Long) Files.getAttribute(fd.procPath(), "unix:ino");
        byte[] data = new byte[0];
        int size = 0;
        java.util.List<Integer> packets = null;
        if (ctx.claimPipeData(id)) {
            size = PipePeek.size(fd.procPath().toString());
            PipePeek.Peeked peeked = PipePeek.peekPackets(fd.procPath().toString());
            data = peeked.data();
            // packets (pipe2 O_DIRECT): a read stopped at each one's end, or this end writes them
            boolean packetMode = peeked.reads().length > 1 || (fd.info().flags() & Fcntl.O_DIRECT) != 0;
            packets = packetMode && data.length > 0
                    ? java.util.Arrays.stream(peeked.reads()).boxed().toList() : null;
        }
        boolean readEnd = (fd.info().flags() & O_ACCMODE) == O_RDONLY;
        boolean hungUp = !anonymous && readEnd && PipePeek.hungUp(fd.pid(), fd.fd());
        return new Pipe(id, readEnd, path, data, size, deleted, hungUp, packets);
    }

    /**
     * Anonymous pipes take cryo's own end of the rejoined pipe (the first open file of each end,
     * so its flags are pipe()'s, without the O_LARGEFILE an open adds) or reopen it through /proc
     * (the ends that had O_LARGEFILE, and the later holders of an end);
     * FIFOs open their path (cryo holds them open), a deleted one cryo's open file of the node it
     * made again and unlinked.
     */
    @Override
    public dev.cryo.kernel.Fd handedIn(FdImage fd, Pipe p, RestoreContext ctx) {
        // an end opened again by path (bash's >(...) through /dev/fd/63) has the O_LARGEFILE an open adds:
        // opened through /proc as well, not pipe()'s end, which F_SETFL cannot give it
        int mine = p.fifoPath().isEmpty() && (fd.flags() & Fcntl.O_LARGEFILE) == 0
                ? ctx.claimPipeEnd(p.pipeId(), p.readEnd()) : -1;
        if (mine < 0) {
            return null;
        }
        // the open file's flags, which cryo's fd shares with the task's; not O_ASYNC: it would send its
        // signals for cryo's fd (FileRestore sets it on the task's, at its number)
        dev.cryo.kernel.Sys.call(() -> "fcntl(pipe:[" + p.pipeId() + "], F_SETFL)", SyscallNr.FCNTL, mine, F_SETFL,
                fd.flags() & FdHandlers.SETFL_MASK & ~Fcntl.O_ASYNC, 0);
        return new dev.cryo.kernel.Fd(mine);
    }

    @Override
    public long restore(FdImage fd, Pipe p, RestoreContext ctx) {
        if (p.fifoPath().isEmpty()) {
            dev.cryo.kernel.Fd mine = handedIn(fd, p, ctx);
            if (mine != null) {
                return ctx.take((int) ProcessHandle.current().pid(), mine.value());
            }
            return ctx.open(ctx.pipePath(p.pipeId(), p.readEnd()), FdHandlers.openFlags(fd));
        }
        ctx.fifoReady(p.pipeId());
        String path = p.deleted() != null ? ctx.pipePath(p.pipeId(), p.readEnd()) : p.fifoPath();
        int flags = FdHandlers.openFlags(fd);
        if (!p.readEnd()) {
            return ctx.open(path, flags);
        }
        // a reader that was not hung up opens while no writer exists, without blocking for one
        return ctx.openFifoReader(p.pipeId(), p.hungUp(), () -> {
            if (p.hungUp() || (flags & Fcntl.O_NONBLOCK) != 0) {
                return ctx.open(path, flags);
            }
            long got = ctx.open(path, flags | Fcntl.O_NONBLOCK);
            ctx.call("fcntl(F_SETFL)", SyscallNr.FCNTL, got, F_SETFL, fd.flags() & FdHandlers.SETFL_MASK & ~Fcntl.O_ASYNC);
            return got;
        });
    }

    /**
     * An anonymous pipe by its inode as /proc shows it (CRIU's name). A FIFO is none: its ends are
     * opened again by its path, which no given fd would stand in for.
     */
    @Override
    public String inheritName(Pipe p) {
        return p.fifoPath().isEmpty() ? "pipe:[" + p.pipeId() + "]" : null;
    }

    @Override
    public void show(Pipe p, Map<String, Object> m) {
        m.put("kind", "pipe");
        if (p.fifoPath().isEmpty()) {
            m.put("name", inheritName(p)); // as /proc names it, and --inherit-fd takes it
        }
        m.put("pipeId", p.pipeId());
        m.put("readEnd", p.readEnd());
        m.put("fifoPath", p.fifoPath());
        if (p.deleted() != null) {
            m.put("deleted", "mode 0" + Integer.toOctalString(p.deleted().mode()) + ", owner " + p.deleted().uid()
                    + ":" + p.deleted().gid());
        }
        m.put("dataBytes", p.data() == null ? 0 : p.data().length); // contents are the program's business
        m.put("size", p.size());
        if (!p.packets().isEmpty()) {
            m.put("packets", p.packets().size()); // a packet-mode pipe (O_DIRECT): a read takes one
        }
        if (p.hungUp()) {
            m.put("hungUp", true);
        }
    }
}
