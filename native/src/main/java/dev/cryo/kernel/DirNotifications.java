package dev.cryo.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The directory notifications (dnotify: {@code fcntl(fd, F_NOTIFY, mask)}) a task's fd table has
 * registered. No /proc file shows them: cryo's BPF iterator over the task's files follows each
 * directory's inode → its fsnotify marks → the dnotify group's mark (told apart by its group's
 * free_mark function, whose address /proc/kallsyms gives) → that mark's dnotify_structs, and keeps
 * the one registered by this fd table (dn_owner) for this open file (dn_filp).
 */
public final class DirNotifications {
    /** The registration fd {@code fd} of the table shares: made through fd {@code notifyFd} (the signal's si_fd), with its {@code DN_*} mask. */
    public record Registration(int fd, int notifyFd, int dnMask) {}

    /** fcntl(F_NOTIFY)'s DN_* bits, and the FS_* events of the kernel's fsnotify they stand for (fs/notify/dnotify). */
    public static final int DN_ACCESS = 0x1, DN_MODIFY = 0x2, DN_CREATE = 0x4, DN_DELETE = 0x8, DN_RENAME = 0x10,
            DN_ATTRIB = 0x20, DN_MULTISHOT = 0x80000000;
    private static final int FS_ACCESS = 0x1, FS_MODIFY = 0x2, FS_ATTRIB = 0x4, FS_MOVED_FROM = 0x40, FS_MOVED_TO = 0x80,
            FS_CREATE = 0x100, FS_DELETE = 0x200, FS_DN_RENAME = 0x10000000, FS_DN_MULTISHOT = 0x20000000;

