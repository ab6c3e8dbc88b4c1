package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.util.Map;

/**
 * Where each reader of /dev/kmsg a task holds is in the kernel's log (dmesg --follow, journald, rsyslog's imklog):
 * the sequence number of the next record it reads, its open file's devkmsg_user.seq. No file shows it (fdinfo's pos
 * is 0) and a read or seek by cryo would move the program's: cryo's BPF iterator over the task's files reads it for
 * each file of device 1:11 that has one (an open for writing only has none).
 */
public final class KmsgReaders {
    /** /dev/kmsg's device number as the kernel keeps it in an inode (MKDEV(1, 11): major << 20 | minor). */
    private static final int KMSG_KERNEL_DEV = 1 << 20 | 11;
    private static final int RECORD = 16;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_kmsg", () -> program(Btf.kernel()));

    private KmsgReaders() {}

    /** By fd, the sequence number of the next record each reader of /dev/kmsg of thread {@code tid}'s table reads. */
    public static Map<Integer, Long> of(int tid) {
        return ITERATOR.byFd(tid, RECORD, b -> {
            b.getInt(); // padding
            return b.getLong();
        });
    }

    /**
     * Moves reader {@code fd} (opened O_NONBLOCK) to record {@code seq}: a seek to the log's first record, then
     * reads of one record each until the next is {@code seq}. Where the log's first record is already past it
     * (overwritten since), the reader is left at that first one.
     */
    public static void position(Fd fd, long seq) {
        Memory buf = new Memory(READ_SIZE);
        for (int attempt = 0; ; attempt++) {
            seekToFirst(fd);
            long at = readRecord(fd, buf);
            if (at < 0 || at >= seq) {
                seekToFirst(fd);
                return;
            }
            while (at >= 0 && at < seq - 1) {
                at = readRecord(fd, buf);
            }
            // the log's end before seq (left there), or records overwritten while this read (from the start again)
            if (at != OVERWRITTEN || attempt == 3) {
                return;
            }
        }
    }

    private static void seekToFirst(Fd fd) {
        Sys.call(() -> "lseek(/dev/kmsg, 0, SEEK_SET)", SyscallNr.LSEEK, fd.value(), 0, SEEK_SET, 0);
    }

    private static final int READ_SIZE = 8192, SEEK_SET = 0;
    private static final long OVERWRITTEN = -2;

    /** The sequence number of the record read ("prio,seq,time,flags;text"); -1 at the log's end, OVERWRITTEN on EPIPE. */
    private static long readRecord(Fd fd, Memory buf) {
        long n = LibC.syscall(SyscallNr.READ, fd.value(), Sys.address(buf), READ_SIZE, 0, 0, 0);
        if (n == -1) {
            int errno = com.sun.jna.Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return -1;
            }
            if (errno == Errno.EPIPE) {
                return OVERWRITTEN;
            }
            throw new SyscallException("read(/dev/kmsg)", errno);
        }
        String head = new String(buf.getByteArray(0, (int) Math.min(n, 64)), java.nio.charset.StandardCharsets.US_ASCII);
        int a = head.indexOf(','), b = head.indexOf(',', a + 1);
        return Long.parseLong(head.substring(a + 1, b));
    }

    /** For each file of device 1:11 with a devkmsg_user: fd, 4 bytes of padding, devkmsg_user.seq. */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, ctx = 6, file = 7, user = 8;
        Bpf.Program p = new Bpf.Program()
                .mov(ctx, 1)
                .load(8, file, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(file, "out")
                .load(8, 1, file, btf.offset("file", "f_inode")).jumpIfZero(1, "out");
        p.readKernel(1, 1, btf.offset("inode", "i_rdev")).shiftLeft(1, 32).shiftRight(1, 32) // a dev_t: 32 bits
                .jumpIfNot(1, KMSG_KERNEL_DEV, "out");
        p.load(8, user, file, btf.offset("file", "private_data")).jumpIfZero(user, "out");
        p.readKernel(1, user, btf.offset("devkmsg_user", "seq")).store(8, fp, -16, 1);
        p.movImm(1, 0).store(4, fp, -20, 1)
                .writeFdRecord(btf, ctx, fp, -24, RECORD)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
