package dev.cryo.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

/**
 * Which of a task's io_urings have an eventfd registered for their completions (IORING_REGISTER_EVENTFD, QEMU's and
 * other event loops' way to wake on them): no fdinfo line shows it. cryo's BPF iterator over the task's files reads
 * io_ring_ctx.io_ev_fd for each ring (a file whose f_op polls with io_uring_poll, its address from /proc/kallsyms).
 */
public final class RingEventFds {
    private static final int RECORD = 8;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_ring_evfd",
            () -> program(Btf.kernel(), Kallsyms.function("io_uring_poll")));

    private RingEventFds() {}

    /** The fds of thread {@code tid}'s table whose rings have an eventfd registered. */
    public static Set<Integer> of(int tid) {
        ByteBuffer b = ByteBuffer.wrap(ITERATOR.run(tid)).order(ByteOrder.LITTLE_ENDIAN);
        Set<Integer> out = new HashSet<>();
        while (b.remaining() >= RECORD) {
            out.add(b.getInt());
            b.getInt();
        }
        return out;
    }

    /** For each io_uring whose io_ev_fd is set: fd, 4 bytes of padding. */
    private static Bpf.Program program(Btf btf, long ioUringPoll) {
        int fp = 10, ctx = 6, file = 7;
        Bpf.Program p = new Bpf.Program()
                .mov(ctx, 1)
                .load(8, file, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(file, "out");
        p.readKernel(1, file, btf.offset("file", "f_op")).jumpIfZero(1, "out");
        p.readKernel(1, 1, btf.offset("file_operations", "poll")).movImm64(2, ioUringPoll).jumpIfNotSame(1, 2, "out");
        p.readKernel(1, file, btf.offset("file", "private_data")).jumpIfZero(1, "out"); // its io_ring_ctx
        p.readKernel(1, 1, btf.offset("io_ring_ctx", "io_ev_fd")).jumpIfZero(1, "out");
        p.movImm(1, 0).store(4, fp, -12, 1)
                .writeFdRecord(btf, ctx, fp, -16, RECORD)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
