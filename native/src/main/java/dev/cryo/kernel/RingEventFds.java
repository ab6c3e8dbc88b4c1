package dev.cryo.kernel;

import java.util.HashMap;
import java.util.Map;

/**
 * The eventfds a task's io_urings have registered for their completions (IORING_REGISTER_EVENTFD, QEMU's and other
 * event loops' way to wake on them): no fdinfo line shows one. cryo's BPF iterator over the task's files reads, for
 * each ring (a file whose f_op polls with io_uring_poll), io_ring_ctx.io_ev_fd's eventfd_ctx and eventfd_async, and
 * for each eventfd (f_op reads with eventfd_read) its eventfd_ctx, so the caller tells which fd of the task is the
 * one registered (the functions' addresses from /proc/kallsyms).
 */
public final class RingEventFds {
    /** A ring's registration: the eventfd's kernel object, and whether only completions done out of line signal it. */
    public record Registered(long eventfd, boolean async) {}

    /** By fd, the rings with an eventfd registered; by kernel object, the fd of each eventfd (the lowest of a shared one). */
    public record Of(Map<Integer, Registered> rings, Map<Long, Integer> eventfds) {}

    private static final int RECORD = 24, RING = 1, EVENTFD = 2;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_ring_evfd",
            () -> program(Btf.kernel(), Kallsyms.function("io_uring_poll"), Kallsyms.function("eventfd_read")));

    private RingEventFds() {}

    /** What thread {@code tid}'s table holds of rings' eventfds. */
    public static Of of(int tid) {
        record Seen(int kind, long ctx, boolean async) {}
        Map<Integer, Registered> rings = new HashMap<>();
        Map<Long, Integer> eventfds = new HashMap<>();
        ITERATOR.byFd(tid, RECORD, b -> new Seen(b.getInt(), b.getLong(), b.getInt() != 0)).forEach((fd, s) -> {
            if (s.kind() == RING) {
                rings.put(fd, new Registered(s.ctx(), s.async()));
            } else {
                eventfds.merge(s.ctx(), fd, Math::min);
            }
        });
        return new Of(rings, eventfds);
    }

    /**
     * For each io_uring whose io_ev_fd is set: fd, 1, its eventfd_ctx, eventfd_async, 4 bytes of padding; for each
     * eventfd: fd, 2, its eventfd_ctx (private_data), 0, 0.
     */
    private static Bpf.Program program(Btf btf, long ioUringPoll, long eventfdRead) {
        int fp = 10, ctx = 6, file = 7, ops = 8, priv = 9;
        Bpf.Program p = new Bpf.Program()
                .mov(ctx, 1)
                .load(8, file, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(file, "out");
        p.readKernel(ops, file, btf.offset("file", "f_op")).jumpIfZero(ops, "out");
        p.readKernel(priv, file, btf.offset("file", "private_data")).jumpIfZero(priv, "out"); // a number
        p.movImm(1, 0).store(8, fp, -16, 1);
        p.readKernel(1, ops, btf.offset("file_operations", "poll")).movImm64(2, ioUringPoll).jumpIfNotSame(1, 2, "eventfd");
        p.readKernel(priv, priv, btf.offset("io_ring_ctx", "io_ev_fd")).jumpIfZero(priv, "out");
        p.readKernel(1, priv, btf.offset("io_ev_fd", "eventfd_async")).store(4, fp, -16, 1);
        p.readKernel(1, priv, btf.offset("io_ev_fd", "cq_ev_fd")).store(8, fp, -24, 1);
        p.movImm(1, RING).jump("write");
        p.label("eventfd").readKernel(1, ops, btf.offset("file_operations", "read_iter")).movImm64(2, eventfdRead)
                .jumpIfNotSame(1, 2, "out");
        p.store(8, fp, -24, priv).movImm(1, EVENTFD);
        p.label("write").store(4, fp, -28, 1)
                .writeFdRecord(btf, ctx, fp, -32, RECORD)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
