package dev.cryo.kernel.net;

import dev.cryo.kernel.Bpf;
import dev.cryo.kernel.Btf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * The eBPF programs a tun/tap device runs on its packets: the queue-steering one
 * (TUNSETSTEERINGEBPF) and the filter (TUNSETFILTEREBPF). No ioctl reads them back; cryo's BPF
 * iterator over a task's files finds them from each /dev/net/tun file (file → tun_file → its
 * device, attached or detached → the programs), at the offsets of the running kernel's BTF.
 */
public final class TunPrograms {
    /** The bpf program ids of the device of the tun file at {@code fd}, 0 where it has none. */
    public record Attached(int fd, int steeringId, int filterId) {
        /** "an eBPF steering program (TUNSETSTEERINGEBPF, bpf program id N)", and or only the filter's, for messages. */
        public String describe() {
            String steering = "an eBPF steering program (TUNSETSTEERINGEBPF, bpf program id " + steeringId + ")";
            String filter = "an eBPF filter program (TUNSETFILTEREBPF, bpf program id " + filterId + ")";
            return steeringId != 0 && filterId != 0 ? steering + " and " + filter : steeringId != 0 ? steering : filter;
        }
    }

    private static final int RECORD = 16;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_tun_progs", () -> program(Btf.kernel()));

    private TunPrograms() {}

    /** The programs of the tun/tap devices that the fd table of thread {@code tid} holds files of, by fd. */
    public static Map<Integer, Attached> of(int tid) {
        ByteBuffer b = ByteBuffer.wrap(ITERATOR.run(tid)).order(ByteOrder.LITTLE_ENDIAN);
        Map<Integer, Attached> out = new HashMap<>();
        while (b.remaining() >= RECORD) {
            Attached a = new Attached(b.getInt(), b.getInt(), b.getInt());
            b.getInt();
            out.put(a.fd(), a);
        }
        return out;
    }

    /** For each tun file whose device has a program: fd, steering program id, filter program id, padding. */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, ctx = 6, file = 7, tfile = 8, tun = 9;
        Bpf.Program p = new Bpf.Program()
                .mov(ctx, 1)
                .load(8, file, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(file, "out")
                .load(8, 1, file, btf.offset("file", "f_inode")).jumpIfZero(1, "out")
                .load(4, 1, 1, btf.offset("inode", "i_rdev"))
                .jumpIfNot(1, TunDevices.MISC_MAJOR << 20 | TunDevices.MINOR, "out") // the kernel's MKDEV
                .load(8, tfile, file, btf.offset("file", "private_data")).jumpIfZero(tfile, "out");
        read(p, tfile, btf.offset("tun_file", "tun")).load(8, tun, fp, -8).jumpIfNot(tun, 0, "device");
        read(p, tfile, btf.offset("tun_file", "detached")).load(8, tun, fp, -8).jumpIfZero(tun, "out");
        p.label("device").movImm(1, 0).store(8, fp, -24, 1).store(8, fp, -16, 1)
                .load(4, 1, ctx, btf.offset("bpf_iter__task_file", "fd")).store(4, fp, -24, 1);
        programId(p, btf, tun, btf.offset("tun_struct", "steering_prog"), -20, "steering");
        programId(p, btf, tun, btf.offset("tun_struct", "filter_prog"), -16, "filter");
        return p.load(4, 1, fp, -20).jumpIfNot(1, 0, "write")
                .load(4, 1, fp, -16).jumpIfZero(1, "out")
                .label("write")
                .seqWrite(btf, ctx, fp, -24, RECORD)
                .label("out").movImm(0, 0).exit();
    }

    /** *(u64 *)(fp - 8) = *(u64 *)(base + off), read with bpf_probe_read_kernel (base is a plain number). */
    private static Bpf.Program read(Bpf.Program p, int base, int off) {
        return p.mov(1, 10).addImm(1, -8).movImm(2, 8).mov(3, base).addImm(3, off).call(Bpf.PROBE_READ_KERNEL);
    }

    /** The id of the program the tun_prog pointer at {@code tun + off} points to, into the u32 at fp + slot (left 0 without one). */
    private static void programId(Bpf.Program p, Btf btf, int tun, int off, int slot, String name) {
        read(p, tun, off).load(8, 3, 10, -8).jumpIfZero(3, name + "-none");
        p.mov(1, 10).addImm(1, -8).movImm(2, 8).addImm(3, btf.offset("tun_prog", "prog")).call(Bpf.PROBE_READ_KERNEL)
                .load(8, 3, 10, -8).jumpIfZero(3, name + "-none");
        p.mov(1, 10).addImm(1, -8).movImm(2, 8).addImm(3, btf.offset("bpf_prog", "aux")).call(Bpf.PROBE_READ_KERNEL)
                .load(8, 3, 10, -8).jumpIfZero(3, name + "-none");
        p.mov(1, 10).addImm(1, slot).movImm(2, 4).addImm(3, btf.offset("bpf_prog_aux", "id")).call(Bpf.PROBE_READ_KERNEL)
                .label(name + "-none");
    }
}
