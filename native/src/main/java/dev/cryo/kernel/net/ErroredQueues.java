package dev.cryo.kernel.net;

import dev.cryo.kernel.Bpf;
import dev.cryo.kernel.Btf;
import dev.cryo.kernel.Fd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Messages queued at a unix socket that no receive can read as the program would: those of a datagram or
 * seqpacket socket holding an error (ECONNRESET), which any recvmsg, a peek too, gives first and clears, and the
 * bytes a client sent on a connection its server has not accepted yet, which wait in a socket no process holds
 * (an embryo: nginx's FastCGI request to a busy php-fpm). A BPF iterator of cryo's over its own files walks the
 * receive queue of each such socket, or of such a client's peer (file → socket → sock → sk_buff list, with the
 * offsets of the running kernel's BTF) and writes each message's length, its credentials (UNIXCB: the
 * sender's pid as cryo's pid namespace numbers it, uid, gid), whether it passes files, the sender's bound name
 * and its bytes, up to {@link #MAX_MESSAGES} messages of up to {@link #MAX_BYTES} bytes each held in the
 * buffer's head (a larger one is in pages: its length only).
 */
public final class ErroredQueues {
    public static final int MAX_MESSAGES = 16, MAX_BYTES = 4096;
    private static final int HEADER = 40, FROM = 128, CHUNK = 256;
    private static final int FP = 10, CTX = 6, SKB = 7, HEAD = 8, INDEX = 9;
    // the program's stack: fp-8 scratch of readKernel, then its variables, the record and its buffers
    private static final int FD = -16, DATA = -24, LEN = -32, AT = -40, REC = -80, NAME = -208, BYTES = -464, EMB = -472, LVL = -480;
    /** Which queue a program reads: a socket's holding an error, a client's peer not accepted, a listener's embryo. */
    private static final int ERRORED = 0, NOT_ACCEPTED_MODE = 1, EMBRYO = 2;
    /**
     * The queue's place of a listener's closed connection, and how deep below cryo's pid namespace one may be where
     * cryo reads its client's pid too.
     */
    public static final int MAX_POSITION = 256, MAX_LEVEL = 31, MAX_GROUPS = FROM / 4;
    private static final Bpf.TaskIterator ITERATOR = Bpf.TaskIterator.overFiles("cryo_errq",
            () -> program(Btf.kernel(), ERRORED, 0, 0));
    private static final Bpf.TaskIterator NOT_ACCEPTED = Bpf.TaskIterator.overFiles("cryo_embq",
            () -> program(Btf.kernel(), NOT_ACCEPTED_MODE, 0, 0));
    /** One program per place in a listener's queue and pid namespace level (each a constant of its program). */
    private static final java.util.Map<Integer, Bpf.TaskIterator> EMBRYOS = new java.util.concurrent.ConcurrentHashMap<>();

    private ErroredQueues() {}

    /**
     * A message as the queue holds it: {@code data} null when it is longer than {@link #MAX_BYTES} or in pages,
     * {@code creds} pid 0 when it has none, {@code from} the sender's bound name (sun_path bytes, empty when unbound).
     */
    public record Queued(int length, byte[] data, Sockets.Ucred creds, boolean passesFiles, byte[] from) {
        /** Why {@code data} is null, for a refusal: "a message of N bytes" and what keeps cryo from its bytes. */
        public String unread() {
            return "a message of " + length + " bytes" + (length > MAX_BYTES ? "; cryo reads at most " + MAX_BYTES
                    + " bytes of each" : ", which the kernel keeps in pages, where cryo's reader (a BPF iterator) reads"
                    + " only a buffer's head");
        }
    }

    /**
     * A connection waiting in a listener's queue: {@code clientClosed} whether its client has closed its end;
     * {@code peer} who connected (SO_PEERCRED the server will read: pid as cryo sees it, euid, egid; pid 0: none),
     * {@code pidInside} that pid in the pid namespace {@code level} asked for (0: not there), {@code groups} its
     * supplementary groups (SO_PEERGROUPS), {@code sent} what it sent, waiting for the accept.
     */
    public record Waiting(boolean clientClosed, Sockets.Ucred peer, int pidInside, int[] groups, List<Queued> sent) {}

    /** The messages queued at {@code sock}, an fd of cryo's holding an error; fails where cryo's BPF iterators cannot run. */
    public static List<Queued> read(Fd sock) {
        List<Queued> out = parse(ITERATOR, sock);
        if (out == null && SockFields.QUEUED_MESSAGES.of(sock) != 0) {
            throw new IllegalStateException("cryo_errq found no socket with an error at fd " + sock.value() + " of cryo");
        }
        return out == null ? List.of() : out;
    }

    /**
     * The bytes {@code client}, an fd of cryo's of a unix stream or seqpacket socket connected to a listener that has
     * not accepted the connection yet, sent on it: the queue of its peer, which no file holds yet (none: nothing
     * sent, or no such connection). Fails when the queue holds more than {@link #MAX_MESSAGES} messages, and where
     * cryo's BPF iterators cannot run.
     */
    public static List<Queued> notAccepted(Fd client) {
        List<Queued> out = parse(NOT_ACCEPTED, client);
        return out == null ? List.of() : out;
    }

    /**
     * The connection at {@code position} (from 0, in accept order) in the queue of {@code listener}, an fd of cryo's
     * of a unix stream or seqpacket listener, its client's pid also read as pid namespace {@code level} numbers it (0:
     * cryo's); null when the queue is shorter. Fails when it holds more than {@link #MAX_MESSAGES} messages, and where
     * cryo's BPF iterators cannot run. Each pid as a pid namespace numbers it: cryo's, and the one {@code level} below.
     */
    public static Waiting waiting(Fd listener, int position, int level) {
        if (position < 0 || position >= MAX_POSITION || level < 0 || level > MAX_LEVEL) {
            throw new IllegalArgumentException("place " + position + " in a listener's queue, pid namespace level " + level);
        }
        Bpf.TaskIterator it = EMBRYOS.computeIfAbsent(position * (MAX_LEVEL + 1) + level, k -> Bpf.TaskIterator.overFiles(
                "cryo_embc", () -> program(Btf.kernel(), EMBRYO, position, level)));
        int[] head = new int[HEADER / 4];
        byte[] gids = new byte[FROM];
        List<Queued> sent = parse(it, listener, head, gids);
        if (head[1] != -1) {
            return null;
        }
        int n = head[3];
        if (n > MAX_GROUPS) {
            throw new IllegalStateException("its client had " + n + " supplementary groups, more than the " + MAX_GROUPS
                    + " cryo reads");
        }
        ByteBuffer g = ByteBuffer.wrap(gids).order(ByteOrder.LITTLE_ENDIAN);
        int[] groups = new int[n];
        for (int i = 0; i < n; i++) {
            groups[i] = g.getInt();
        }
        return new Waiting(head[2] != 0, new Sockets.Ucred(head[4], head[5], head[6]), level == 0 ? head[4] : head[8],
                groups, sent == null ? List.of() : sent);
    }

    /** The messages the iterator read for {@code sock}, null when it wrote none (each record carries its queue's length). */
    private static List<Queued> parse(Bpf.TaskIterator iterator, Fd sock) {
        return parse(iterator, sock, null, null);
    }

    /** As above, the connection's own record (index -1) into {@code head} (its ten ints) and {@code gids}. */
    private static List<Queued> parse(Bpf.TaskIterator iterator, Fd sock, int[] head, byte[] gids) {
        ByteBuffer b = ByteBuffer.wrap(iterator.run((int) ProcessHandle.current().pid())).order(ByteOrder.LITTLE_ENDIAN);
        List<Queued> out = new ArrayList<>();
        boolean found = false;
        int queued = 0;
        while (b.remaining() >= HEADER + FROM) {
            int fd = b.getInt(), index = b.getInt(), len = b.getInt(), paged = b.getInt(), pid = b.getInt(),
                    uid = b.getInt(), gid = b.getInt(), flags = b.getInt(), fromLen = b.getInt(), qlen = b.getInt();
            byte[] name = new byte[FROM];
            b.get(name);
            if (index == -1) { // a listener's connection itself: no bytes follow
                if (fd == sock.value() && head != null) {
                    int[] v = {fd, index, len, paged, pid, uid, gid, flags, fromLen, qlen};
                    System.arraycopy(v, 0, head, 0, v.length);
                    System.arraycopy(name, 0, gids, 0, FROM);
                    queued = qlen;
                }
                continue;
            }
            byte[] data = null;
            if (paged == 0 && len <= MAX_BYTES) {
                byte[] chunks = new byte[(len + CHUNK - 1) / CHUNK * CHUNK];
                b.get(chunks);
                data = Arrays.copyOf(chunks, len);
            }
            if (fd != sock.value()) {
                continue;
            }
            found = true;
            queued = qlen;
            if (index != out.size()) {
                throw new IllegalStateException("cryo_errq: message " + index + " of fd " + fd + " after " + out.size());
            }
            // unix_address.len counts sun_family (2 bytes) and the path (with its NUL): as recvmsg gives it
            byte[] from = fromLen > 2 ? SockAddr.decode(name, Math.min(fromLen, FROM)).address() : new byte[0];
            out.add(new Queued(len, data, new Sockets.Ucred((flags & 2) != 0 ? pid : 0, uid, gid), (flags & 1) != 0, from));
        }
        if ((found || head != null) && queued > out.size()) {
            throw new IllegalStateException(queued + " messages are queued, more than the " + MAX_MESSAGES + " cryo reads");
        }
        return found ? out : null;
    }

    /**
     * For each socket file whose sock has sk_err set ({@code NOT_ACCEPTED_MODE}: each unix socket file whose peer has no
     * socket yet, that peer's queue; {@code EMBRYO}: each unix socket file's connection at {@code position} of its
     * queue, a listener's, first a record of its own, index -1: whether its client closed, the group count, its
     * peer's pid, euid and egid, 0, that pid in pid namespace {@code level}, its queue's length, and up to 32 groups),
     * for each of its first MAX_MESSAGES queued sk_buffs: a record (fd, index, len, data_len, pid, uid, gid, flags: 1
     * files passed, 2 pid; the name's length, the queue's length), the sender's name (128 bytes), and, for a linear
     * one of at most MAX_BYTES, its bytes in 256-byte chunks.
     */
    private static Bpf.Program program(Btf btf, int mode, int position, int level) {
        int cb = btf.offset("sk_buff", "cb");
        int queue = btf.offset("sock", "sk_receive_queue");
        Bpf.Program p = new Bpf.Program().mov(CTX, 1);
        p.movImm(1, 0);
        for (int off = NAME; off < NAME + FROM; off += 8) { // read by seq_write: initialised on every path
            p.store(8, FP, off, 1);
        }
        // cryo's own pid namespace level (the task whose files are walked): pids are read as it numbers them
        p.load(8, 1, CTX, btf.offset("bpf_iter__task_file", "task")).jumpIfZero(1, "out")
                .readKernel(1, 1, btf.offset("task_struct", "thread_pid")).jumpIfZero(1, "out");
        read32(p, 1, btf.offset("pid", "level")).store(8, FP, LVL, 1);
        p.load(8, 1, CTX, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(1, "out")
                .call(Bpf.SOCK_FROM_FILE).jumpIfZero(0, "out")
                .load(8, 1, 0, btf.offset("socket", "sk")).jumpIfZero(1, "out");
        if (mode == NOT_ACCEPTED_MODE) { // a unix socket's peer not grafted on a socket yet: accept() has not taken it
            p.load(2, 2, 1, btf.offset("sock", "__sk_common") + btf.offset("sock_common", "skc_family"))
                    .jumpIfNot(2, SockAddr.AF_UNIX, "out")
                    .readKernel(HEAD, 1, btf.offset("unix_sock", "peer")).jumpIfZero(HEAD, "out")
                    .readKernel(2, HEAD, btf.offset("sock", "sk_socket")).jumpIfNot(2, 0, "out");
        } else if (mode == EMBRYO) {
            embryo(p, btf, position, level);
        } else {
            p.load(4, 2, 1, btf.offset("sock", "sk_err")).jumpIfZero(2, "out").mov(HEAD, 1);
        }
        p.addImm(HEAD, queue + btf.offset("sk_buff_head", "next"))
                .load(4, 2, CTX, btf.offset("bpf_iter__task_file", "fd")).store(4, FP, FD, 2)
                .readKernel(SKB, HEAD, 0)
                .movImm(INDEX, 0)
                .label("message")
                .jumpIfSame(SKB, HEAD, "out").jumpIfZero(SKB, "out").jumpIfAbove(INDEX, MAX_MESSAGES - 1, "out")
                .load(4, 1, FP, FD).store(4, FP, REC, 1).store(4, FP, REC + 4, INDEX);
        read32(p, SKB, btf.offset("sk_buff", "len")).store(4, FP, REC + 8, 1).store(8, FP, LEN, 1);
        read32(p, SKB, btf.offset("sk_buff", "data_len")).store(4, FP, REC + 12, 1);
        p.readKernel(1, SKB, btf.offset("sk_buff", "data")).store(8, FP, DATA, 1)
                .movImm(1, 0).store(4, FP, REC + 16, 1).store(4, FP, REC + 28, 1).store(4, FP, REC + 32, 1);
        read32(p, HEAD, btf.offset("sk_buff_head", "qlen") - btf.offset("sk_buff_head", "next")).store(4, FP, REC + 36, 1)
                .readKernel(1, SKB, cb + btf.offset("unix_skb_parms", "pid")).jumpIfZero(1, "nopid")
                .store(8, FP, AT, 1).movImm(1, 2).store(4, FP, REC + 28, 1);
        pidNumber(p, btf, 0, REC + 16, "sender");
        p.label("nopid");
        read32(p, SKB, cb + btf.offset("unix_skb_parms", "uid")).store(4, FP, REC + 20, 1);
        read32(p, SKB, cb + btf.offset("unix_skb_parms", "gid")).store(4, FP, REC + 24, 1);
        p.readKernel(1, SKB, cb + btf.offset("unix_skb_parms", "fp")).jumpIfZero(1, "nofiles")
                .load(4, 1, FP, REC + 28).orImm(1, 1).store(4, FP, REC + 28, 1)
                .label("nofiles")
                .readKernel(1, SKB, btf.offset("sk_buff", "sk")).jumpIfZero(1, "noname")
                .readKernel(1, 1, btf.offset("unix_sock", "addr")).jumpIfZero(1, "noname")
                .store(8, FP, AT, 1);
        read32(p, 1, btf.offset("unix_address", "len")).store(4, FP, REC + 32, 1)
                .load(8, 3, FP, AT).addImm(3, btf.offset("unix_address", "name"))
                .mov(1, FP).addImm(1, NAME).movImm(2, 112).call(Bpf.PROBE_READ_KERNEL)
                .label("noname");
        write(p, btf, REC, HEADER);
        write(p, btf, NAME, FROM);
        // its bytes: only a linear buffer (no pages), whole, MAX_BYTES at most
        p.load(4, 1, FP, REC + 12).jumpIfNot(1, 0, "next")
                .load(8, 1, FP, LEN).jumpIfAbove(1, MAX_BYTES, "next")
                .movImm(1, 0).store(8, FP, AT, 1)
                .label("chunk")
                .load(8, 1, FP, AT).jumpIfAbove(1, MAX_BYTES - CHUNK, "next")
                .load(8, 2, FP, LEN).jumpIfAtLeast(1, 2, "next")
                .load(8, 3, FP, DATA).add(3, 1)
                .mov(1, FP).addImm(1, BYTES).movImm(2, CHUNK).call(Bpf.PROBE_READ_KERNEL);
        write(p, btf, BYTES, CHUNK);
        return p.load(8, 1, FP, AT).addImm(1, CHUNK).store(8, FP, AT, 1).jump("chunk")
                .label("next")
                .readKernel(SKB, SKB, btf.offset("sk_buff", "next"))
                .addImm(INDEX, 1).jump("message")
                .label("out").movImm(0, 0).exit();
    }

    /**
     * From r1, a listener's sock: the connection (embryo) at {@code position} of its queue (each sk_buff's sk), its
     * own record written (see above), HEAD left at its queue; to "out" when the queue is shorter.
     */
    private static void embryo(Bpf.Program p, Btf btf, int position, int level) {
        int queue = btf.offset("sock", "sk_receive_queue") + btf.offset("sk_buff_head", "next");
        p.load(2, 2, 1, btf.offset("sock", "__sk_common") + btf.offset("sock_common", "skc_family"))
                .jumpIfNot(2, SockAddr.AF_UNIX, "out")
                .mov(HEAD, 1).addImm(HEAD, queue)
                .readKernel(SKB, HEAD, 0)
                .movImm(INDEX, position)
                .label("walk")
                .jumpIfSame(SKB, HEAD, "out").jumpIfZero(SKB, "out").jumpIfZero(INDEX, "found")
                .readKernel(SKB, SKB, btf.offset("sk_buff", "next")).addImm(INDEX, -1).jump("walk")
                .label("found")
                .readKernel(1, SKB, btf.offset("sk_buff", "sk")).jumpIfZero(1, "out").store(8, FP, EMB, 1)
                .load(4, 2, CTX, btf.offset("bpf_iter__task_file", "fd")).store(4, FP, REC, 2)
                .movImm(1, -1).store(4, FP, REC + 4, 1).movImm(1, 0);
        for (int off = REC + 8; off < REC + HEADER; off += 4) {
            p.store(4, FP, off, 1);
        }
        // closed: its client's sock, still its peer, is orphaned (no socket) once the client closed
        p.load(8, 2, FP, EMB).readKernel(1, 2, btf.offset("unix_sock", "peer")).jumpIfZero(1, "open")
                .readKernel(1, 1, btf.offset("sock", "sk_socket")).jumpIfNot(1, 0, "open")
                .movImm(1, 1).store(4, FP, REC + 8, 1)
                .label("open")
                .load(8, 2, FP, EMB).readKernel(1, 2, btf.offset("sock", "sk_peer_pid")).jumpIfZero(1, "nopeerpid")
                .store(8, FP, AT, 1);
        pidNumber(p, btf, 0, REC + 16, "peer");
        if (level > 0) {
            pidNumber(p, btf, level, REC + 32, "inside");
        }
        p.label("nopeerpid")
                .load(8, 2, FP, EMB).readKernel(1, 2, btf.offset("sock", "sk_peer_cred")).jumpIfZero(1, "nocred")
                .store(8, FP, AT, 1);
        read32(p, 1, btf.offset("cred", "euid")).store(4, FP, REC + 20, 1).load(8, 2, FP, AT);
        read32(p, 2, btf.offset("cred", "egid")).store(4, FP, REC + 24, 1)
                .load(8, 2, FP, AT).readKernel(1, 2, btf.offset("cred", "group_info")).jumpIfZero(1, "nocred")
                .store(8, FP, AT, 1);
        read32(p, 1, btf.offset("group_info", "ngroups")).store(4, FP, REC + 12, 1)
                .load(8, 3, FP, AT).addImm(3, btf.offset("group_info", "gid"))
                .mov(1, FP).addImm(1, NAME).movImm(2, FROM).call(Bpf.PROBE_READ_KERNEL)
                .label("nocred")
                .load(8, 2, FP, EMB);
        read32(p, 2, btf.offset("sock", "sk_receive_queue") + btf.offset("sk_buff_head", "qlen"))
                .store(4, FP, REC + 36, 1);
        write(p, btf, REC, HEADER);
        write(p, btf, NAME, FROM);
        p.load(8, HEAD, FP, EMB); // its queue: from its sock, as the other modes
    }

    /**
     * The number the struct pid at fp + AT has in the pid namespace {@code below} levels under cryo's, written at fp +
     * {@code to} (left as it was when it has none there: a process of a namespace above or aside).
     */
    private static void pidNumber(Bpf.Program p, Btf btf, int below, int to, String name) {
        p.load(8, 2, FP, AT);
        read32(p, 2, btf.offset("pid", "level"))
                .load(8, 2, FP, LVL).addImm(2, below).jumpIfAtLeast(1, 2, name + "There").jump(name + "Done")
                .label(name + "There")
                .shiftLeft(2, 4) // struct upid: int nr, then a pointer: 16 bytes
                .load(8, 4, FP, AT).add(4, 2);
        read32(p, 4, btf.offset("pid", "numbers") + btf.offset("upid", "nr")).store(4, FP, to, 1)
                .label(name + "Done");
    }

    /** r1 = the u32 at kernel address base + off (through fp - 8). */
    private static Bpf.Program read32(Bpf.Program p, int base, int off) {
        return p.readKernel(1, base, off).load(4, 1, FP, -8);
    }

    /** bpf_seq_write of {@code len} bytes of the stack at fp + {@code at}. */
    private static void write(Bpf.Program p, Btf btf, int at, int len) {
        p.seqWrite(btf, CTX, FP, at, len);
    }
}