    private static final int RECORD = 16, MAX_MARKS = 16, MAX_WATCHERS = 64;
    private static final int FOUND = 0, TOO_MANY_MARKS = 1, TOO_MANY_WATCHERS = 2;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_dnotify",
            () -> program(Btf.kernel(), Kallsyms.function("dnotify_free_mark")));

    /** A directory with more marks or watchers than the iterator's loops read. */
    public static final class TooMany extends IllegalStateException {
        TooMany(String message) {
            super(message);
        }
    }

    private DirNotifications() {}

    /** Loads the iterator in the background, before a frozen window needs it. */
    public static void warmUp() {
        ITERATOR.warmUp();
    }

    /**
     * The registrations of the fd table of thread {@code tid}, one per fd of a registered open file;
     * fails ({@link TooMany}, naming the fd) where the kernel holds more than this reads.
     */
    public static List<Registration> of(int tid) {
        ByteBuffer b = ByteBuffer.wrap(ITERATOR.run(tid)).order(ByteOrder.LITTLE_ENDIAN);
        List<Registration> out = new ArrayList<>();
        while (b.remaining() >= RECORD) {
            int fd = b.getInt(), notifyFd = b.getInt(), fsMask = b.getInt(), status = b.getInt();
            if (status != FOUND) {
                throw new TooMany("fd " + fd + ": its directory has more "
                        + (status == TOO_MANY_MARKS ? "notification marks than " + MAX_MARKS
                        : "dnotify watchers than " + MAX_WATCHERS) + ", more than cryo's BPF iterator reads");
            }
            out.add(new Registration(fd, notifyFd, dnMask(fsMask)));
        }
        return out;
    }

    /** The DN_* mask fcntl(F_NOTIFY) was given, from the kernel's FS_* one (each DN_* bit has FS_* bits of its own). */
    public static int dnMask(int fs) {
        int dn = 0;
        if ((fs & FS_DN_MULTISHOT) != 0) dn |= DN_MULTISHOT;
        if ((fs & (FS_DELETE | FS_MOVED_FROM)) != 0) dn |= DN_DELETE;
        if ((fs & FS_MODIFY) != 0) dn |= DN_MODIFY;
        if ((fs & FS_ACCESS) != 0) dn |= DN_ACCESS;
        if ((fs & FS_ATTRIB) != 0) dn |= DN_ATTRIB;
        if ((fs & FS_DN_RENAME) != 0) dn |= DN_RENAME;
        if ((fs & (FS_CREATE | FS_MOVED_TO)) != 0) dn |= DN_CREATE;
        return dn;
    }

    /** "DN_CREATE|DN_MULTISHOT", for messages and {@code cryo show}. */
    public static String describe(int dn) {
        List<String> n = new ArrayList<>();
        String[] names = {"DN_ACCESS", "DN_MODIFY", "DN_CREATE", "DN_DELETE", "DN_RENAME", "DN_ATTRIB"};
        for (int i = 0; i < names.length; i++) {
            if ((dn & 1 << i) != 0) n.add(names[i]);
        }
        if ((dn & DN_MULTISHOT) != 0) n.add("DN_MULTISHOT");
        return n.isEmpty() ? "0" : String.join("|", n);
    }

    /**
     * For each fd of a directory with a dnotify registration of this table: fd, dn_fd, dn_mask,
     * status 0; or fd, 0, 0, status 1 or 2 where the marks or watchers outnumber the loops' bounds.
     */
    private static Bpf.Program program(Btf btf, long dnotifyFreeMark) {
        int fp = 10, ctx = 6, file = 7, count = 8, at = 9;
        int objList = btf.offset("fsnotify_mark", "obj_list");
        Bpf.Program p = new Bpf.Program()
                .mov(ctx, 1)
                .load(8, file, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(file, "out")
                .load(8, 1, file, btf.offset("file", "f_inode")).jumpIfZero(1, "out")
                .load(2, 2, 1, btf.offset("inode", "i_mode")).andImm(2, 0xf000).jumpIfNot(2, 0x4000, "out"); // S_ISDIR
        p.readKernel(at, 1, btf.offset("inode", "i_fsnotify_marks")).jumpIfZero(at, "out");
        p.readKernel(at, at, btf.offset("fsnotify_mark_connector", "list")); // hlist_head.first
        p.movImm(count, MAX_MARKS)
                .label("mark").jumpIfZero(at, "out").jumpIfZero(count, "too-many-marks").addImm(count, -1);
        p.readKernel(3, at, btf.offset("fsnotify_mark", "group") - objList).jumpIfZero(3, "next-mark");
        p.readKernel(3, 3, btf.offset("fsnotify_group", "ops")).jumpIfZero(3, "next-mark");
        p.readKernel(1, 3, btf.offset("fsnotify_ops", "free_mark"))
                .movImm64(2, dnotifyFreeMark).jumpIfNotSame(1, 2, "next-mark").jump("found");
        p.label("next-mark");
        p.readKernel(at, at, 0).jump("mark"); // hlist_node.next
        p.label("found");
        p.readKernel(at, at, btf.offset("dnotify_mark", "dn") - objList);
        p.load(8, 1, ctx, btf.offset("bpf_iter__task_file", "task")).jumpIfZero(1, "out");
        p.readKernel(1, 1, btf.offset("task_struct", "files")).store(8, fp, -16, 1);
        p.movImm(count, MAX_WATCHERS)
                .label("watcher").jumpIfZero(at, "out").jumpIfZero(count, "too-many-watchers").addImm(count, -1);
        p.readKernel(1, at, btf.offset("dnotify_struct", "dn_filp")).jumpIfNotSame(1, file, "next-watcher");
        p.readKernel(1, at, btf.offset("dnotify_struct", "dn_owner")).load(8, 2, fp, -16).jumpIfNotSame(1, 2, "next-watcher");
        p.readKernel(1, at, btf.offset("dnotify_struct", "dn_fd")).store(4, fp, -28, 1);
        p.readKernel(1, at, btf.offset("dnotify_struct", "dn_mask")).store(4, fp, -24, 1);
        p.movImm(1, FOUND).store(4, fp, -20, 1).jump("write");
        p.label("next-watcher");
        p.readKernel(at, at, btf.offset("dnotify_struct", "dn_next")).jump("watcher");
        p.label("too-many-marks").movImm(1, TOO_MANY_MARKS).jump("overflow")
                .label("too-many-watchers").movImm(1, TOO_MANY_WATCHERS)
                .label("overflow").store(4, fp, -20, 1).movImm(1, 0).store(4, fp, -28, 1).store(4, fp, -24, 1)
                .label("write")
                .writeFdRecord(btf, ctx, fp, -32, RECORD)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
