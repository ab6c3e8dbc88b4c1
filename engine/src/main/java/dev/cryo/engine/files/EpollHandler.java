package dev.cryo.engine.files;

import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Fcntl;
import com.esotericsoftware.kryo.KryoException;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelLimits;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.cryo.engine.show.ShowFormat.hex;

/**
 * epoll: fdinfo lists every watched fd with its event mask and user data; restore creates a new
 * instance and adds them again, after every other fd of the task is in place.
 */
public final class EpollHandler implements FdHandler<EpollHandler.Epoll> {
    public static final int TAG = 6, RECORD_ID = 116;
    private static final int EPOLL_CTL_ADD = 1;
    private static final Pattern WATCH = Pattern.compile("(\\d+)\\s+events:\\s*([0-9a-fA-F]+)\\s+data:\\s*([0-9a-fA-F]+)");
    private static final Pattern TARGET = Pattern.compile("ino:\\s*([0-9a-fA-F]+)");

    /** An epoll instance and what it watches: fds of the same task, their event masks and data. */
    public record Epoll(List<Watch> watches) implements FileDesc {
        public Epoll {
            watches = List.copyOf(watches);
        }

        public record Watch(int fd, int events, long data) {}
    }

    static final RecordCodec<Epoll> CODEC = RecordCodec.of(Epoll.class, RECORD_ID, 1, (out, e) -> {
        if (e.watches().size() > ModelLimits.FDS) {
            throw new IllegalArgumentException("Epoll.watches has " + e.watches().size() + " entries, more than "
                    + ModelLimits.FDS);
        }
        out.writeVarInt(e.watches().size(), true);
        for (Epoll.Watch w : e.watches()) {
            out.writeVarInt(w.fd(), true);
            out.writeInt(w.events());
            out.writeLong(w.data());
        }
    }, (in, version) -> {
        int n = in.readVarInt(true);
        if (n < 0 || n > ModelLimits.FDS) {
            throw new KryoException("Epoll.watches: list length " + n + " exceeds the limit of " + ModelLimits.FDS);
        }
        List<Epoll.Watch> watches = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            watches.add(new Epoll.Watch(in.readVarInt(true), in.readInt(), in.readLong()));
        }
        return new Epoll(watches);
    });

    @Override
    public String kind() {
        return "epoll";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<Epoll> codec() {
        return CODEC;
    }

    @Override
    public boolean restoresLast() {
        return true;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[eventpoll]");
    }

    @Override
    public Epoll dump(FdProbe fd, DumpContext ctx) {
        ctx.requireUnshared(fd, kind());
        List<Epoll.Watch> watches = new ArrayList<>();
        for (String line : fd.info().values("tfd")) {
            Matcher m = WATCH.matcher(line);
            if (!m.find()) {
                throw new IllegalStateException(fd.where() + ": cannot read epoll watch '" + line + "' in fdinfo");
            }
            int tfd = Integer.parseInt(m.group(1));
            requireStillOpen(fd, tfd, line);
            watches.add(new Epoll.Watch(tfd, (int) Long.parseLong(m.group(2), 16),
                    Long.parseUnsignedLong(m.group(3), 16)));
        }
        return new Epoll(watches);
    }

    /**
     * A watch is keyed by the file and the fd number it was added through; the program may have
     * closed that fd (or put another file there) while the file stays open at another fd and
     * watched. Restore adds watches by fd number, so such a watch is refused rather than lost.
     */
    private static void requireStillOpen(FdProbe fd, int tfd, String line) {
        Matcher t = TARGET.matcher(line);
        if (!t.find()) {
            return; // kernels without ino/sdev in the line: nothing to compare
        }
        long ino = Long.parseUnsignedLong(t.group(1), 16);
        java.nio.file.Path p = java.nio.file.Path.of("/proc/" + fd.pid() + "/fd/" + tfd);
        String why;
        try {
            long now = ((Number) java.nio.file.Files.getAttribute(p, "unix:ino")).longValue();
            if (now == ino) {
                return;
            }
            why = "fd " + tfd + " now holds another file";
        } catch (java.io.IOException e) {
            why = "fd " + tfd + " was closed";
        }
        throw new DumpException(fd.where() + ": epoll watches a file through fd " + tfd + ", but " + why
                + " (the file is still watched, inode " + ino + "); a watch whose fd was closed is not supported yet");
    }

    @Override
    public long restore(FdImage fd, Epoll e, RestoreContext ctx) {
        long epfd = ctx.call("epoll_create1", SyscallNr.EPOLL_CREATE1, fd.flags() & Fcntl.O_CLOEXEC);
        for (Epoll.Watch w : e.watches()) {
            // struct epoll_event is packed on x86_64: u32 events, u64 data
            long ev = ctx.put(ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(w.events())
                    .putLong(w.data()).array());
            ctx.call("epoll_ctl(ADD " + w.fd() + ")", SyscallNr.EPOLL_CTL, epfd, EPOLL_CTL_ADD, w.fd(), ev);
        }
        return epfd;
    }

    @Override
    public void show(Epoll e, Map<String, Object> m) {
        m.put("kind", "epoll");
        m.put("watches", e.watches().stream().map(w -> Map.of("fd", w.fd(), "events", hex(w.events()),
                "data", hex(w.data()))).toList());
    }
}
