package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * SysV IPC objects of the calling thread's ipc namespace (a thread that entered it with setns):
 * listed from /proc/sysvipc, read without changing them (a segment attached read-only for a copy,
 * semaphore values with GETALL, messages with MSG_COPY, which leaves them queued), and made again
 * with the same ids (the namespace's {@code *_next_id} sysctls), owners, modes and contents.
 */
public final class SysvIpc {
    private SysvIpc() {}

    public static final int IPC_CREAT = 01000, IPC_EXCL = 02000, IPC_NOWAIT = 04000, IPC_RMID = 0, IPC_SET = 1, IPC_STAT = 2,
            GETPID = 11, GETALL = 13, SETALL = 17, MSG_COPY = 040000, SHM_RDONLY = 010000, SHM_DEST = 01000, SHM_LOCKED = 02000;
    /** struct ipc64_perm (x86_64): uid, gid and mode offsets; the *id64_ds structs start with it. */
    private static final int PERM_UID = 4, PERM_GID = 8, PERM_MODE = 20, DS_SIZE = 128;
    /** struct msqid64_ds: msg_qbytes. */
    private static final int MSG_QBYTES = 88;

    /** One object as /proc/sysvipc lists it; {@code size}: bytes of a segment, semaphores of a set, messages of a queue. */
    public record Entry(int key, int id, int mode, long size, int uid, int gid) {}

    /** /proc/sysvipc/{shm,sem,msg}: key id perms size ... uid gid at the kind's columns. */
    public static List<Entry> list(String kind) {
        int size = switch (kind) {
            case "shm" -> 3;
            case "sem" -> 3;
            case "msg" -> 4; // qnum
            default -> throw new IllegalArgumentException(kind);
        };
        int uid = kind.equals("shm") ? 7 : kind.equals("sem") ? 4 : 7;
        List<Entry> out = new ArrayList<>();
        String[] lines = ProcFs.text("/proc/sysvipc/" + kind).split("\n");
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].trim().split("\\s+");
            if (f.length <= uid + 1) {
                continue;
            }
            out.add(new Entry((int) Long.parseLong(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2], 8),
                    Long.parseLong(f[size]), Integer.parseInt(f[uid]), Integer.parseInt(f[uid + 1])));
        }
        return out;
    }

    /** The segment's bytes, read through a read-only attachment that is detached at once. */
    public static byte[] readSegment(int shmid, long size) {
        return attached(shmid, SHM_RDONLY, at -> at.getByteArray(0, Math.toIntExact(size)));
    }

    /**
     * The size in kB of the segment's huge pages (SHM_HUGETLB), 0 for ordinary pages: told from the
     * file system behind a read-only attachment (hugetlbfs, whose block size is its page size).
     */
    public static long hugePageKb(int shmid) {
        return attached(shmid, SHM_RDONLY, at -> {
            String start = Long.toHexString(Pointer.nativeValue(at)) + "-";
            String area = ProcFs.text("/proc/self/maps").lines().filter(l -> l.startsWith(start)).findFirst()
                    .map(l -> l.substring(0, l.indexOf(' '))).orElseThrow(() -> new KernelException(
                            "shmat(" + shmid + "): no area at 0x" + start + " in /proc/self/maps"));
            String file = "/proc/self/map_files/" + area;
            return Sys.fsMagic(file) == Sys.HUGETLBFS_MAGIC ? Sys.fsBlockSize(file) / 1024 : 0;
        });
    }

    /** Writes {@code data} at {@code offset} of the segment through an attachment detached at once. */
    public static void writeSegment(int shmid, long offset, byte[] data) {
        attached(shmid, 0, at -> {
            at.write(offset, data, 0, data.length);
            return null;
        });
    }

    /** {@code use} of the segment attached in this process with {@code flags}, detached afterwards. */
    private static <T> T attached(int shmid, int flags, java.util.function.Function<Pointer, T> use) {
        long at = Sys.call(() -> "shmat(" + shmid + ")", SyscallNr.SHMAT, shmid, 0, flags, 0);
        try {
            return use.apply(new Pointer(at));
        } finally {
            Sys.call(() -> "shmdt(" + shmid + ")", SyscallNr.SHMDT, at, 0, 0, 0);
        }
    }

    /** The values of a semaphore set. */
    public static int[] semValues(int semid, int nsems) {
        Memory buf = new Memory(Math.max(2, 2L * nsems));
        ctl("sem", semid, GETALL, buf);
        int[] out = new int[nsems];
        for (int i = 0; i < nsems; i++) {
            out[i] = Short.toUnsignedInt(buf.getShort(2L * i));
        }
        return out;
    }

    /** A queued message: its type and bytes. */
    public record Message(long type, byte[] data) {}

    /** The queue's messages in order, copied (MSG_COPY) so they stay queued. */
    public static List<Message> messages(int msqid, long count) {
        int max = Math.max(8192, Integer.parseInt(ProcFs.text("/proc/sys/kernel/msgmax").strip())); // no message is longer
        Memory buf = new Memory(8L + max);
        List<Message> out = new ArrayList<>();
        for (long i = 0; i < count; i++) {
            long index = i;
            long n = Sys.call(() -> "msgrcv(" + msqid + ", MSG_COPY " + index + ")", SyscallNr.MSGRCV, msqid,
                    Sys.address(buf), max, index, IPC_NOWAIT | MSG_COPY, 0);
            out.add(new Message(buf.getLong(0), buf.getByteArray(8, (int) n)));
        }
        return out;
    }

    /** The queue's byte limit (msg_qbytes). */
    public static long queueBytes(int msqid) {
        return stat("msg", msqid).getLong(MSG_QBYTES);
    }

    /**
     * Makes the object {@code kind} with id {@code id} (set as the namespace's next id first) and key,
     * then its owner and mode; {@code size} is a segment's bytes or a set's semaphores. Fails if
     * the kernel gave another id.
     */
    public static void create(String kind, int id, int key, long size, int mode, int uid, int gid) {
        create(kind, id, key, size, mode, uid, gid, 0);
    }

    /** {@link #create} of a segment of huge pages of {@code hugePageKb} (SHM_HUGETLB and their size's log2 at shmget). */
    public static void create(String kind, int id, int key, long size, int mode, int uid, int gid, long hugePageKb) {
        writeNextId(kind, id);
        int flags = IPC_CREAT | IPC_EXCL | (mode & 0777)
                | (hugePageKb == 0 ? 0 : SHM_HUGETLB | Long.numberOfTrailingZeros(hugePageKb * 1024) << SHM_HUGE_SHIFT);
        long got = switch (kind) {
            case "shm" -> Sys.call(() -> "shmget(" + id + (hugePageKb == 0 ? "" : ", SHM_HUGETLB in pages of "
                    + hugePageKb + " kB: the host's pool must hold them") + ")", SyscallNr.SHMGET, key, size, flags, 0);
            case "sem" -> Sys.call(() -> "semget(" + id + ")", SyscallNr.SEMGET, key, size, flags, 0);
            case "msg" -> Sys.call(() -> "msgget(" + id + ")", SyscallNr.MSGGET, key, flags, 0, 0);
            default -> throw new IllegalArgumentException(kind);
        };
        if (got != id) {
            throw new KernelException(kind + " id " + id + " came back as " + got);
        }
        Memory ds = stat(kind, id);
        ds.setInt(PERM_UID, uid);
        ds.setInt(PERM_GID, gid);
        ds.setInt(PERM_MODE, mode & 0777);
        ctl(kind, id, IPC_SET, ds);
    }

    /**
     * A new IPC_PRIVATE segment of {@code size} bytes and permissions {@code mode} (with SHM_HUGETLB
     * in it, one of 2 MiB huge pages); returns its shmid.
     */
    public static int createPrivateSegment(long size, int mode) {
        boolean huge = (mode & SHM_HUGETLB) != 0;
        return (int) Sys.call(() -> "shmget(IPC_PRIVATE, " + size + (huge ? ", SHM_HUGETLB|SHM_HUGE_2MB: the host's"
                        + " pool must hold its pages, /proc/sys/vm/nr_hugepages" : "") + ")", SyscallNr.SHMGET, 0, size,
                IPC_CREAT | (mode & 0777) | (huge ? SHM_HUGETLB | SHM_HUGE_2MB : 0), 0);
    }

    /** shmget's flag for a segment of huge pages, and the 2 MiB size of them (21 << SHM_HUGE_SHIFT). */
    public static final int SHM_HUGETLB = 04000, SHM_HUGE_SHIFT = 26, SHM_HUGE_2MB = 21 << SHM_HUGE_SHIFT;

    /** Marks a segment for removal: it goes once its last attachment does. */
    public static void removeSegment(int shmid) {
        ctl("shm", shmid, IPC_RMID, null);
    }

    /** The pid of the last operation on each semaphore of a set (GETPID; exit_sem's adjustments count). */
    public static int[] semPids(int semid, int nsems) {
        int[] out = new int[nsems];
        for (int i = 0; i < nsems; i++) {
            int num = i;
            out[i] = (int) Sys.call(() -> "semctl(" + semid + ", " + num + ", GETPID)", SyscallNr.SEMCTL, semid, num, GETPID, 0);
        }
        return out;
    }

    /**
     * Adds {@code delta} to one semaphore by a semop without SEM_UNDO and without waiting (IPC_NOWAIT),
     * so no process's undo entries change (SETVAL would clear everyone's).
     */
    public static void semAdd(int semid, int num, int delta) {
        Memory op = new Memory(6); // struct sembuf: sem_num, sem_op, sem_flg
        op.setShort(0, (short) num);
        op.setShort(2, (short) delta);
        op.setShort(4, (short) IPC_NOWAIT);
        Sys.call(() -> "semop(" + semid + ", " + num + ", " + delta + ")", SyscallNr.SEMOP, semid, Sys.address(op), 1, 0);
    }

    public static void setSemValues(int semid, int[] values) {
        Memory buf = new Memory(Math.max(2, 2L * values.length));
        for (int i = 0; i < values.length; i++) {
            buf.setShort(2L * i, (short) values[i]);
        }
        ctl("sem", semid, SETALL, buf);
    }

    /** Sets the queue's byte limit, then queues the messages in order. */
    public static void fillQueue(int msqid, long qbytes, List<Message> messages) {
        Memory ds = stat("msg", msqid);
        ds.setLong(MSG_QBYTES, qbytes);
        ctl("msg", msqid, IPC_SET, ds);
        for (Message m : messages) {
            Memory buf = new Memory(8L + Math.max(1, m.data().length));
            buf.setLong(0, m.type());
            buf.write(8, m.data(), 0, m.data().length);
            Sys.call(() -> "msgsnd(" + msqid + ")", SyscallNr.MSGSND, msqid, Sys.address(buf), m.data().length,
                    IPC_NOWAIT);
        }
    }

    /** The object's *id64_ds (IPC_STAT). */
    private static Memory stat(String kind, int id) {
        Memory ds = new Memory(DS_SIZE);
        ds.clear();
        ctl(kind, id, IPC_STAT, ds);
        return ds;
    }

    /**
     * shmctl, semctl or msgctl of {@code kind} with command {@code cmd} on {@code buf} (null: none);
     * semctl takes a semaphore number before the command (0: the commands here are the set's).
     */
    private static void ctl(String kind, int id, int cmd, Memory buf) {
        long arg = buf == null ? 0 : Sys.address(buf);
        java.util.function.Supplier<String> what = () -> kind + "ctl(" + id + ", " + switch (cmd) {
            case IPC_RMID -> "IPC_RMID";
            case IPC_SET -> "IPC_SET";
            case IPC_STAT -> "IPC_STAT";
            case GETALL -> "GETALL";
            case SETALL -> "SETALL";
            default -> Integer.toString(cmd);
        } + ")";
        switch (kind) {
            case "shm" -> Sys.call(what, SyscallNr.SHMCTL, id, cmd, arg, 0);
            case "sem" -> Sys.call(what, SyscallNr.SEMCTL, id, 0, cmd, arg);
            case "msg" -> Sys.call(what, SyscallNr.MSGCTL, id, cmd, arg, 0);
            default -> throw new IllegalArgumentException(kind);
        }
    }

    /** /proc/sys/kernel/{shm,sem,msg}_next_id of the calling thread's ipc namespace. */
    private static void writeNextId(String kind, int id) {
        try {
            Files.writeString(Path.of("/proc/sys/kernel/" + kind + "_next_id"), Integer.toString(id));
        } catch (IOException e) {
            throw new KernelException("cannot set " + kind + "_next_id to " + id + ": " + e.getMessage(), e);
        }
    }
}
