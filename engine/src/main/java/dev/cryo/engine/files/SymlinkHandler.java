package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;

/**
 * An fd of a symlink itself, opened with {@code O_PATH | O_NOFOLLOW} (zdtm's symlink): opened again
 * the same way at its path, which must still be a symlink reading the same target. One removed since
 * (zdtm's symlink01) is made again at its path with its target and owner, opened, and removed again;
 * its path must be free then, its directory still there. Paths are the task's (its root and mount
 * namespace: zdtm's ns flavor), looked at as it sees them.
 */
public final class SymlinkHandler implements FdHandler<SymlinkHandler.Symlink> {
    public static final int TAG = 300, RECORD_ID = 800;
    private static final String DELETED = " (deleted)";

    /** The symlink's path and what it reads (checked at restore); a removed one's owner. */
    public record Symlink(String path, String target, boolean removed, int uid, int gid) implements FileDesc {
        public Symlink(String path, String target) {
            this(path, target, false, 0, 0);
        }
    }

    static final RecordCodec<Symlink> CODEC = RecordCodec.of(Symlink.class, RECORD_ID, 2, (out, s) -> {
        ModelFields.writeText(out, s.path(), ModelLimits.PATH, "Symlink.path");
        ModelFields.writeText(out, s.target(), ModelLimits.PATH, "Symlink.target");
        out.writeBoolean(s.removed());
        out.writeVarInt(s.uid(), true);
        out.writeVarInt(s.gid(), true);
    }, (in, version) -> {
        String path = ModelFields.readText(in, ModelLimits.PATH, "Symlink.path");
        String target = ModelFields.readText(in, ModelLimits.PATH, "Symlink.target");
        return version < 2 ? new Symlink(path, target)
                : new Symlink(path, target, in.readBoolean(), in.readVarInt(true), in.readVarInt(true));
    });

    @Override
    public String kind() {
        return "symlink";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<Symlink> codec() {
        return CODEC;
    }

    @Override
    public boolean reopensByPath(FdProbe fd) {
        return true;
    }

    /** The /proc link leads to the file the fd holds: for such an fd, the symlink itself. */
    @Override
    public boolean handles(FdProbe fd) {
        try {
            return fd.target().startsWith("/")
                    && Files.readAttributes(fd.procPath(), BasicFileAttributes.class).isSymbolicLink();
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public Symlink dump(FdProbe fd, DumpContext ctx) throws IOException {
        boolean removed = fd.target().endsWith(DELETED);
        String path = removed ? fd.target().substring(0, fd.target().length() - DELETED.length()) : fd.target();
        String target;
        try (dev.cryo.kernel.Fd link = dev.cryo.kernel.Sys.open(fd.procPath().toString(), dev.cryo.kernel.Fcntl.O_PATH)) {
            target = dev.cryo.kernel.Sys.readlinkAt(link, ""); // the link itself: /proc's leads to it, not through it
        }
        Map<String, Object> held = Files.readAttributes(fd.procPath(), "unix:dev,ino,uid,gid");
        String why = asTheTaskSees(fd.pid().value(), () -> {
            Path at = Path.of(path);
            if (removed) {
                return !Files.isDirectory(at.getParent()) ? "its directory is gone too"
                        : Files.exists(at, LinkOption.NOFOLLOW_LINKS) ? "another file is at its path now" : null;
            }
            return Files.isSymbolicLink(at) && held.get("ino").equals(Files.getAttribute(at, "unix:ino", LinkOption.NOFOLLOW_LINKS))
                    && held.get("dev").equals(Files.getAttribute(at, "unix:dev", LinkOption.NOFOLLOW_LINKS)) ? null
                    : "it is no longer at that path";
        });
        if (why != null) {
            throw new DumpException(fd.where() + ": symlink " + fd.target() + " (an O_PATH fd of the link itself)"
                    + (removed ? " was removed, and " : ": ") + why + "; not supported");
        }
        return new Symlink(path, target, removed, ((Number) held.get("uid")).intValue(), ((Number) held.get("gid")).intValue());
    }

    /** {@code look} run as task {@code pid} sees the files (its root and mount namespace), here when they are cryo's. */
    private static <T> T asTheTaskSees(int pid, java.util.concurrent.Callable<T> look) throws IOException {
        try {
            boolean own = !RegularFileHandler.inOtherMountNamespace(pid)
                    && "/".equals(dev.cryo.kernel.proc.ProcFs.root(dev.cryo.kernel.Pid.of(pid)));
            return own ? look.call() : dev.cryo.kernel.Namespaces.seenBy(dev.cryo.kernel.Pid.of(pid), look);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    @Override
    public long restore(FdImage fd, Symlink s, RestoreContext ctx) {
        int flags = FdHandlers.openFlags(fd) | dev.cryo.kernel.Fcntl.O_NOFOLLOW | dev.cryo.kernel.Fcntl.O_PATH;
        if (!s.removed()) {
            long opened = ctx.open(s.path(), flags);
            String now = readsNow(ctx.taskPid(), opened);
            if (ctx.taskPid() != 0 && !s.target().equals(now)) {
                throw new RestoreException("fd " + fd.fd() + ": symlink " + s.path() + " reading " + s.target()
                        + (now == null ? " is gone" : " reads " + now + " now"));
            }
            return opened;
        }
        byte[] t = (s.target() + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] p = (s.path() + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] both = java.util.Arrays.copyOf(t, t.length + p.length);
        System.arraycopy(p, 0, both, t.length, p.length);
        long at = ctx.put(both);
        ctx.call("symlink(" + s.target() + ", " + s.path() + ") for the removed symlink of fd " + fd.fd(),
                SyscallNr.SYMLINK, at, at + t.length);
        try {
            owner(s, ctx, at + t.length);
            return ctx.open(s.path(), flags);
        } finally {
            ctx.call("unlink(" + s.path() + ")", SyscallNr.UNLINK, ctx.put(p));
        }
    }

    /**
     * The link made again gets its dumped owner, given by cryo through the task's root: the ids are as cryo
     * names them, and a task inside a user namespace names others (zdtm's symlink01 in its uns flavor).
     */
    private static void owner(Symlink s, RestoreContext ctx, long remotePath) {
        if (ctx.taskPid() == 0 || !s.path().startsWith("/")) {
            ctx.call("lchown(" + s.path() + ", " + s.uid() + ", " + s.gid() + ")", SyscallNr.LCHOWN, remotePath, s.uid(), s.gid());
            return;
        }
        dev.cryo.kernel.Sys.lchown("/proc/" + ctx.taskPid() + "/root" + s.path(), s.uid(), s.gid());
    }

    /** What the symlink fd {@code fd} of task {@code pid} reads (null when it is no symlink), seen from cryo. */
    private static String readsNow(int pid, long fd) {
        try (dev.cryo.kernel.Fd link = dev.cryo.kernel.Sys.open(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd, dev.cryo.kernel.Fcntl.O_PATH)) {
            return dev.cryo.kernel.Sys.readlinkAt(link, "");
        } catch (RuntimeException e) {
            return null;
        }
    }

    @Override
    public void show(Symlink s, Map<String, Object> m) {
        m.put("kind", "symlink");
        m.put("path", s.path());
        m.put("target", s.target());
        if (s.removed()) {
            m.put("removed", true);
            m.put("owner", s.uid() + ":" + s.gid());
        }
    }
}
