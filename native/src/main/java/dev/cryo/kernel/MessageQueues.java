package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;

/**
 * POSIX message queues (mq_overview(7)) of this process's ipc namespace, by their syscalls: the
 * names are "/NAME", passed to the kernel without their slash. An fd of a queue is close-on-exec
 * whatever the flags (the kernel's choice); an O_CLOEXEC given would stay in the file's flags.
 */
public final class MessageQueues {
    private MessageQueues() {}

    /** The queue's limits and its count of messages now. */
    public record Attr(long maxMsg, long msgSize, long curMsgs) {}

    /** A message: its priority and bytes. */
    public record Message(int priority, byte[] data) {}

    private static Memory name(String name) {
        String bare = name.startsWith("/") ? name.substring(1) : name;
        Memory p = new Memory(bare.getBytes(StandardCharsets.UTF_8).length + 1L);
        p.setString(0, bare, "UTF-8");
        return p;
    }

    /** mq_open of an existing queue. */
    public static Fd open(String name, int flags) {
        Memory n = name(name);
        try {
            return new Fd((int) Sys.call(() -> "mq_open(" + name + ")", SyscallNr.MQ_OPEN, Sys.address(n), flags, 0, 0));
        } finally {
            Reference.reachabilityFence(n); // the kernel reads it: not freed before
        }
    }

    /** mq_open(O_CREAT | O_EXCL) of a new queue with these limits; its mode is then set apart (no umask). */
    public static Fd create(String name, int flags, int mode, long maxMsg, long msgSize) {
        Memory attr = new Memory(64);
        attr.clear();
        attr.setLong(8, maxMsg);
        attr.setLong(16, msgSize);
        Memory n = name(name);
        try {
            return new Fd((int) Sys.call(() -> "mq_open(" + name + ", O_CREAT | O_EXCL)", SyscallNr.MQ_OPEN,
                    Sys.address(n), flags | Fcntl.O_CREAT | Fcntl.O_EXCL, mode, Sys.address(attr)));
        } finally {
            Reference.reachabilityFence(n);
            Reference.reachabilityFence(attr);
        }
    }

    public static void unlink(String name) {
        Memory n = name(name);
        try {
            Sys.call(() -> "mq_unlink(" + name + ")", SyscallNr.MQ_UNLINK, Sys.address(n), 0, 0, 0);
        } finally {
            Reference.reachabilityFence(n);
        }
    }

    public static Attr attr(Fd q) {
        Memory attr = new Memory(64);
        Sys.call(() -> "mq_getsetattr", SyscallNr.MQ_GETSETATTR, q.value(), 0, Sys.address(attr), 0);
        return new Attr(attr.getLong(8), attr.getLong(16), attr.getLong(24));
    }

    /** Takes the queue's first message (highest priority, oldest), or null when it is empty; {@code q} must not block. */
    public static Message receive(Fd q, long msgSize) {
        Memory buf = new Memory(Math.max(1, msgSize));
        Memory prio = new Memory(4);
        try {
            long n = Sys.call(() -> "mq_timedreceive", SyscallNr.MQ_TIMEDRECEIVE, q.value(), Sys.address(buf), msgSize,
                    Sys.address(prio), 0, 0);
            return new Message(prio.getInt(0), buf.getByteArray(0, (int) n));
        } catch (SyscallException e) {
            if (e.errno() == Errno.EAGAIN) {
                return null;
            }
            throw e;
        }
    }

    /** Puts a message in; {@code q} must not block (a full queue fails with EAGAIN). */
    public static void send(Fd q, Message m) {
        Memory buf = new Memory(Math.max(1, m.data().length));
        buf.write(0, m.data(), 0, m.data().length);
        try {
            Sys.call(() -> "mq_timedsend", SyscallNr.MQ_TIMEDSEND, q.value(), Sys.address(buf), m.data().length,
                    Integer.toUnsignedLong(m.priority()), 0, 0);
        } finally {
            Reference.reachabilityFence(buf);
        }
    }
}
