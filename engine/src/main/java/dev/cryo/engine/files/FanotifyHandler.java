package dev.cryo.engine.files;

import static dev.cryo.kernel.FanotifyAbi.*;

import dev.cryo.kernel.Fcntl;
import com.esotericsoftware.kryo.KryoException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.SyscallNr;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cryo.engine.show.ShowFormat.hex;

import static dev.cryo.kernel.Fcntl.F_SETFL;
import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_NOFOLLOW;
import static dev.cryo.kernel.Fcntl.O_PATH;

/**
 * fanotify: fdinfo gives the group's fanotify_init flags and event_f_flags and every mark — on an
 * inode (by file handle, see {@link WatchTargets}), on a mount (by mount id) or on a whole
 * filesystem (by device) — with its mask, ignored mask and mark flags. Restore calls fanotify_init
 * with the same flags and marks each target again by its path. Unread events are refused at dump
 * time, and so are the permission classes: an event a program read but has not answered yet holds
 * another process in the kernel, which cryo cannot see from outside.
 */
public final class FanotifyHandler implements FdHandler<FanotifyHandler.Fanotify> {
    public static final int TAG = 71, RECORD_ID = 271;
    /** Mark kinds, persisted. */
    public static final int INODE = 0, MOUNT = 1, FILESYSTEM = 2;

    /** A fanotify group: its fanotify_init flags and event_f_flags, and its marks. */
    public record Fanotify(int initFlags, int eventFlags, List<Mark> marks) implements FileDesc {
        public Fanotify {
            marks = List.copyOf(marks);
        }

        /**
         * One mark: {@link #INODE}, {@link #MOUNT} or {@link #FILESYSTEM}; the mark flags fdinfo
         * shows (FAN_MARK_IGNORED_SURV_MODIFY, FAN_MARK_EVICTABLE, FAN_MARK_IGNORE); the path of
         * the inode, mount point or a mount point of the filesystem; and the inode number or
         * mount id it was found by.
         */
        public record Mark(int type, int flags, int mask, int ignoredMask, String path, long id) {}
    }

