package dev.cryo.kernel.net;

import dev.cryo.kernel.Bpf;
import dev.cryo.kernel.Btf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The SO_REUSEPORT group of each TCP or UDP socket of a task: the socket's place in the group and the
 * group's BPF program (SO_ATTACH_REUSEPORT_CBPF / _EBPF: nginx's, envoy's, haproxy's "reuseport"). The
 * kernel picks a member by its index in sk_reuseport_cb->socks[] (the flow hash scaled to the members,
 * or the index the program returns), so the index is state; no socket option or diag message gives
 * either back. cryo reads them with a BPF iterator of its own over a task's files, following file →
 * socket → sock → sk_reuseport_cb with the offsets of the running kernel's BTF (an MPTCP socket's
 * group is its first TCP subflow's: mptcp_sock → first → sk_reuseport_cb). A classic program
 * keeps its original instructions (orig_prog), which come back whole.
 */
public final class ReuseportGroups {
    /**
     * The socket at {@code fd} in its group: the group's id (reuseport_id), the socket's index among the
     * group's {@code members} live sockets (-1: not among the first {@link #MAX_MEMBERS}, or a TCP
     * listener the group keeps closed), and the group's program (null: none).
     */
    public record Member(int fd, int group, int index, int members, Program program) {}

    /** A group's program: classic instructions, or null for an eBPF one (its {@code id}). */
    public record Program(int type, int id, byte[] classic) {}

    /** How many members of a group the iterator looks through for a socket (32 reads of 32 pointers). */
    public static final int MAX_MEMBERS = 1024;

    private static final int HEADER = 32, CHUNK = 256, MAX_CLASSIC = 4096; // BPF_MAXINSNS
    private static final Bpf.TaskIterator ITERATOR =
            Bpf.TaskIterator.overFiles("cryo_reuseport", () -> program(Btf.kernel()));

    private ReuseportGroups() {}

    /** Loads the iterator in the background, before a frozen window needs it. */
    public static void warmUp() {
        ITERATOR.warmUp();
    }

    /** The reuseport group of each socket in a group in the fd table of thread {@code tid}, by fd. */
    public static Map<Integer, Member> of(int tid) {
        byte[] raw = ITERATOR.run(tid);
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        Map<Integer, Member> out = new HashMap<>();
        while (b.remaining() >= HEADER) {
            int fd = b.getInt(), group = b.getInt(), index = b.getInt(), members = b.getInt();
            boolean program = b.getInt() != 0;
            int type = b.getInt(), id = b.getInt(), len = b.getInt();
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
            out.put(fd, new Member(fd, group, index, members, program ? new Program(type, id, classic) : null));
        }
        return out;
    }

