package dev.cryo.engine.files;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.DetachedTmpfs;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A regular file held open on a mount that no namespace has attached any more and that its path does
 * not reach ({@link MountReach#detachedFrom}), of two kinds CRIU carries:
 * <ul>
 * <li>on a tmpfs unmounted with {@code umount -l} while the file was open, whose file system no attached
 * mount shows (zdtm's detached_mount): nothing but the fd reaches that tmpfs, so the fd is all of it that
 * counts. The file's path from the mount's root, owner, mode and bytes (up to the ghost limit) are carried,
 * with the tmpfs's size; restore makes a tmpfs mounted nowhere (fsopen, fsmount) with the file at that path.
 * A second open file of one such tmpfs is refused: each would come back on a tmpfs of its own;</li>
 * <li>on a bind mount unmounted so while its source stays mounted (zdtm's detached_bind_mount): the point of
 * a mount of the task's namespace through which the path reaches that very file is carried; restore opens
 * the file through a detached clone of that mount (open_tree(OPEN_TREE_CLONE), as the task sees it).</li>
 * </ul>
 * Either way the task takes the file opened with the fd's flags, at its position, its link naming the same
 * path and its mount attached nowhere, as before.
 */
public final class DetachedMountFileHandler implements FdHandler<DetachedMountFileHandler.DetachedFile> {
    /** zfix48's ranges: tags 1850-1859, records 5270-5289. */
    public static final int TAG = 1851, RECORD_ID = 5271;

    /**
     * {@code path}: the file's path from the mount's root (the fd's link); {@code clonedFrom}: the mount point
     * of the task's namespace it is reached through again, "" for a tmpfs of its own; {@code mountId}: the
     * detached mount's id at the dump (shown only); for a tmpfs of its own, {@code fsBytes} its size (f_blocks by
     * f_bsize), the file's mode, owner and {@code contents}.
     */
    public record DetachedFile(String path, String clonedFrom, long mountId, long fsBytes, int mode, int uid, int gid,
                               byte[] contents) implements FileDesc {}

    static final RecordCodec<DetachedFile> CODEC = RecordCodec.of(DetachedFile.class, RECORD_ID, 1,
            DetachedMountFileHandler::write, DetachedMountFileHandler::read);

    private static void write(Output out, DetachedFile f) {
        RecordFields.writeString(out, f.path());
        RecordFields.writeString(out, f.clonedFrom());
        out.writeVarLong(f.mountId(), true);
        out.writeVarLong(f.fsBytes(), true);
        out.writeInt(f.mode());
        out.writeInt(f.uid());
        out.writeInt(f.gid());
        RecordFields.writeBytes(out, f.contents());
    }

    private static DetachedFile read(Input in, int version) {
        return new DetachedFile(RecordFields.readString(in, 4096), RecordFields.readString(in, 4096),
                in.readVarLong(true), in.readVarLong(true), in.readInt(), in.readInt(), in.readInt(),
                RecordFields.readBytes(in, Integer.MAX_VALUE - 8));
    }

    @Override
    public String kind() {
        return "file on a detached mount";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<DetachedFile> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return from(fd) != null;
    }

    /** {@link MountReach#detachedFrom} for a regular file's fd, a tmpfs's only when its mount is alone; null: not this kind. */
    private static String from(FdProbe fd) {
        String t = fd.target();
        if (!t.startsWith("/") || t.endsWith(" (deleted)") || !Files.isRegularFile(fd.procPath())) {
            return null;
        }
        try {
            String from = new MountReach(fd.pid()).detachedFrom(fd.procPath().toString(), t);
            return from != null && from.isEmpty() && Sys.fsMagic(fd.procPath().toString()) != Sys.TMPFS_MAGIC ? null : from;
        } catch (RuntimeException closedMeanwhile) {
            return null;
        }
    }

    @Override
    public DetachedFile dump(FdProbe fd, DumpContext ctx) throws IOException {
        Path link = fd.procPath();
        String from = from(fd);
        if (from == null) {
            throw new DumpException(fd.where() + ": " + fd.target() + " left its detached mount while the tree was frozen");
        }
        long mountId = Sys.mountId(link.toString());
        if (!from.isEmpty()) {
            return new DetachedFile(fd.target(), from, mountId, 0, 0, 0, 0, new byte[0]);
        }
        String other = ctx.claimDetachedMount(mountId, fd.where());
        if (other != null) {
            throw new DumpException(fd.where() + ": " + fd.target() + " is on a detached tmpfs (mount id " + mountId
                    + ") that " + other + " holds a file of too: a restore makes a tmpfs for each open file, and the two"
                    + " would no longer share one; not supported yet");
        }
        long size = Files.size(link);
        ctx.ghostFiles().claimInRecord(fd.pid(), fd.where(), fd.target() + " on a detached tmpfs", size);
        Map<String, Object> a = Files.readAttributes(link, "unix:mode,uid,gid");
        return new DetachedFile(fd.target(), "", mountId, Sys.fsBytes(link.toString()), (Integer) a.get("mode") & 07777,
                (Integer) a.get("uid"), (Integer) a.get("gid"), Files.readAllBytes(link));
    }

    @Override
    public long restore(FdImage fd, DetachedFile f, RestoreContext ctx) {
        if (!f.clonedFrom().isEmpty()) {
            try (Fd clone = Namespaces.cloneSeenBy(Pid.of(ctx.taskPid()), f.clonedFrom())) {
                return open(fd, Path.of("/proc/self/fd/" + clone.value(), f.path().substring(1)), ctx);
            }
        }
        try (DetachedTmpfs fs = DetachedTmpfs.make(f.fsBytes())) {
            Path file = fs.path(f.path());
            Files.createDirectories(file.getParent());
            Files.write(file, f.contents());
            Files.setAttribute(file, "unix:uid", f.uid());
            Files.setAttribute(file, "unix:gid", f.gid());
            Files.setAttribute(file, "unix:mode", f.mode());
            return open(fd, file, ctx);
        } catch (IOException e) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + ctx.taskPid() + " fd " + fd.fd() + ": cannot make "
                    + f.path() + " again on a detached tmpfs: " + e.getMessage());
        }
    }

    /** Opens {@code file} (reached through cryo's fd of its mount) with the fd's flags; the task takes it at its position. */
    private static long open(FdImage fd, Path file, RestoreContext ctx) {
        try (Fd own = Sys.open(file.toString(), FdHandlers.openFlags(fd))) {
            long tmp = ctx.take((int) ProcessHandle.current().pid(), own.value());
            if (fd.position() != 0) {
                ctx.call("lseek", SyscallNr.LSEEK, tmp, fd.position(), 0);
            }
            return tmp;
        }
    }

    @Override
    public void show(DetachedFile f, Map<String, Object> out) {
        out.put("kind", "file on a detached mount");
        out.put("path", f.path());
        out.put("mountId", f.mountId());
        if (!f.clonedFrom().isEmpty()) {
            out.put("clonedFrom", f.clonedFrom());
            return;
        }
        out.put("fsBytes", f.fsBytes());
        out.put("mode", Integer.toOctalString(f.mode()));
        out.put("owner", f.uid() + ":" + f.gid());
        out.put("bytes", f.contents().length);
    }
}
