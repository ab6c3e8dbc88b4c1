package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;

/**
 * A character device node a task holds open after it was unlinked (zdtm's deleted_dev). Its path
 * reopens nothing, so the restore makes a node with the same device number, mode and owner at that
 * path, in the task itself (its view, its mount namespace: the dump checks that view), opens it and unlinks it at once: the task
 * holds an unlinked node of that device under the name it had, and nothing stays behind. A file that
 * took the name since swaps names with the node for that instant, then takes its name back over it
 * (never unlinked, so its holders outside the tree still read its path).
 */
final class DeletedDeviceNode {
    private DeletedDeviceNode() {}

    static CharDeviceHandler.CharDevice dump(FdProbe fd, String path, long rdev) throws IOException {
        String what = fd.where() + ": device node " + path + " (" + CharDeviceHandler.deviceNumber(rdev) + "), deleted,";
        String refused = inTasksView(fd.pid().value(), () -> {
            Path p = Path.of(path);
            Path dir = p.getParent();
            if (dir == null || !Files.isDirectory(dir)) {
                return " was in directory " + dir + ", which is gone too; a restore would have nowhere to make it"
                        + " again: not supported";
            }
            return Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? " has its name taken by a directory now; a"
                    + " restore could not make it again under that name: not supported" : null;
        });
        if (refused != null) {
            throw new DumpException(what + refused);
        }
        Map<String, Object> a = Files.readAttributes(fd.procPath(), "unix:mode,uid,gid");
        return new CharDeviceHandler.CharDevice(path, rdev, false, false, (Integer) a.get("mode"),
                (Integer) a.get("uid"), (Integer) a.get("gid"));
    }

    static long restore(FdImage fd, CharDeviceHandler.CharDevice c, FdHandler.RestoreContext ctx) {
        Path original = Path.of(c.path());
        String name = c.path();
        String made = original.resolveSibling(".cryo-node." + ctx.taskPid() + "." + fd.fd()).toString();
        boolean taken = inTasksView(ctx.taskPid(), () -> Files.exists(original, LinkOption.NOFOLLOW_LINKS));
        if (inTasksView(ctx.taskPid(), () -> Files.isDirectory(original, LinkOption.NOFOLLOW_LINKS))) { // it could not take its name back over the node
            throw new RestoreException("pid " + ctx.taskPid() + " fd " + fd.fd() + ": the deleted"
                    + " device node " + name + " cannot be made again under its name: a directory has it now");
        }
        String at = taken ? made : name;
        ctx.call("mknodat(" + at + ")", SyscallNr.MKNODAT, Fcntl.AT_FDCWD, cString(at, ctx),
                (c.deletedMode() & ~07777) | 0600, c.rdev());
        String kept = null;
        try {
            // mknod's mode went through the task's umask and its owner is who restores: both as dumped,
            // by path (an O_PATH fd takes no fchmod)
            ctx.call("lchown(" + at + ")", SyscallNr.LCHOWN, cString(at, ctx), c.uid(), c.gid());
            ctx.call("chmod(" + at + ")", SyscallNr.CHMOD, cString(at, ctx), c.deletedMode() & 07777);
            if (taken) {
                // swapped, not renamed over: the file that has the name is not unlinked under its holders
                // outside the tree (their fds would read "PATH (deleted)" for good); it moves back below
                long[] p = twoPaths(made, name, ctx);
                ctx.call("renameat2(" + made + ", " + name + ", RENAME_EXCHANGE)", SyscallNr.RENAMEAT2,
                        Fcntl.AT_FDCWD, p[0], Fcntl.AT_FDCWD, p[1], Fcntl.RENAME_EXCHANGE);
                kept = made;
                at = name;
            }
            return ctx.open(at, FdHandlers.openFlags(fd));
        } finally {
            if (kept != null) { // the file that has the name takes it back, unlinking the node
                long[] p = twoPaths(kept, name, ctx);
                ctx.call("renameat(" + kept + ")", SyscallNr.RENAMEAT, Fcntl.AT_FDCWD, p[0], Fcntl.AT_FDCWD, p[1]);
            } else {
                ctx.call("unlinkat(" + at + ")", SyscallNr.UNLINKAT, Fcntl.AT_FDCWD, cString(at, ctx), 0);
            }
        }
    }

    /**
     * {@code look} on the files as task {@code pid} sees them: the node is made in its view, which is not
     * cryo's when it has a mount namespace of its own (zdtm's deleted_dev in its ns flavor).
     */
    private static <T> T inTasksView(int pid, java.util.function.Supplier<T> look) {
        return RegularFileHandler.inOtherMountNamespace(pid) ? Namespaces.seenBy(Pid.of(pid), look::get) : look.get();
    }

    /** Both paths NUL-terminated in one copy (the task's scratch area holds one at a time): their addresses. */
    private static long[] twoPaths(String a, String b, FdHandler.RestoreContext ctx) {
        byte[] x = a.getBytes(StandardCharsets.UTF_8), y = b.getBytes(StandardCharsets.UTF_8);
        byte[] both = new byte[x.length + y.length + 2];
        System.arraycopy(x, 0, both, 0, x.length);
        System.arraycopy(y, 0, both, x.length + 1, y.length);
        long at = ctx.put(both);
        return new long[] {at, at + x.length + 1};
    }

    private static long cString(String s, FdHandler.RestoreContext ctx) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return ctx.put(java.util.Arrays.copyOf(b, b.length + 1));
    }
}
