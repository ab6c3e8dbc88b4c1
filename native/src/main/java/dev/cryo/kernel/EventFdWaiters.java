package dev.cryo.kernel;

import java.util.Map;

/**
 * The kernel's own waiters on a task's eventfds, which no file shows and an eventfd made again does not have: a
 * memory cgroup's event registered by writing "EVENTFD FILE [ARGS]" to cgroup.event_control (memory.oom_control,
 * a memory.usage_in_bytes threshold, memory.pressure_level: cgroup v1's OOM and pressure notifiers, kubelet's and
 * older container runtimes'), and a KVM irqfd. Each waits on the eventfd's queue (eventfd_ctx.wqh) with a wake-up
 * function of its own (memcg_event_wake, irqfd_wakeup): cryo's BPF iterator over the task's files counts them for
 * each eventfd (a file whose f_op reads with eventfd_read; the functions' addresses from /proc/kallsyms).
 */
public final class EventFdWaiters {
    /** The kernel's waiters on one eventfd: memory cgroup events, KVM irqfds. */
    public record Waiters(int memcgEvents, int kvmIrqfds) {}

    private static final int RECORD = 16, MAX_WAITERS = 64;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_efd_waiters",
            () -> program(Btf.kernel(), Kallsyms.function("eventfd_read"), Kallsyms.function("memcg_event_wake"),
                    orNone("irqfd_wakeup")));

    private EventFdWaiters() {}

    /** Loads the iterator in the background, before a frozen window needs it. */
    public static void warmUp() {
        ITERATOR.warmUp();
    }

    /** By fd, the kernel's waiters on each eventfd of thread {@code tid}'s table (the first 64 waiters of each looked at). */
    public static Map<Integer, Waiters> of(int tid) {
        return ITERATOR.byFd(tid, RECORD, b -> {
            b.getInt(); // padding
            return new Waiters(b.getInt(), b.getInt());
        });
    }

    /** The address of kernel function {@code name}, or -1 where this kernel has none (no KVM). */
    private static long orNone(String name) {
        try {
            return Kallsyms.function(name);
        } catch (IllegalStateException none) {
            return -1;
        }
    }

    /**
     * For each eventfd: fd, 4 bytes of padding, how many entries of its wait queue wake with memcg_event_wake, how
     * many with irqfd_wakeup.
     */
    private static Bpf.Program program(Btf btf, long eventfdRead, long memcgWake, long irqfdWake) {
        int fp = 10, ctx = 6, file = 7, at = 8, count = 9;
        int head = btf.offset("eventfd_ctx", "wqh") + btf.offset("wait_queue_head", "head");
        int func = btf.offset("wait_queue_entry", "func") - btf.offset("wait_queue_entry", "entry");
        Bpf.Program p = new Bpf.Program()
                .mov(ctx, 1)
                .load(8, file, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(file, "out");
        p.readKernel(1, file, btf.offset("file", "f_op")).jumpIfZero(1, "out");
        p.readKernel(1, 1, btf.offset("file_operations", "read_iter")).movImm64(2, eventfdRead).jumpIfNotSame(1, 2, "out");
        p.readKernel(at, file, btf.offset("file", "private_data")).jumpIfZero(at, "out"); // its eventfd_ctx, a number
        p.addImm(at, head).store(8, fp, -16, at); // the list's head: where the walk ends
        p.movImm(1, 0).store(8, fp, -24, 1);
        p.readKernel(at, at, 0); // head.next
        p.movImm(count, MAX_WAITERS)
                .label("waiter").jumpIfZero(at, "write").load(8, 2, fp, -16).jumpIfSame(at, 2, "write")
                .jumpIfZero(count, "write").addImm(count, -1);
        p.readKernel(1, at, func).movImm64(2, memcgWake).jumpIfNotSame(1, 2, "kvm");
        p.load(4, 1, fp, -24).addImm(1, 1).store(4, fp, -24, 1).jump("next");
        p.label("kvm").movImm64(2, irqfdWake).jumpIfNotSame(1, 2, "next");
        p.load(4, 1, fp, -20).addImm(1, 1).store(4, fp, -20, 1);
        p.label("next").readKernel(at, at, 0).jump("waiter"); // entry.next
        p.label("write").movImm(1, 0).store(4, fp, -28, 1)
                .writeFdRecord(btf, ctx, fp, -32, RECORD)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
