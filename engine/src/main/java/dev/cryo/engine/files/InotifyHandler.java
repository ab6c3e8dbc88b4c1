package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import com.esotericsoftware.kryo.KryoException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.codec.FileRefCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.SyscallNr;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static dev.cryo.engine.show.ShowFormat.hex;

import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_NOFOLLOW;
import static dev.cryo.kernel.Fcntl.O_PATH;

/**
 * inotify: fdinfo lists every watch (wd, mask, and the watched inode as device, inode number and
 * file handle). Dump finds each inode's path by its handle ({@link WatchTargets}); restore makes a
 * new instance and adds every watch again with its own wd: INOTIFY_IOC_SETNEXTWD before each add
 * (the kernel hands out the next free wd from there), then the add goes through an O_PATH fd of
 * the target, so a watch on a symlink watches the link. Unread events are refused at dump time.
 * A watch on a file deleted since (CRIU's zdtm inotify00: the program still holds it open) carries
 * the file as a ghost file and watches the recreated one.
 */
public final class InotifyHandler implements FdHandler<InotifyHandler.Inotify> {
    public static final int TAG = 70, RECORD_ID = 270;
    /** _IOW('I', 0, __u32); needs CONFIG_CHECKPOINT_RESTORE. */
    private static final long INOTIFY_IOC_SETNEXTWD = 0x40044900L;

    /** An inotify instance and its watches. */
    public record Inotify(List<Watch> watches) implements FileDesc {
        public Inotify {
            watches = List.copyOf(watches);
        }

        /**
         * One watch: its descriptor, its mask as fdinfo shows it, and the watched inode's path and
         * number; {@code ghost}: the watched file was deleted (the tree still holds it open), the
         * dump carries it as a ghost file and restore watches the recreated one (null otherwise);
         * {@code mountOf} (version 2): the pid of a task of the tree in another mount namespace, whose
         * mount the path names (0: the holder's own view).
         */
        public record Watch(int wd, int mask, String path, long ino, dev.cryo.engine.model.FileRef ghost, int mountOf) {
            public Watch(int wd, int mask, String path, long ino) {
                this(wd, mask, path, ino, null, 0);
            }

            public Watch(int wd, int mask, String path, long ino, dev.cryo.engine.model.FileRef ghost) {
                this(wd, mask, path, ino, ghost, 0);
            }
        }
    }

    static final RecordCodec<Inotify> CODEC = RecordCodec.of(Inotify.class, RECORD_ID, 2, (out, e) -> {
        if (e.watches().size() > ModelLimits.FDS) {
            throw new IllegalArgumentException("Inotify.watches has " + e.watches().size() + " entries, more than "
                    + ModelLimits.FDS);
        }
        out.writeVarInt(e.watches().size(), true);
        for (Inotify.Watch w : e.watches()) {
            out.writeVarInt(w.wd(), true);
            out.writeInt(w.mask());
            ModelFields.writeText(out, w.path(), ModelLimits.PATH, "Inotify.Watch.path");
            out.writeLong(w.ino());
            RecordFields.writeNullable(out, w.ghost(), (o, g) -> RecordFields.writeRecord(o, FileRefCodec.INSTANCE, g));
            out.writeVarInt(w.mountOf(), true);
        }
    }, (in, version) -> {
        int n = in.readVarInt(true);
        if (n < 0 || n > ModelLimits.FDS) {
            throw new KryoException("Inotify.watches: list length " + n + " exceeds the limit of " + ModelLimits.FDS);
        }
        List<Inotify.Watch> watches = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            watches.add(new Inotify.Watch(in.readVarInt(true), in.readInt(),
                    ModelFields.readText(in, ModelLimits.PATH, "Inotify.Watch.path"), in.readLong(),
                    RecordFields.readNullable(in, r -> RecordFields.readRecord(r, FileRefCodec.INSTANCE)),
                    version >= 2 ? in.readVarInt(true) : 0));
        }
        return new Inotify(watches);
    });

    @Override
    public String kind() {
        return "inotify";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<Inotify> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:inotify");
    }

    @Override
    public Inotify dump(FdProbe fd, DumpContext ctx) throws IOException {
        WatchTargets.requireEmptyQueue(fd, "inotify", ctx);
        List<Inotify.Watch> watches = new ArrayList<>();
        for (String v : fd.info().values("inotify wd")) {
            String line = "wd:" + v;
            Map<String, String> f = WatchTargets.fields(line);
            int wd = (int) WatchTargets.hex(f, "wd", line);
            String where = fd.where() + " inotify watch " + wd;
            try {
                WatchTargets.Target target = WatchTargets.target(f, line,
                        (path, source) -> ctx.ghostFiles().carry(fd.pid(), where, path, source), fd.pid(), ctx.treePids());
                watches.add(new Inotify.Watch(wd, (int) WatchTargets.hex(f, "mask", line), target.path(),
                        WatchTargets.hex(f, "ino", line), target.ghost(), target.mountOf()));
            } catch (IOException e) {
                throw new IOException("inotify watch " + wd + ": " + e.getMessage(), e);
            }
        }
        watches.sort(Comparator.comparingInt(Inotify.Watch::wd));
        return new Inotify(watches);
    }

    @Override
    public long restore(FdImage fd, Inotify n, RestoreContext ctx) {
        long ifd = ctx.call("inotify_init1", SyscallNr.INOTIFY_INIT1, fd.flags() & (Fcntl.O_NONBLOCK | O_CLOEXEC));
        for (Inotify.Watch w : n.watches()) {
            // a deleted file is watched through the recreated one (already unlinked again, as it was)
            long target = w.ghost() != null ? ctx.open(ctx.ghostPath(w.ghost()), O_PATH | O_CLOEXEC)
                    : w.mountOf() != 0 ? ctx.openSeenBy(w.mountOf(), w.path(), O_PATH | O_NOFOLLOW | O_CLOEXEC) // that namespace's mount
                    : ctx.open(w.path(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
            try {
                ctx.call("ioctl(INOTIFY_IOC_SETNEXTWD, " + w.wd() + ") (needs CONFIG_CHECKPOINT_RESTORE)",
                        SyscallNr.IOCTL, ifd, INOTIFY_IOC_SETNEXTWD, w.wd());
                long path = ctx.put(RemoteWriter.cString("/proc/self/fd/" + target));
                long got = ctx.call("inotify_add_watch(" + w.path() + ")", SyscallNr.INOTIFY_ADD_WATCH, ifd, path,
                        w.mask() & 0xffffffffL);
                if (got != w.wd()) {
                    throw new RestoreException("inotify watch " + w.wd() + " on " + w.path() + " came back as watch "
                            + got + " (another watch of this instance already names that file)");
                }
            } finally {
                ctx.call("close", SyscallNr.CLOSE, target);
            }
        }
        return ifd;
    }

    @Override
    public void show(Inotify n, Map<String, Object> m) {
        m.put("kind", "inotify");
        List<Map<String, Object>> watches = new ArrayList<>();
        for (Inotify.Watch w : n.watches()) {
            Map<String, Object> x = new java.util.LinkedHashMap<>();
            x.put("wd", w.wd());
            x.put("mask", hex(w.mask() & 0xffffffffL));
            x.put("path", w.path());
            x.put("ino", w.ino());
            if (w.mountOf() != 0) {
                x.put("mountOf", w.mountOf()); // a mount of that task's namespace, not the holder's
            }
            if (w.ghost() != null) {
                x.put("deleted", true); // watched again on the recreated file, unlinked as it was
            }
            watches.add(x);
        }
        m.put("watches", watches);
    }
}
