package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.MountApi;
import dev.cryo.kernel.PsiTriggers;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.UnseenChanges;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A file a program polls for changes that had one it had not seen at the dump (poll would have said
 * POLLPRI|POLLERR): a mount table (/proc/PID/mountinfo, mounts, mountstats: findmnt --poll, systemd, udisks), a
 * pollable sysctl (/proc/sys/kernel/hostname, domainname: journald) or a kernfs file (a cgroup's cgroup.events, a
 * sysfs attribute a driver notifies). Reopened by path, a mount table or sysctl starts from the count of changes as
 * it is: the change was lost and the program slept on. Its restore makes, after the reopen, one change event that
 * changes nothing, so the reopened file sees one: in the task's mount namespace, mount_setattr asking "/" for the
 * nosymfollow it has; for a sysctl, an empty write to it by cryo once the tree runs (the kernel notifies its
 * watchers, in every namespace, on every write). Other
 * watchers wake once too, and read what is there. A kernfs file reopened has its node's change unseen until it is
 * read, which positioning it does: one read from the start is carried, one with a read position refused.
 */
final class UnseenChangeEvents {
    /** The sysctls with a poll (the UTS namespace's names): the others never have a change to see. */
    private static final Set<String> POLLED_SYSCTLS = Set.of("/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname");
    private static final Pattern MOUNT_TABLE = Pattern.compile("^/proc/(self|thread-self|\\d+)(/task/\\d+)?/(mountinfo|mounts|mountstats)$");
    private static final Set<Long> KERNFS = Set.of(UnseenChanges.SYSFS_MAGIC, UnseenChanges.CGROUP_SUPER_MAGIC,
            PsiTriggers.CGROUP2_SUPER_MAGIC);
    /** statfs's f_flags bit and struct mount_attr's for a mount that follows no symbolic link. */
    private static final long ST_NOSYMFOLLOW = 0x2000, MOUNT_ATTR_NOSYMFOLLOW = 0x00200000;

    /** One run of the iterator for all a task's files (netdata holds hundreds of /sys ones). */
    private static final TaskFileReads<Map<Integer, UnseenChanges.Unseen>> READ = new TaskFileReads<>(UnseenChanges::of);

    private UnseenChangeEvents() {}

    /**
     * Whether fd is a mount table or sysctl with a change the program has not seen (its restore makes one); refuses a
     * kernfs file with one that has a read position.
     */
    static boolean dump(FdProbe fd, FdHandler.DumpContext ctx) {
        boolean mounts = MOUNT_TABLE.matcher(fd.target()).matches(), sysctl = POLLED_SYSCTLS.contains(fd.target());
        if (!mounts && !sysctl
                && !(fd.target().startsWith("/sys/") && fd.info() != null && fd.info().pos() != 0 && onKernfs(fd))) {
            return false;
        }
        UnseenChanges.Unseen unseen;
        try {
            unseen = READ.of(ctx, ExitedLeaders.reader(fd.pid().value())).get(fd.fd());
        } catch (RuntimeException e) {
            throw new DumpException(fd.where() + ": " + fd.target() + ": whether it holds a change the program has"
                    + " not seen yet cannot be read (cryo's BPF iterator: " + e.getMessage() + "); not supported", e);
        }
        if (unseen == null || !(sysctl ? unseen.sysctl() : unseen.table())) {
            return false;
        }
        if (!mounts && !sysctl) {
            throw new DumpException(fd.where() + ": " + fd.target() + " holds a change the program has not read yet"
                    + " (poll would say POLLPRI), at read position " + fd.info().pos() + ": reopened and positioned"
                    + " again, the file would read the attribute and take the change from it; not supported");
        }
        return true;
    }

    private static boolean onKernfs(FdProbe fd) {
        try {
            return KERNFS.contains(Sys.fsMagic(fd.procPath().toString()));
        } catch (RuntimeException gone) {
            return false;
        }
    }

    /** After the task reopened {@code path}, a mount table or a sysctl: one change event that changes nothing. */
    static void restore(String path, FdHandler.RestoreContext ctx) {
        if (POLLED_SYSCTLS.contains(path)) {
            // the uts sysctls' poll is one for all namespaces: cryo's own write, once the tree runs, wakes the task's
            // watcher wherever it is (a container's /proc/sys is often read-only to it); else the task writes it
            dev.cryo.kernel.Fd own;
            try {
                own = Sys.open(path, Fcntl.O_WRONLY | Fcntl.O_CLOEXEC);
            } catch (RuntimeException readOnlyHere) {
                long fd = ctx.open(path, Fcntl.O_WRONLY | Fcntl.O_CLOEXEC);
                ctx.later("write(" + path + ", 0 bytes: a change event for its reopened watcher)", SyscallNr.WRITE, fd, 0, 0);
                ctx.later("close(" + path + ")", SyscallNr.CLOSE, fd);
                return;
            }
            ctx.whenRestored(own, f -> Sys.call(() -> "write(" + path + ", 0 bytes: a change event for a restored watcher)",
                    SyscallNr.WRITE, f.value(), 0, 0, 0));
            return;
        }
        boolean has = (Sys.statfsFlags("/proc/" + ctx.taskPid() + "/root") & ST_NOSYMFOLLOW) != 0;
        ByteBuffer b = ByteBuffer.allocate(MountApi.MOUNT_ATTR_SIZE_VER0 + 2).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(has ? MOUNT_ATTR_NOSYMFOLLOW : 0).putLong(has ? 0 : MOUNT_ATTR_NOSYMFOLLOW).putLong(0).putLong(0);
        b.put("/".getBytes(StandardCharsets.US_ASCII)).put((byte) 0);
        long at = ctx.put(b.array());
        ctx.call("mount_setattr(/, " + (has ? "set" : "clear") + " MOUNT_ATTR_NOSYMFOLLOW as it is: a change event"
                        + " for a reopened mount table)", SyscallNr.MOUNT_SETATTR, Fcntl.AT_FDCWD,
                at + MountApi.MOUNT_ATTR_SIZE_VER0, 0, at, MountApi.MOUNT_ATTR_SIZE_VER0);
    }
}
