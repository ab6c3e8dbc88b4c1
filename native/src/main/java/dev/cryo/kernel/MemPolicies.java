package dev.cryo.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The NUMA memory policies a task set (set_mempolicy: numactl --interleave, a database's; mbind on an area: a JVM with
 * -XX:+UseNUMA): a thread's task_struct.mempolicy and each area's vm_area_struct.vm_policy, none when default. cryo's
 * BPF iterators over the thread and over its memory areas read them; only numa_maps shows them otherwise, by walking
 * every page.
 */
public final class MemPolicies {
    private static final Bpf.TaskIterator THREAD = Bpf.TaskIterator.overTask("cryo_mempolicy", () -> threadProgram(Btf.kernel()));
    private static final Bpf.TaskIterator AREAS = Bpf.TaskIterator.overAreas("cryo_vmapolicy", () -> areaProgram(Btf.kernel()));

    private MemPolicies() {}

    /** Loads both iterators in the background, before a frozen window needs them. */
    public static void warmUp() {
        THREAD.warmUp();
        AREAS.warmUp();
    }

    /** Whether thread {@code tid} has a memory policy of its own (set_mempolicy), not the default. */
    public static boolean threadHasOne(int tid) {
        ByteBuffer b = ByteBuffer.wrap(THREAD.run(tid)).order(ByteOrder.LITTLE_ENDIAN);
        return b.remaining() >= 8 && b.getLong() != 0;
    }

    /** The start addresses of the memory areas of thread {@code tid}'s process that have a policy of their own (mbind). */
    public static List<Long> areasWithOne(int tid) {
        ByteBuffer b = ByteBuffer.wrap(AREAS.run(tid)).order(ByteOrder.LITTLE_ENDIAN);
        List<Long> out = new ArrayList<>();
        while (b.remaining() >= 8) {
            out.add(b.getLong());
        }
        return out;
    }

    /** The thread's task_struct.mempolicy (a pointer, 0 for the default), 8 bytes. */
    private static Bpf.Program threadProgram(Btf btf) {
        int fp = 10, ctx = 6;
        Bpf.Program p = new Bpf.Program().mov(ctx, 1)
                .load(8, 7, ctx, btf.offset("bpf_iter__task", "task")).jumpIfZero(7, "out");
        p.readKernel(1, 7, btf.offset("task_struct", "mempolicy")).store(8, fp, -16, 1);
        p.load(8, 1, ctx, btf.offset("bpf_iter__task", "meta")).load(8, 1, 1, btf.offset("bpf_iter_meta", "seq"))
                .mov(2, fp).addImm(2, -16).movImm(3, 8).call(Bpf.SEQ_WRITE)
                .label("out").movImm(0, 0).exit();
        return p;
    }

    /** For each area with a vm_policy: its vm_start, 8 bytes. */
    private static Bpf.Program areaProgram(Btf btf) {
        int fp = 10, ctx = 6;
        Bpf.Program p = new Bpf.Program().mov(ctx, 1)
                .load(8, 7, ctx, btf.offset("bpf_iter__task_vma", "vma")).jumpIfZero(7, "out");
        p.readKernel(1, 7, btf.offset("vm_area_struct", "vm_policy")).jumpIfZero(1, "out");
        p.readKernel(1, 7, btf.offset("vm_area_struct", "vm_start")).store(8, fp, -16, 1);
        p.load(8, 1, ctx, btf.offset("bpf_iter__task_vma", "meta")).load(8, 1, 1, btf.offset("bpf_iter_meta", "seq"))
                .mov(2, fp).addImm(2, -16).movImm(3, 8).call(Bpf.SEQ_WRITE)
                .label("out").movImm(0, 0).exit();
        return p;
    }
}
