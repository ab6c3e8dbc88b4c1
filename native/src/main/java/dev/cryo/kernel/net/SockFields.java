package dev.cryo.kernel.net;

import dev.cryo.kernel.Bpf;
import dev.cryo.kernel.Btf;
import dev.cryo.kernel.Fd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.ToIntFunction;

/**
 * A 4-byte field of the struct sock of a socket of cryo's, read without touching the socket: cryo reads it
 * with a BPF iterator of its own over its own files, following file → socket → sock with the offsets of the
 * running kernel's BTF.
 */
public final class SockFields {
    /**
     * How many messages wait in a socket's receive queue (sk_receive_queue.qlen): a unix datagram or seqpacket
     * socket holding an error gives it to any receive first, a peek too, and SIOCINQ does not count an empty message.
     */
    public static final SockFields QUEUED_MESSAGES = new SockFields("cryo_rcvqlen",
            btf -> btf.offset("sock", "sk_receive_queue") + btf.offset("sk_buff_head", "qlen"));
    /**
     * The error a socket holds that its program has not read (sk_err, 0: none; a reset's ECONNRESET, a refused
     * connect's ECONNREFUSED, a timeout's ETIMEDOUT, a UDP socket's ICMP error): SO_ERROR, like any receive,
     * takes it, so a tree that runs on (or resumes after cryo's death) would lose it.
     */
    public static final SockFields UNREAD_ERROR = new SockFields("cryo_sk_err", btf -> btf.offset("sock", "sk_err"));

    /** The socket's state (skc_state, one byte: the TCP_* values, which vsock uses too). */
    public static final SockFields STATE = new SockFields("cryo_sk_state", btf -> btf.offset("sock_common", "skc_state"), 1);
    /** A listener's backlog (sk_max_ack_backlog, listen's argument as the kernel caps it) and the connections in its
     * accept queue (sk_ack_backlog), for families whose sock_diag does not tell them (vsock). */
    public static final SockFields BACKLOG = new SockFields("cryo_sk_backlog", btf -> btf.offset("sock", "sk_max_ack_backlog")),
            ACCEPT_QUEUE = new SockFields("cryo_sk_ackq", btf -> btf.offset("sock", "sk_ack_backlog"));

    private static final int RECORD = 8;
    private final String name;
    private final Bpf.TaskIterator iterator;

    private SockFields(String name, ToIntFunction<Btf> offset) {
        this(name, offset, 4);
    }

    /** {@code size}: the field's, in bytes (the verifier refuses a load past its end). */
    private SockFields(String name, ToIntFunction<Btf> offset, int size) {
        this.name = name;
        this.iterator = Bpf.TaskIterator.overFiles(name, () -> program(Btf.kernel(), offset.applyAsInt(Btf.kernel()), size));
    }

    /** The field of {@code sock}, an fd of cryo's; fails where cryo's BPF iterators cannot run. */
    public int of(Fd sock) {
        ByteBuffer b = ByteBuffer.wrap(iterator.run((int) ProcessHandle.current().pid())).order(ByteOrder.LITTLE_ENDIAN);
        while (b.remaining() >= RECORD) {
            int fd = b.getInt(), value = b.getInt();
            if (fd == sock.value()) {
                return value;
            }
        }
        throw new IllegalStateException(name + " found no socket at fd " + sock.value() + " of cryo");
    }

    /** For each socket file: its fd and the field of {@code size} bytes at {@code offset} of its sock. */
    private static Bpf.Program program(Btf btf, int offset, int size) {
        int fp = 10, ctx = 6;
        return new Bpf.Program()
                .mov(ctx, 1)
                .load(8, 1, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(1, "out")
                .call(Bpf.SOCK_FROM_FILE).jumpIfZero(0, "out")
                .load(8, 1, 0, btf.offset("socket", "sk")).jumpIfZero(1, "out")
                .load(size, 2, 1, offset) // zero-extended into the record's 4 bytes
                .store(4, fp, -RECORD + 4, 2)
                .writeFdRecord(btf, ctx, fp, -RECORD, RECORD)
                .label("out").movImm(0, 0).exit();
    }
}
