package dev.cryo.kernel;

import java.util.Map;

/**
 * Whether a task's open files that poll for changes have a change waiting the program has not seen (poll would
 * say POLLPRI|POLLERR): /proc/PID/mountinfo, mounts and mountstats (findmnt --poll, systemd, udisks), the pollable
 * sysctls /proc/sys/kernel/hostname and domainname (journald), and kernfs files (a cgroup's cgroup.events or
 * memory.events, a sysfs attribute a driver notifies). Each open file keeps the count it last saw, and the kernel
 * one per object: a mount table's seq_file.poll_event against its namespace's mnt_namespace.event (seen by a poll),
 * a sysctl's file.private_data against its ctl_table's poll.event (seen by a poll), a kernfs file's
 * kernfs_open_file.event against its node's kernfs_open_node.event (seen by a read). A poll by cryo would take the
 * change from the program: cryo's BPF iterator over the task's files reads both where the kernel keeps them.
 */
public final class UnseenChanges {
    public static final long SYSFS_MAGIC = 0x62656572, CGROUP_SUPER_MAGIC = 0x27e0eb;
    private static final int RECORD = 24;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_unseen", () -> program(Btf.kernel()));

    private UnseenChanges() {}

    /** What a file's counts say: a change it has not seen as a mount table or kernfs file, and as a sysctl. */
    public record Unseen(boolean table, boolean sysctl) {}

    /**
     * By fd, whether each /proc, sysfs or cgroup file of thread {@code tid}'s table has a change it has not seen:
     * only the caller knows which fds are mount tables, sysctls or kernfs attributes (for others the answer means
     * nothing).
     */
    public static Map<Integer, Unseen> of(int tid) {
        return ITERATOR.byFd(tid, RECORD, b -> {
            b.getInt(); // padding
            return new Unseen(b.getInt() != b.getInt(), b.getInt() != b.getInt()); // the kernel compares ints
        });
    }

    /**
     * For each file on a procfs or a kernfs (sysfs, cgroup, cgroup2): fd, 4 bytes of padding, the count the file saw
     * and the count now as a mount table (seq_file.private is its proc_mounts) or a kernfs file (seq_file.private is
     * its kernfs_open_file), then as a sysctl (the count it saw is private_data itself; its inode is a proc_inode's,
     * whose sysctl_entry's poll has the count now; 0 and 0 for a file of any other kind).
     */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, ctx = 6, file = 7, at = 8, magic = 9;
        Bpf.Program p = new Bpf.Program().fileSystemAndPrivate(btf, ctx, file, magic, at);
        p.movImm(1, 0).store(4, fp, -28, 1).store(8, fp, -24, 1).store(8, fp, -16, 1); // both pairs 0 until read
        p.movImm64(1, PsiTriggers.PROC_SUPER_MAGIC).jumpIfNotSame(magic, 1, "kernfs");
        p.readKernel(1, file, btf.offset("file", "private_data")).store(4, fp, -20, 1); // a sysctl's count seen, as a number
        p.readKernel(1, file, btf.offset("file", "f_inode")).addImm(1, -btf.offset("proc_inode", "vfs_inode")); // a number
        p.readKernel(1, 1, btf.offset("proc_inode", "sysctl_entry")).jumpIfZero(1, "table");
        p.readKernel(1, 1, btf.offset("ctl_table", "poll")).jumpIfZero(1, "table");
        p.readKernel(1, 1, btf.offset("ctl_table_poll", "event")).store(4, fp, -16, 1);
        p.label("table").jumpIfZero(at, "write").readKernel(1, at, btf.offset("seq_file", "poll_event")).store(4, fp, -28, 1);
        p.readKernel(at, at, btf.offset("seq_file", "private")).jumpIfZero(at, "write");
        p.readKernel(at, at, btf.offset("proc_mounts", "ns")).jumpIfZero(at, "write");
        p.readKernel(1, at, btf.offset("mnt_namespace", "event")).jump("found");
        p.label("kernfs").movImm64(1, SYSFS_MAGIC).jumpIfSame(magic, 1, "attr");
        p.movImm64(1, PsiTriggers.CGROUP2_SUPER_MAGIC).jumpIfSame(magic, 1, "attr");
        p.movImm64(1, CGROUP_SUPER_MAGIC).jumpIfNotSame(magic, 1, "out");
        p.label("attr").jumpIfZero(at, "out").readKernel(at, at, btf.offset("seq_file", "private")).jumpIfZero(at, "out");
        p.readKernel(1, at, btf.offset("kernfs_open_file", "event")).store(4, fp, -28, 1);
        p.readKernel(at, at, btf.offset("kernfs_open_file", "kn")).jumpIfZero(at, "out");
        p.readKernel(at, at, btf.offset("kernfs_node", "attr") + btf.offset("kernfs_elem_attr", "open")).jumpIfZero(at, "out");
        p.readKernel(1, at, btf.offset("kernfs_open_node", "event"));
        p.label("found").store(4, fp, -24, 1);
        p.label("write").movImm(1, 0).store(4, fp, -32, 1)
                .writeFdRecord(btf, ctx, fp, -36, RECORD)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
