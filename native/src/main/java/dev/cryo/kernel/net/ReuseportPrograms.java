package dev.cryo.kernel.net;

import dev.cryo.kernel.Bpf;
import dev.cryo.kernel.Btf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The BPF programs that pick a socket of a SO_REUSEPORT group (SO_ATTACH_REUSEPORT_CBPF / _EBPF:
 * nginx's, envoy's, haproxy's "reuseport"). No socket option or diag message gives them back, so
 * cryo reads them from the kernel with a BPF iterator of its own over a task's files, following
 * file → socket → sock → sk_reuseport_cb → prog with the offsets of the running kernel's BTF. A
 * classic program keeps its original instructions (orig_prog), which come back whole.
 */
public final class ReuseportPrograms {
    /** The program of the group of the socket at {@code fd}: classic instructions, or null for an eBPF one (its {@code id}). */
    public record Attached(int fd, int type, int id, byte[] classic) {}

    private static final int HEADER = 16, CHUNK = 256, MAX_CLASSIC = 4096; // BPF_MAXINSNS
    private static final Bpf.TaskIterator ITERATOR =
            Bpf.TaskIterator.overFiles("cryo_reuseport", () -> program(Btf.kernel()));

    private ReuseportPrograms() {}

    /** Loads the iterator in the background, before a frozen window needs it. */
    public static void warmUp() {
        ITERATOR.warmUp();
    }

    /** The reuseport programs of the sockets in the fd table of thread {@code tid}, by fd. */
    public static Map<Integer, Attached> of(int tid) {
        byte[] raw = ITERATOR.run(tid);
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        Map<Integer, Attached> out = new HashMap<>();
        while (b.remaining() >= HEADER) {
            int fd = b.getInt(), type = b.getInt(), id = b.getInt(), len = b.getInt();
            byte[] classic = null;
            if (len > 0) {
                int chunks = (len * Sockets.BPF_INSN + CHUNK - 1) / CHUNK;
                byte[] all = new byte[chunks * CHUNK];
                if (b.remaining() < all.length) {
                    throw new IllegalStateException("cryo_reuseport gave " + b.remaining() + " bytes for the "
                            + len + " instructions of fd " + fd);
                }
                b.get(all);
                classic = Arrays.copyOf(all, len * Sockets.BPF_INSN);
            }
            out.put(fd, new Attached(fd, type, id, classic));
        }
        return out;
    }

    /**
     * For each socket file whose reuseport group has a program: fd, program type, program id, classic
     * length (0 for eBPF), then the classic instructions in 256-byte chunks (the last one padded:
     * bytes past the array, read without faulting, dropped here).
     */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, ctx = 6, prog = 8, fprog = 9, count = 7;
        return new Bpf.Program()
                .mov(ctx, 1)
                .load(8, 7, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(7, "out")
                .mov(1, 7).call(Bpf.SOCK_FROM_FILE).jumpIfZero(0, "out")
                .load(8, 1, 0, btf.offset("socket", "sk")).jumpIfZero(1, "out")
                .load(8, prog, 1, btf.offset("sock", "sk_reuseport_cb")).jumpIfZero(prog, "out")
                .load(8, prog, prog, btf.offset("sock_reuseport", "prog")).jumpIfZero(prog, "out")
                .load(4, 1, ctx, btf.offset("bpf_iter__task_file", "fd")).store(4, fp, -CHUNK - HEADER, 1)
                .load(4, 1, prog, btf.offset("bpf_prog", "type")).store(4, fp, -CHUNK - HEADER + 4, 1)
                .load(8, 1, prog, btf.offset("bpf_prog", "aux"))
                .load(4, 1, 1, btf.offset("bpf_prog_aux", "id")).store(4, fp, -CHUNK - HEADER + 8, 1)
                .movImm(count, 0)
                .load(8, fprog, prog, btf.offset("bpf_prog", "orig_prog")).jumpIfZero(fprog, "header")
                .load(2, count, fprog, btf.offset("sock_fprog_kern", "len"))
                .label("header").store(4, fp, -CHUNK - HEADER + 12, count)
                .load(8, 1, ctx, btf.offset("bpf_iter__task_file", "meta"))
                .load(8, 1, 1, btf.offset("bpf_iter_meta", "seq"))
                .mov(2, fp).addImm(2, -CHUNK - HEADER).movImm(3, HEADER).call(Bpf.SEQ_WRITE)
                .jumpIfZero(fprog, "out").jumpIfAbove(count, MAX_CLASSIC, "out")
                .mov(1, fp).addImm(1, -CHUNK - HEADER - 8).movImm(2, 8)
                .mov(3, fprog).addImm(3, btf.offset("sock_fprog_kern", "filter")).call(Bpf.PROBE_READ_KERNEL)
                .load(8, fprog, fp, -CHUNK - HEADER - 8) // the address of the instructions, a plain number now
                .addImm(count, CHUNK / Sockets.BPF_INSN - 1).shiftRight(count, 5) // 256-byte chunks: at most 128 turns to verify
                .label("chunk").jumpIfZero(count, "out")
                .mov(1, fp).addImm(1, -CHUNK).movImm(2, CHUNK).mov(3, fprog).call(Bpf.PROBE_READ_KERNEL)
                .load(8, 1, ctx, btf.offset("bpf_iter__task_file", "meta"))
                .load(8, 1, 1, btf.offset("bpf_iter_meta", "seq"))
                .mov(2, fp).addImm(2, -CHUNK).movImm(3, CHUNK).call(Bpf.SEQ_WRITE)
                .addImm(fprog, CHUNK).addImm(count, -1).jump("chunk")
                .label("out").movImm(0, 0).exit();
    }
}
