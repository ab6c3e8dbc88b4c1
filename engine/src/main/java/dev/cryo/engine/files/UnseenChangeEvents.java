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
 * POLLPRI|POLLERR): a mount table (/proc/PID/mountinfo, mounts, mountstats: findmnt --poll, systemd, udisks) or a
 * kernfs file (a cgroup's cgroup.events, a sysfs attribute a driver notifies). Reopened by path, a mount table
 * starts from the namespace's count of changes as it is: the change was lost and the program slept on. Its
 * restore makes one change event in the task's mount namespace that changes nothing (mount_setattr asking "/" for
 * the nosymfollow it has), after the reopen, so the reopened file sees one change (other watchers of that
 * namespace wake once too, and read a table as it was). A kernfs file reopened has its node's change unseen until
 * it is read, which positioning it does: one read from the start is carried, one with a read position refused.
 */
final class UnseenChangeEvents {
    private static final Pattern MOUNT_TABLE = Pattern.compile("^/proc/(self|thread-self|\\d+)(/task/\\d+)?/(mountinfo|mounts|mountstats)$");
    private static final Set<Long> KERNFS = Set.of(UnseenChanges.SYSFS_MAGIC, UnseenChanges.CGROUP_SUPER_MAGIC,
            PsiTriggers.CGROUP2_SUPER_MAGIC);
    /** statfs's f_flags bit and struct mount_attr's for a mount that follows no symbolic link. */
    private static final long ST_NOSYMFOLLOW = 0x2000, MOUNT_ATTR_NOSYMFOLLOW = 0x00200000;

    /** What the iterator read, by dump and thread: one run for all a task's files (netdata holds hundreds of /sys ones). */
    private static final Map<FdHandler.DumpContext, Map<Integer, Map<Integer, Boolean>>> READ =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    private UnseenChangeEvents() {}

    /**
     * Whether fd is a mount table with a change the program has not seen (its restore makes one); refuses a kernfs
     * file with one that has a read position.
     */
    static boolean dump(FdProbe fd, FdHandler.DumpContext ctx) {
        boolean mounts = MOUNT_TABLE.matcher(fd.target()).matches();
        if (!mounts && !(fd.target().startsWith("/sys/") && fd.info() != null && fd.info().pos() != 0 && onKernfs(fd))) {
            return false;
        }
        Boolean unseen;
        try {
            int tid = ExitedLeaders.reader(fd.pid().value());
            unseen = READ.computeIfAbsent(ctx, c -> new java.util.concurrent.ConcurrentHashMap<>())
                    .computeIfAbsent(tid, UnseenChanges::of).get(fd.fd());
        } catch (RuntimeException e) {
            throw new DumpException(fd.where() + ": " + fd.target() + ": whether it holds a change the program has"
                    + " not seen yet cannot be read (cryo's BPF iterator: " + e.getMessage() + "); not supported", e);
        }
        if (unseen == null || !unseen) {
            return false;
        }
        if (!mounts) {
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

    /** After the task reopened its mount table: one change event in its mount namespace, which changes nothing. */
    static void restore(FdHandler.RestoreContext ctx) {
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