    static final RecordCodec<Fanotify> CODEC = RecordCodec.of(Fanotify.class, RECORD_ID, 1, (out, f) -> {
        if (f.marks().size() > ModelLimits.FDS) {
            throw new IllegalArgumentException("Fanotify.marks has " + f.marks().size() + " entries, more than "
                    + ModelLimits.FDS);
        }
        out.writeInt(f.initFlags());
        out.writeInt(f.eventFlags());
        out.writeVarInt(f.marks().size(), true);
        for (Fanotify.Mark m : f.marks()) {
            out.writeVarInt(m.type(), true);
            out.writeInt(m.flags());
            out.writeInt(m.mask());
            out.writeInt(m.ignoredMask());
            ModelFields.writeText(out, m.path(), ModelLimits.PATH, "Fanotify.Mark.path");
            out.writeLong(m.id());
        }
    }, (in, version) -> {
        int initFlags = in.readInt(), eventFlags = in.readInt();
        int n = in.readVarInt(true);
        if (n < 0 || n > ModelLimits.FDS) {
            throw new KryoException("Fanotify.marks: list length " + n + " exceeds the limit of " + ModelLimits.FDS);
        }
        List<Fanotify.Mark> marks = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int type = in.readVarInt(true);
            if (type < INODE || type > FILESYSTEM) {
                throw new KryoException("Fanotify.Mark.type " + type + " is not a mark kind");
            }
            marks.add(new Fanotify.Mark(type, in.readInt(), in.readInt(), in.readInt(),
                    ModelFields.readText(in, ModelLimits.PATH, "Fanotify.Mark.path"), in.readLong()));
        }
        return new Fanotify(initFlags, eventFlags, marks);
    });

    @Override
    public String kind() {
        return "fanotify";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<Fanotify> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[fanotify]");
    }

    @Override
    public Fanotify dump(FdProbe fd, DumpContext ctx) throws IOException {
        String groupLine = "flags:" + fd.info().value("fanotify flags").orElseThrow(
                () -> new IOException("fdinfo has no 'fanotify flags' line"));
        Map<String, String> group = WatchTargets.fields(groupLine);
        int initFlags = (int) WatchTargets.hex(group, "flags", groupLine);
        if ((initFlags & FAN_CLASS_BITS) != 0) {
            throw new IOException("a fanotify group of a permission class (FAN_CLASS_CONTENT or FAN_CLASS_PRE_CONTENT) "
                    + "is not supported yet: an event read but not answered cannot be seen from outside");
        }
        int eventFlags = (int) WatchTargets.hex(group, "event-flags", groupLine);
        WatchTargets.requireEmptyQueue(fd, "fanotify", ctx);
        List<Fanotify.Mark> marks = new ArrayList<>();
        for (String v : fd.info().values("fanotify ino")) {
            String line = "ino:" + v;
            Map<String, String> f = WatchTargets.fields(line);
            long ino = WatchTargets.hex(f, "ino", line);
            String path;
            try {
                path = WatchTargets.target(f, line, null, fd.pid()).path();
            } catch (IOException e) {
                throw new IOException("fanotify mark on inode " + ino + ": " + e.getMessage(), e);
            }
            marks.add(mark(INODE, f, line, path, ino));
        }
        for (String v : fd.info().values("fanotify mnt_id")) {
            String line = "mnt_id:" + v;
            Map<String, String> f = WatchTargets.fields(line);
            int mntId = (int) WatchTargets.hex(f, "mnt_id", line);
            String path = WatchTargets.mountPoint(mntId, fd.pid()).orElseThrow(
                    () -> new IOException("fanotify mark on mount " + mntId + ": no such mount here"));
            marks.add(mark(MOUNT, f, line, path, mntId));
        }
        for (String v : fd.info().values("fanotify sdev")) {
            String line = "sdev:" + v;
            Map<String, String> f = WatchTargets.fields(line);
            long sdev = WatchTargets.hex(f, "sdev", line);
            String path = WatchTargets.mountPointOf(sdev, fd.pid()).orElseThrow(() -> new IOException("fanotify mark on "
                    + "filesystem " + WatchTargets.major(sdev) + ":" + WatchTargets.minor(sdev) + ": no mount of it here"));
            marks.add(mark(FILESYSTEM, f, line, path, sdev));
        }
        return new Fanotify(initFlags, eventFlags, marks);
    }

    private static Fanotify.Mark mark(int type, Map<String, String> f, String line, String path, long id) throws IOException {
        return new Fanotify.Mark(type, (int) WatchTargets.hex(f, "mflags", line), (int) WatchTargets.hex(f, "mask", line),
                (int) WatchTargets.hex(f, "ignored_mask", line), path, id);
    }

    @Override
    public long restore(FdImage fd, Fanotify g, RestoreContext ctx) {
        long gfd = ctx.call("fanotify_init", SyscallNr.FANOTIFY_INIT, g.initFlags() & 0xffffffffL,
                g.eventFlags() & 0xffffffffL);
        if (((g.initFlags() & FAN_NONBLOCK) != 0) != ((fd.flags() & Fcntl.O_NONBLOCK) != 0)) {
            // the program changed O_NONBLOCK with fcntl since: fdinfo's group flags keep the original
            // O_ASYNC is FileRestore's, on the final number: set here, its signals would name this one
            ctx.call("fcntl(F_SETFL)", SyscallNr.FCNTL, gfd, F_SETFL, fd.flags() & FdHandlers.SETFL_MASK & ~dev.cryo.kernel.Fcntl.O_ASYNC);
        }
        for (Fanotify.Mark m : g.marks()) {
            long target = ctx.open(m.path(), O_PATH | O_CLOEXEC | (m.type() == INODE ? O_NOFOLLOW : 0));
            try {
                // fanotify_mark refuses an O_PATH fd as dirfd: mark through its /proc/self/fd link
                long path = ctx.put(RemoteWriter.cString("/proc/self/fd/" + target));
                int where = FAN_MARK_ADD | switch (m.type()) {
                    case MOUNT -> FAN_MARK_MOUNT;
                    case FILESYSTEM -> FAN_MARK_FILESYSTEM;
                    default -> 0;
                } | (m.flags() & FAN_MARK_EVICTABLE);
                if (m.mask() != 0) {
                    ctx.call("fanotify_mark(" + m.path() + ", mask " + hex(m.mask()) + ")", SyscallNr.FANOTIFY_MARK,
                            gfd, where, m.mask() & 0xffffffffL, -100, path);
                }
                if (m.ignoredMask() != 0) {
                    int ignore = (m.flags() & FAN_MARK_IGNORE) != 0 ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK;
                    ctx.call("fanotify_mark(" + m.path() + ", ignored mask " + hex(m.ignoredMask()) + ")",
                            SyscallNr.FANOTIFY_MARK, gfd, where | ignore | (m.flags() & FAN_MARK_IGNORED_SURV_MODIFY),
                            m.ignoredMask() & 0xffffffffL, -100, path);
                }
            } finally {
                ctx.call("close", SyscallNr.CLOSE, target);
            }
        }
        return gfd;
    }

    @Override
    public void show(Fanotify g, Map<String, Object> m) {
        m.put("kind", "fanotify");
        m.put("initFlags", hex(g.initFlags() & 0xffffffffL));
        m.put("eventFlags", hex(g.eventFlags() & 0xffffffffL));
        List<Map<String, Object>> marks = new ArrayList<>();
        for (Fanotify.Mark k : g.marks()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("type", switch (k.type()) {
                case MOUNT -> "mount";
                case FILESYSTEM -> "filesystem";
                default -> "inode";
            });
            x.put("path", k.path());
            x.put(k.type() == INODE ? "ino" : k.type() == MOUNT ? "mntId" : "sdev", k.id());
            x.put("flags", hex(k.flags() & 0xffffffffL));
            x.put("mask", hex(k.mask() & 0xffffffffL));
            x.put("ignoredMask", hex(k.ignoredMask() & 0xffffffffL));
            marks.add(x);
        }
        m.put("marks", marks);
    }
}