    /**
     * For each socket file in a reuseport group: fd, group id, index (-1 when not found), members, whether
     * the group has a program, its type, id and classic length (0 for eBPF or none), then the classic
     * instructions in 256-byte chunks (the last one padded: bytes past the array, read without faulting,
     * dropped here). The index is looked for 32 pointers at a time through socks[0..num_socks).
     */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, ctx = 6, reuse = 8, sk = 9, at = 7;
        int h = -CHUNK - HEADER; // the header's place on the stack, below the chunk buffer
        Bpf.Program p = new Bpf.Program();
        p.mov(ctx, 1)
                .load(8, 7, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(7, "out")
                .mov(1, 7).call(Bpf.SOCK_FROM_FILE).jumpIfZero(0, "out")
                .mov(7, 0)
                .load(8, 1, 7, btf.offset("socket", "sk")).jumpIfZero(1, "out");
        int mptcp = btf.struct("mptcp_sock");
        if (mptcp != 0) { // an MPTCP socket's group is its first subflow's, a TCP sock the file does not lead to
            p.load(2, 2, 1, btf.offset("sock", "sk_protocol")).jumpIfNot(2, Sockets.IPPROTO_MPTCP, "sock")
                    .movImm(2, mptcp).callKernel(btf.function("bpf_rdonly_cast")).mov(7, 0) // (struct mptcp_sock *) sk
                    .load(8, 1, 7, btf.offset("mptcp_sock", "first")).jumpIfZero(1, "out")
                    .load(8, reuse, 1, btf.offset("sock", "sk_reuseport_cb")).jumpIfZero(reuse, "out")
                    .readKernel(sk, 7, btf.offset("mptcp_sock", "first")).jump("member");
        }
        p.label("sock")
                .load(8, reuse, 1, btf.offset("sock", "sk_reuseport_cb")).jumpIfZero(reuse, "out")
                .readKernel(sk, 7, btf.offset("socket", "sk")) // the sock's address as a plain number, to compare
                .label("member")
                .load(4, 1, ctx, btf.offset("bpf_iter__task_file", "fd")).store(4, fp, h, 1)
                .load(4, 1, reuse, btf.offset("sock_reuseport", "reuseport_id")).store(4, fp, h + 4, 1)
                .movImm(1, -1).store(4, fp, h + 8, 1)
                .load(2, 1, reuse, btf.offset("sock_reuseport", "num_socks")).store(4, fp, h + 12, 1)
                .movImm(at, 0)
                .label("look").jumpIfAbove(at, MAX_MEMBERS * 8 - CHUNK, "looked")
                .load(2, 2, reuse, btf.offset("sock_reuseport", "num_socks")).shiftLeft(2, 3)
                .jumpIfAtLeast(at, 2, "looked")
                .mov(1, fp).addImm(1, -CHUNK).movImm(2, CHUNK)
                .mov(3, reuse).addImm(3, btf.offset("sock_reuseport", "socks")).add(3, at).call(Bpf.PROBE_READ_KERNEL);
        for (int j = 0; j < CHUNK / 8; j++) {
            p.load(8, 1, fp, -CHUNK + 8 * j).jumpIfSame(1, sk, "at" + j);
        }
        p.addImm(at, CHUNK).jump("look");
        for (int j = 0; j < CHUNK / 8; j++) {
            p.label("at" + j).addImm(at, 8 * j).jump("found");
        }
        int prog = 8, fprog = 9, count = 7;
        return p.label("found").shiftRight(at, 3)
                .load(2, 2, reuse, btf.offset("sock_reuseport", "num_socks")).jumpIfAtLeast(at, 2, "looked")
                .store(4, fp, h + 8, at) // a closed listener's place past num_socks is no index
                .label("looked")
                .movImm(1, 0).store(4, fp, h + 16, 1).store(4, fp, h + 20, 1).store(4, fp, h + 24, 1)
                .movImm(count, 0).movImm(fprog, 0)
                .load(8, prog, reuse, btf.offset("sock_reuseport", "prog")).jumpIfZero(prog, "header")
                .movImm(1, 1).store(4, fp, h + 16, 1)
                .load(4, 1, prog, btf.offset("bpf_prog", "type")).store(4, fp, h + 20, 1)
                .load(8, 1, prog, btf.offset("bpf_prog", "aux"))
                .load(4, 1, 1, btf.offset("bpf_prog_aux", "id")).store(4, fp, h + 24, 1)
                .load(8, fprog, prog, btf.offset("bpf_prog", "orig_prog")).jumpIfZero(fprog, "header")
                .load(2, count, fprog, btf.offset("sock_fprog_kern", "len"))
                .label("header").store(4, fp, h + 28, count)
                .seqWrite(btf, ctx, fp, h, HEADER)
                .jumpIfZero(fprog, "out").jumpIfAbove(count, MAX_CLASSIC, "out")
                .mov(1, fp).addImm(1, h - 8).movImm(2, 8)
                .mov(3, fprog).addImm(3, btf.offset("sock_fprog_kern", "filter")).call(Bpf.PROBE_READ_KERNEL)
                .load(8, fprog, fp, h - 8) // the address of the instructions, a plain number now
                .addImm(count, CHUNK / Sockets.BPF_INSN - 1).shiftRight(count, 5) // 256-byte chunks: at most 128 turns to verify
                .label("chunk").jumpIfZero(count, "out")
                .mov(1, fp).addImm(1, -CHUNK).movImm(2, CHUNK).mov(3, fprog).call(Bpf.PROBE_READ_KERNEL)
                .seqWrite(btf, ctx, fp, -CHUNK, CHUNK)
                .addImm(fprog, CHUNK).addImm(count, -1).jump("chunk")
                .label("out").movImm(0, 0).exit();
    }
}
