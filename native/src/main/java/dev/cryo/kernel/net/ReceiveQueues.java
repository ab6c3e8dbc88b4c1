package dev.cryo.kernel.net;

import dev.cryo.kernel.Bpf;
import dev.cryo.kernel.Btf;
import dev.cryo.kernel.Fd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * How many messages wait in a socket's receive queue. A unix datagram or seqpacket socket holding an error
 * gives it to any receive first, a peek too, and SIOCINQ does not count an empty message: cryo reads the
 * queue's length (sk_receive_queue.qlen) with a BPF iterator of its own over its own files, following
 * file → socket → sock with the offsets of the running kernel's BTF, without touching the socket.
 */
public final class ReceiveQueues {
    private static final int RECORD = 8;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_rcvqlen", () -> program(Btf.kernel()));

    private ReceiveQueues() {}

    /** The messages queued at {@code sock}, an fd of cryo's; fails where cryo's BPF iterators cannot run. */
    public static int messages(Fd sock) {
        ByteBuffer b = ByteBuffer.wrap(ITERATOR.run((int) ProcessHandle.current().pid())).order(ByteOrder.LITTLE_ENDIAN);
        while (b.remaining() >= RECORD) {
            int fd = b.getInt(), qlen = b.getInt();
            if (fd == sock.value()) {
                return qlen;
            }
        }
        throw new IllegalStateException("cryo_rcvqlen found no socket at fd " + sock.value() + " of cryo");
    }

    /** For each socket file: its fd and its receive queue's length. */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, ctx = 6;
        return new Bpf.Program()
                .mov(ctx, 1)
                .load(8, 1, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(1, "out")
                .call(Bpf.SOCK_FROM_FILE).jumpIfZero(0, "out")
                .load(8, 1, 0, btf.offset("socket", "sk")).jumpIfZero(1, "out")
                .load(4, 2, 1, btf.offset("sock", "sk_receive_queue") + btf.offset("sk_buff_head", "qlen"))
                .store(4, fp, -RECORD + 4, 2)
                .load(4, 1, ctx, btf.offset("bpf_iter__task_file", "fd")).store(4, fp, -RECORD, 1)
                .load(8, 1, ctx, btf.offset("bpf_iter__task_file", "meta"))
                .load(8, 1, 1, btf.offset("bpf_iter_meta", "seq"))
                .mov(2, fp).addImm(2, -RECORD).movImm(3, RECORD).call(Bpf.SEQ_WRITE)
                .label("out").movImm(0, 0).exit();
    }
}
