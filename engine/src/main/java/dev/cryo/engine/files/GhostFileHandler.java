package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.codec.FileRefCodec;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;

/**
 * An open regular file that was deleted (or replaced at its path) since it was opened: its
 * contents travel as a ghost file of the task (up to the ghost limit); restore opens the
 * recreated file, which is unlinked again once every task holds it.
 */
public final class GhostFileHandler implements FdHandler<GhostFileHandler.GhostFd> {
    public static final int TAG = 30, RECORD_ID = 171;
    private static final String DELETED = " (deleted)";

    /**
     * The deleted file, by its identity at dump time (its contents are in a task's ghost files; its path the
     * one this fd reads), and the locks held through this fd: programs lock files they unlink at once (knotd's
     * LMDB lock file). {@code mountOf} (version 2): the pid of the task of the tree in whose mount namespace this
     * fd's mount is, 0 for cryo's ({@link dev.cryo.engine.model.GhostFile#mountOf}): one file held through two
     * mounts (a parent's bind and a child's, zdtm's mntns_link_ghost) comes back through both.
     */
    public record GhostFd(FileRef file, List<FileLocks.Lock> locks, int mountOf) implements FileDesc {
        public GhostFd {
            locks = List.copyOf(locks);
        }

        public GhostFd(FileRef file, List<FileLocks.Lock> locks) {
            this(file, locks, 0);
        }
    }

    static final RecordCodec<GhostFd> CODEC = RecordCodec.of(GhostFd.class, RECORD_ID, 2,
            (out, f) -> {
                RecordFields.writeRecord(out, FileRefCodec.INSTANCE, f.file());
                FileLocks.write(out, f.locks());
                out.writeVarInt(f.mountOf(), true);
            },
            (in, version) -> new GhostFd(RecordFields.readRecord(in, FileRefCodec.INSTANCE), FileLocks.read(in),
                    version >= 2 ? in.readVarInt(true) : 0));

    @Override
    public String kind() {
        return "deleted file";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<GhostFd> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().startsWith("/") && fd.target().endsWith(DELETED) && !fd.target().startsWith("/memfd:")
                && Files.isRegularFile(fd.procPath()) && !SecretMemfdHandler.isSecret(fd) && !RegularFileHandler.relookedUpProcFile(fd);
    }

    @Override
    public GhostFd dump(FdProbe fd, DumpContext ctx) {
        String path = fd.target().substring(0, fd.target().length() - DELETED.length());
        int links = links(fd);
        dev.cryo.engine.dump.GhostFiles.Linked other = links > 0
                ? ctx.ghostFiles().otherName(fd.pid(), fd.where(), path, fd.procPath()) : null;
        if (other != null) { // still linked under another name: that very file, linked to the deleted name again
            return new GhostFd(ctx.ghostFiles().carryLinked(fd.pid(), fd.where(), path, fd.procPath(), other),
                    FileLocks.dump(fd, ctx, true), ctx.ghostFiles().mountOf(fd.pid(), fd.where(), path, fd.procPath()));
        }
        if (links > 0) {
            // a copy would stand in for a file that is still there under another name: what the
            // program writes would no longer reach it (zdtm's unlink_fstat03)
            throw new dev.cryo.engine.DumpException(fd.where() + ": " + path + " was deleted but the file is still"
                    + " linked under another name (" + links + " link" + (links == 1 ? "" : "s") + "); restoring a copy"
                    + " would cut the program off from it: not supported yet");
        }
        FileRef file = ctx.ghostFiles().carry(fd.pid(), fd.where(), path, fd.procPath());
        return new GhostFd(file, FileLocks.dump(fd, ctx, true), ctx.ghostFiles().mountOf(fd.pid(), fd.where(), path,
                fd.procPath()));
    }

    private static int links(FdProbe fd) {
        try {
            return ((Number) Files.getAttribute(fd.procPath(), "unix:nlink")).intValue();
        } catch (java.io.IOException | RuntimeException e) {
            return 0; // cannot tell: carried as a deleted file, as before
        }
    }

    @Override
    public long restore(FdImage fd, GhostFd f, RestoreContext ctx) {
        int flags = FdHandlers.openFlags(fd);
        // shared anonymous memory opened through /proc/PID/map_files: the object the mappings share, not a copy
        String path = dev.cryo.engine.memory.DeletedFileMapping.SHMEM.contains(f.file().path())
                && ctx.hasSharedMemory(f.file().ino()) ? ctx.sharedMemoryPath(f.file().ino())
                : ctx.ghostPath(f.file(), f.mountOf());
        long tmp = (flags & Fcntl.O_NOFOLLOW) == 0 ? ctx.open(path, flags) : openNoFollow(path, flags, ctx);
        if (fd.position() != 0) {
            ctx.call("lseek", SyscallNr.LSEEK, tmp, fd.position(), 0);
        }
        return tmp;
    }

    /**
     * A deleted file opened with O_NOFOLLOW (Python's tempfile opens every file so), which its
     * flags keep: the file is reached through a /proc/PID/fd link, which O_NOFOLLOW refuses (ELOOP),
     * so the task opens it by its file handle, found through an fd of its own of that link.
     * Where the file system gives no handles the file is opened without O_NOFOLLOW (it only matters
     * to the open itself; fcntl(F_GETFL) no longer shows it).
     */
    private static long openNoFollow(String path, int flags, RestoreContext ctx) {
        long via = ctx.open(path, Fcntl.O_RDONLY | Fcntl.O_CLOEXEC);
        try {
            // struct file_handle (handle_bytes, handle_type, f_handle[128]), the mount id, an empty path
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + dev.cryo.kernel.FileHandles.MAX_HANDLE_BYTES + 8).order(java.nio.ByteOrder.nativeOrder());
            b.putInt(0, dev.cryo.kernel.FileHandles.MAX_HANDLE_BYTES);
            long at = ctx.put(b.array());
            long handle = at, mountId = at + 8 + dev.cryo.kernel.FileHandles.MAX_HANDLE_BYTES, empty = mountId + 4;
            try {
                ctx.call("name_to_handle_at(" + path + ")", SyscallNr.NAME_TO_HANDLE_AT, via, empty, handle, mountId,
                        Fcntl.AT_EMPTY_PATH);
                return ctx.call("open_by_handle_at(" + path + ")", SyscallNr.OPEN_BY_HANDLE_AT, via, handle, flags);
            } catch (RuntimeException noHandles) {
                return ctx.open(path, flags & ~Fcntl.O_NOFOLLOW);
            }
        } finally {
            ctx.call("close", SyscallNr.CLOSE, via);
        }
    }

    @Override
    public void show(GhostFd g, Map<String, Object> m) {
        m.put("kind", "deleted file");
        m.put("path", g.file().path());
        m.put("ino", g.file().ino());
        m.put("size", g.file().size());
        if (g.mountOf() != 0) {
            m.put("mountOf", g.mountOf());
        }
        FileLocks.show(g.locks(), m);
    }
}
