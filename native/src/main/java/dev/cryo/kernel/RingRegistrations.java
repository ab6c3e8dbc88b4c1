package dev.cryo.kernel;

import java.util.HashMap;
import java.util.Map;

/**
 * What a task's io_urings had registered that no fdinfo line shows: an eventfd for their completions
 * (IORING_REGISTER_EVENTFD, QEMU's and other event loops' way to wake on them), provided buffer groups (a buffer ring,
 * IORING_REGISTER_PBUF_RING, or buffers given by IORING_OP_PROVIDE_BUFFERS: io_ring_ctx.io_bl_xa holds one), and
 * restrictions (IORING_REGISTER_RESTRICTIONS: io_ring_ctx.restrictions.registered). cryo's BPF iterator over the
 * task's files reads them for each ring (a file whose f_op polls with io_uring_poll), and each eventfd's eventfd_ctx
 * (f_op reads with eventfd_read), so the caller tells which fd of the task is the one registered (the functions'
 * addresses from /proc/kallsyms).
 */
public final class RingRegistrations {
    /**
     * A ring's registrations: its eventfd's kernel object (0: none) and whether only completions done out of line
     * signal it; whether it has provided buffer groups, and restrictions; and its settings.
     */
    public record Registered(long eventfd, boolean async, boolean bufferGroups, boolean restricted, IoUring.Tunings tunings) {}

    /** By fd, each ring's registrations; by kernel object, the fd of each eventfd (the lowest of a shared one). */
    public record Of(Map<Integer, Registered> rings, Map<Long, Integer> eventfds) {}

    private static final int RECORD = 80, RING = 1, EVENTFD = 2;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_ring_evfd",
            () -> program(Btf.kernel(), Kallsyms.function("io_uring_poll"), Kallsyms.function("eventfd_read")));

    private RingRegistrations() {}

    /** What thread {@code tid}'s table holds of rings' eventfds. */
    public static Of of(int tid) {
        record Seen(int kind, long ctx, int async, int groups, int restricted, int prefer, IoUring.Tunings tunings) {}
        Map<Integer, Registered> rings = new HashMap<>();
        Map<Long, Integer> eventfds = new HashMap<>();
        ITERATOR.byFd(tid, RECORD, b -> {
            int kind = b.getInt();
            long ctx = b.getLong();
            int async = b.getInt(), groups = b.getInt(), restricted = b.getInt(), prefer = b.getInt();
            int bounded = b.getInt(), unbounded = b.getInt(), allocStart = b.getInt(), allocEnd = b.getInt();
            int clock = b.getInt(), track = b.getInt();
            long pollNs = b.getLong(), napiNext = b.getLong(), napiList = b.getLong();
            return new Seen(kind, ctx, async, groups, restricted, prefer, new IoUring.Tunings(bounded, unbounded, allocStart,
                    allocEnd, clock, pollNs, prefer != 0, track, napiNext != napiList));
        }).forEach((fd, s) -> {
            if (s.kind() == RING) {
                rings.put(fd, new Registered(s.ctx(), s.async() != 0, s.groups() != 0, (s.restricted() & 0xff) != 0,
                        s.tunings()));
            } else {
                eventfds.merge(s.ctx(), fd, Math::min);
            }
        });
        return new Of(rings, eventfds);
    }

    /**
     * For each io_uring: fd, 1, its eventfd's eventfd_ctx (0: none), eventfd_async, io_bl_xa's head (0: no buffer
     * group; its low 32 bits), restrictions.registered, napi_prefer_busy_poll, iowq_limits[2], file_alloc_start and
     * _end, clockid, napi_track_mode, napi_busy_poll_dt, napi_list.next and napi_list's own address (the same: no NAPI
     * id listed); for each eventfd: fd, 2, its eventfd_ctx (private_data), then zeros.
     */
    private static Bpf.Program program(Btf btf, long ioUringPoll, long eventfdRead) {
        int fp = 10, ctx = 6, file = 7, ops = 8, priv = 9;
        Bpf.Program p = new Bpf.Program()
                .mov(ctx, 1)
                .load(8, file, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(file, "out");
        p.readKernel(ops, file, btf.offset("file", "f_op")).jumpIfZero(ops, "out");
        p.readKernel(priv, file, btf.offset("file", "private_data")).jumpIfZero(priv, "out"); // a number
        p.movImm(1, 0);
        for (int at = -RECORD; at < -8; at += 8) {
            p.store(8, fp, at, 1); // all 0 until read
        }
        p.readKernel(1, ops, btf.offset("file_operations", "poll")).movImm64(2, ioUringPoll).jumpIfNotSame(1, 2, "eventfd");
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "io_bl_xa") + btf.offset("xarray", "xa_head")).store(4, fp, -68, 1);
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "restrictions") + btf.offset("io_restriction", "registered"))
                .store(4, fp, -64, 1);
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "napi_prefer_busy_poll")).andImm(1, 0xff).store(4, fp, -60, 1);
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "iowq_limits")).store(8, fp, -56, 1); // both u32s
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "file_alloc_start")).store(4, fp, -48, 1);
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "file_alloc_end")).store(4, fp, -44, 1);
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "clockid")).store(4, fp, -40, 1);
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "napi_track_mode")).andImm(1, 0xff).store(4, fp, -36, 1);
        p.readKernel(1, priv, btf.offset("io_ring_ctx", "napi_busy_poll_dt")).store(8, fp, -32, 1);
        int napiList = btf.offset("io_ring_ctx", "napi_list");
        p.readKernel(1, priv, napiList + btf.offset("list_head", "next")).store(8, fp, -24, 1);
        p.mov(1, priv).addImm(1, napiList).store(8, fp, -16, 1);
        p.readKernel(priv, priv, btf.offset("io_ring_ctx", "io_ev_fd")).jumpIfZero(priv, "ring");
        p.readKernel(1, priv, btf.offset("io_ev_fd", "eventfd_async")).store(4, fp, -72, 1);
        p.readKernel(1, priv, btf.offset("io_ev_fd", "cq_ev_fd")).store(8, fp, -80, 1);
        p.label("ring").movImm(1, RING).jump("write");
        p.label("eventfd").readKernel(1, ops, btf.offset("file_operations", "read_iter")).movImm64(2, eventfdRead)
                .jumpIfNotSame(1, 2, "out");
        p.store(8, fp, -80, priv).movImm(1, EVENTFD);
        p.label("write").store(4, fp, -84, 1)
                .writeFdRecord(btf, ctx, fp, -RECORD - 8, RECORD)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
