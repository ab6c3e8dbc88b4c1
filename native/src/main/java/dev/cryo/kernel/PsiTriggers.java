package dev.cryo.kernel;

import java.util.Map;

/**
 * The pressure-stall triggers ({@code write(fd, "some 150000 1000000")} on /proc/pressure/* or a cgroup's
 * *.pressure file, then poll for POLLPRI: systemd-oomd, low-memory-monitor, Android's lmkd) a task's files hold.
 * No file shows one, and a poll by cryo would take the event the program has not seen: cryo's BPF iterator over
 * the task's files reads it where the kernel keeps it, without changing it: a /proc file's seq_file.private, a
 * cgroup file's seq_file.private (its kernfs_open_file) → .priv (a cgroup_file_ctx) → .psi.trigger.
 */
public final class PsiTriggers {
    /**
     * A trigger: its psi_states value ({@code state}), its threshold and window in microseconds as written, and
     * whether an event waits that the program has not polled yet.
     */
    public record Trigger(int state, long thresholdUs, long windowUs, boolean eventPending) {
        /**
         * The line that makes it again on a file of resource {@code resource} (/proc/pressure/NAME or NAME.pressure:
         * io, memory, cpu, irq), or null when its state is not one of that file's ("some"/"full" add 0/1 to twice
         * the resource's index; irq, full only, comes after cpu's two).
         */
        public String line(String resource) {
            int base = switch (resource) {
                case "io" -> 0;
                case "memory" -> 2;
                case "cpu" -> 4;
                default -> -1;
            };
            String kind = resource.equals("irq") && state == 6 ? "full"
                    : base < 0 ? null : state == base ? "some" : state == base + 1 ? "full" : null;
            return kind == null ? null : kind + " " + thresholdUs + " " + windowUs;
        }
    }

    public static final long PROC_SUPER_MAGIC = 0x9fa0, CGROUP2_SUPER_MAGIC = 0x63677270;
    private static final int RECORD = 32, NSEC_PER_USEC = 1000;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_psi", () -> program(Btf.kernel()));

    private PsiTriggers() {}

    /** Loads the iterator in the background, before a frozen window needs it. */
    public static void warmUp() {
        ITERATOR.warmUp();
    }

    /**
     * By fd, what each /proc or cgroup2 file of thread {@code tid}'s table holds where a pressure file keeps its
     * trigger: only the caller knows which fds are pressure files (for others the numbers mean nothing).
     */
    public static Map<Integer, Trigger> of(int tid) {
        return ITERATOR.byFd(tid, RECORD, b -> {
            int state = b.getInt();
            long threshold = b.getLong(), window = b.getLong();
            return new Trigger(state, threshold / NSEC_PER_USEC, window / NSEC_PER_USEC, b.getInt() != 0);
        });
    }

    /**
     * For each file on a procfs or cgroup2 whose trigger pointer is set: fd, psi_trigger.state, .threshold and
     * .win.size (nanoseconds), .event, 4 bytes of padding.
     */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, ctx = 6, file = 7, trigger = 8, magic = 9;
        Bpf.Program p = new Bpf.Program().fileSystemAndPrivate(btf, ctx, file, magic, trigger).jumpIfZero(trigger, "out");
        p.movImm64(1, PROC_SUPER_MAGIC).jumpIfNotSame(magic, 1, "cgroup");
        p.readKernel(trigger, trigger, btf.offset("seq_file", "private")).jump("found");
        p.label("cgroup").movImm64(1, CGROUP2_SUPER_MAGIC).jumpIfNotSame(magic, 1, "out");
        p.readKernel(trigger, trigger, btf.offset("seq_file", "private")).jumpIfZero(trigger, "out"); // kernfs's
        p.readKernel(trigger, trigger, btf.offset("kernfs_open_file", "priv")).jumpIfZero(trigger, "out");
        p.readKernel(trigger, trigger, btf.offset("cgroup_file_ctx", "psi")); // psi.trigger, its one member
        p.label("found").jumpIfZero(trigger, "out");
        p.readKernel(1, trigger, btf.offset("psi_trigger", "state")).store(4, fp, -36, 1);
        p.readKernel(1, trigger, btf.offset("psi_trigger", "threshold")).store(8, fp, -32, 1);
        p.readKernel(1, trigger, btf.offset("psi_trigger", "win") + btf.offset("psi_window", "size")).store(8, fp, -24, 1);
        p.readKernel(1, trigger, btf.offset("psi_trigger", "event")).store(4, fp, -16, 1);
        p.movImm(1, 0).store(4, fp, -12, 1)
                .writeFdRecord(btf, ctx, fp, -40, RECORD)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
