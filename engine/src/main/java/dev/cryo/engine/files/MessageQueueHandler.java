package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.MessageQueues;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A POSIX message queue (mq_open) of cryo's ipc namespace, the host's. Such a queue is the kernel's,
 * not the tree's: it lives, with its messages, attributes and owner, until someone removes it
 * (mq_unlink), as SysV queues do. So the dump takes its name and identity only, and the restore opens
 * that very queue again (refused when it is gone or is another queue now: on another host there is
 * none); the messages the tree left in it are there, untouched (CRIU refuses these fds).
 *
 * <p>A queue removed (mq_unlink) while open ends with its last fd, which the killing dump closes: it
 * is carried whole — mode, owner, limits and messages — when one open file of the tree's is all that
 * holds it, and made again under its old name for an instant at restore (its fd shows that name).
 *
 * <p>A notification (mq_notify) the holder registered goes when the holder closes its fd (the kill):
 * it is carried — SIGEV_NONE as it is, SIGEV_SIGNAL with its signal and the value the program gave,
 * SIGEV_THREAD with glibc's netlink socket and cookie, which the kernel shows only in what it sends
 * ({@link MessageQueueNotification}) — and the restored task registers it again once its fds are in
 * place ({@code MessageQueueNotifications}).
 *
 * <p>Refused by name: a queue of another ipc namespace (the tree's own is refused with its namespace),
 * a notification registered while the queue holds messages (it cannot be fired to be read), and a
 * removed queue held through another open file, or with a notification registered by anyone.
 */
public final class MessageQueueHandler implements FdHandler<MessageQueueHandler.MessageQueue> {
    public static final int TAG = 900, RECORD_ID = 2330;

    /**
     * The queue's name ("/NAME", as its fd link shows it) and its inode in the mqueue file system when
     * dumped; for a removed queue ({@code removed} not null) all the restore makes it again from.
     */
    public record MessageQueue(String name, long ino, Removed removed, Notification notification, boolean treeNamespace)
            implements FileDesc {
        public MessageQueue(String name, long ino, Removed removed) {
            this(name, ino, removed, null, false);
        }

        public MessageQueue(String name, long ino, Removed removed, Notification notification) {
            this(name, ino, removed, notification, false);
        }

        public MessageQueue withNotification(Notification n) {
            return new MessageQueue(name, ino, removed, n, treeNamespace);
        }
    }

    /**
     * The holder's registration for the queue's notification: {@code how} is sigev_notify (SIGEV_NONE,
     * SIGEV_SIGNAL or SIGEV_THREAD), with the signal and the program's value (null until read:
     * {@link MessageQueueNotification}); by a thread, the kernel's own form, which glibc's mq_notify makes: in
     * {@code signal} the fd of the netlink socket the kernel sends {@code cookie} (its 32 bytes) to.
     */
    public record Notification(int how, int signal, Long value, byte[] cookie) {
        public static final int SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD = 2, COOKIE = 32;

        public Notification(int how, int signal, Long value) {
            this(how, signal, value, null);
        }

        /** struct sigevent as mq_notify takes it: value, signal, sigev_notify, then zeros. */
        public byte[] sigevent() {
            return java.nio.ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .putLong(0, value == null ? 0 : value).putInt(8, signal).putInt(12, how).array();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Notification n && how == n.how && signal == n.signal
                    && java.util.Objects.equals(value, n.value) && java.util.Arrays.equals(cookie, n.cookie);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(how, signal, value) * 31 + java.util.Arrays.hashCode(cookie);
        }
    }

    /** A queue removed while open: its mode, owner, limits and messages, first out first. */
    public record Removed(int mode, int uid, int gid, long maxMsg, long msgSize, List<Integer> priorities,
                          List<byte[]> messages) {}

    /** The kernel's bound on a queue's length (HARD_MSGMAX). */
    static final int MAX_MESSAGES = 65536;

    /** Messages a removed queue may carry, together: more is refused (a queue holds 16 MiB at most by default limits). */
    static final int MESSAGE_BYTES = 16 << 20;

    static final RecordCodec<MessageQueue> CODEC = RecordCodec.of(MessageQueue.class, RECORD_ID, 5, (out, q) -> {
        ModelFields.writeText(out, q.name(), ModelLimits.PATH, "MessageQueue.name");
        out.writeLong(q.ino());
        out.writeBoolean(q.treeNamespace());
        Notification n = q.notification();
        out.writeBoolean(n != null);
        if (n != null) {
            if (n.how() != Notification.SIGEV_NONE && n.value() == null) {
                throw new IllegalStateException("MessageQueue " + q.name() + ": the notification's value was not read");
            }
            out.writeVarInt(n.how(), true);
            out.writeVarInt(n.signal(), true);
            out.writeLong(n.value() == null ? 0 : n.value());
            out.writeBoolean(n.cookie() != null);
            if (n.cookie() != null) {
                ModelFields.writeBytes(out, n.cookie(), Notification.COOKIE, "MessageQueue.cookie");
            }
        }
        Removed r = q.removed();
        out.writeBoolean(r != null);
        if (r != null) {
            writeContents(out, r);
        }
    }, (in, version) -> {
        String name = ModelFields.readText(in, ModelLimits.PATH, "MessageQueue.name");
        long ino = in.readLong();
        boolean tree = version >= 5 && in.readBoolean();
        Notification n = null;
        if (version >= 3 && in.readBoolean()) {
            n = new Notification(in.readVarInt(true), in.readVarInt(true), in.readLong(),
                    version >= 4 && in.readBoolean() ? ModelFields.readBytes(in, Notification.COOKIE, "MessageQueue.cookie")
                            : null);
            boolean thread = n.how() == Notification.SIGEV_THREAD;
            if ((n.how() != Notification.SIGEV_SIGNAL && n.how() != Notification.SIGEV_NONE && !thread)
                    || n.signal() < 0 || (!thread && n.signal() > 64) || thread != (n.cookie() != null)
                    || (thread && n.cookie().length != Notification.COOKIE)) {
                throw new com.esotericsoftware.kryo.KryoException("MessageQueue: notification " + n.how() + " by signal "
                        + n.signal());
            }
        }
        if (version < 2 || !in.readBoolean()) {
            return new MessageQueue(name, ino, null, n, tree);
        }
        return new MessageQueue(name, ino, readContents(in), n, tree);
    });

    /** A queue's mode, owner, limits and messages (a removed one's, one of the tree's ipc namespace). */
    public static void writeContents(com.esotericsoftware.kryo.io.Output out, Removed r) {
        out.writeInt(r.mode());
        out.writeInt(r.uid());
        out.writeInt(r.gid());
        out.writeLong(r.maxMsg());
        out.writeLong(r.msgSize());
        ModelFields.writeInts(out, r.priorities(), MAX_MESSAGES, "MessageQueue.priorities");
        ModelFields.writeByteArrays(out, r.messages(), MAX_MESSAGES, MESSAGE_BYTES, "MessageQueue.messages");
    }

    public static Removed readContents(com.esotericsoftware.kryo.io.Input in) {
        Removed r = new Removed(in.readInt(), in.readInt(), in.readInt(), in.readLong(), in.readLong(),
                ModelFields.readInts(in, MAX_MESSAGES, "MessageQueue.priorities"),
                ModelFields.readByteArrays(in, MAX_MESSAGES, MESSAGE_BYTES, "MessageQueue.messages"));
        if (r.priorities().size() != r.messages().size()) {
            throw new com.esotericsoftware.kryo.KryoException("MessageQueue: " + r.priorities().size()
                    + " priorities for " + r.messages().size() + " messages");
        }
        return r;
    }

    /** What reading a queue's file gives: "QSIZE:5 NOTIFY:0 SIGNO:0 NOTIFY_PID:0". */
    private static final Pattern NOTIFY_PID = Pattern.compile("NOTIFY_PID:(\\d+)"),
            NOTIFY = Pattern.compile("NOTIFY:(\\d+)\\s+SIGNO:(\\d+)");

    @Override
    public String kind() {
        return "POSIX message queue";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<MessageQueue> codec() {
        return CODEC;
    }

    /** An mq_open fd: "/NAME" (" (deleted)" once unlinked) on the mqueue file system. */
    @Override
    public boolean handles(FdProbe fd) {
        String t = fd.target();
        return t.startsWith("/") && t.indexOf('/', 1) < 0 && Sys.fsMagic(fd.procPath().toString()) == Sys.MQUEUE_MAGIC;
    }

    @Override
    public MessageQueue dump(FdProbe fd, DumpContext ctx) throws IOException {
        String what = fd.where() + ": POSIX message queue " + fd.target();
        String its = Namespaces.link(Integer.toString(fd.pid().value()), "ipc");
        boolean removed = fd.target().endsWith(DELETED);
        if (its == null) {
            throw new DumpException(what + ": its ipc namespace cannot be read");
        }
        boolean tree = !its.equals(Namespaces.link("self", "ipc")); // the tree's own: its image carries the queues
        if (tree && removed) {
            throw new DumpException(what + " was removed (mq_unlink) while open, in an ipc namespace of the tree's ("
                    + its + "); not supported");
        }
        // cryo's own open file of the queue: it reads as the queue's status line, from the start
        try (Fd own = Sys.open(fd.procPath().toString(), (removed ? Fcntl.O_RDWR : Fcntl.O_RDONLY) | Fcntl.O_NONBLOCK)) {
            String status = new String(Files.readAllBytes(Path.of("/proc/self/fd/" + own.value())), StandardCharsets.US_ASCII);
            Matcher m = NOTIFY_PID.matcher(status);
            int notified = m.find() ? Integer.parseInt(m.group(1)) : 0;
            long ino = inode(Path.of("/proc/self/fd/" + own.value()));
            if (!removed) {
                return new MessageQueue(fd.target(), ino, null,
                        notified == fd.pid().value() ? notification(what, status, own) : null, tree);
            }
            if (notified != 0) {
                throw new DumpException(what + " was removed (mq_unlink) while open, and pid " + notified + " registered"
                        + " for its notification, which taking its messages to carry them would fire; not supported");
            }
            if (nameTaken(fd.target())) {
                // the restore makes the removed one again under its name for an instant (its fd shows the
                // name), and would fail after the kill (DMTCP's posix-mq1)
                throw new DumpException(what + " was removed (mq_unlink) while open, and another queue has taken its"
                        + " name since (a restore would make the removed one again under that name); not supported");
            }
            String other = otherOpen(fd, ino);
            if (other != null) {
                throw new DumpException(what + " was removed (mq_unlink) while open, and " + other + " holds it through"
                        + " another open of it (only one open file of a removed queue is carried); not supported");
            }
            return new MessageQueue(fd.target(), ino, removedQueue(what, own, fd.procPath()));
        } catch (KernelException e) {
            throw new DumpException(what + ": " + e.getMessage());
        }
    }

    private static final String DELETED = " (deleted)";

    /** The holder's own registration, from the queue's status line; its value is read later, by firing it. */
    private static Notification notification(String what, String status, Fd own) {
        Matcher m = NOTIFY.matcher(status);
        if (!m.find()) {
            throw new DumpException(what + ": cannot read its notification from its status line '" + status.strip() + "'");
        }
        int how = Integer.parseInt(m.group(1)), signal = Integer.parseInt(m.group(2));
        if (how == Notification.SIGEV_NONE) {
            return new Notification(how, 0, 0L);
        }
        if (how != Notification.SIGEV_SIGNAL && how != Notification.SIGEV_THREAD) {
            throw new DumpException(what + ": the process registered for its notification (mq_notify) in a way cryo"
                    + " does not know (sigev_notify " + how + "); not supported");
        }
        String by = how == Notification.SIGEV_THREAD ? "by a thread (SIGEV_THREAD)" : "by signal " + signal;
        long held = MessageQueues.attr(own).curMsgs();
        if (held != 0) {
            throw new DumpException(what + ": the process registered for its notification (mq_notify) " + by
                    + " while the queue holds " + held + " messages: the value it gave shows only in what a message"
                    + " to the empty queue sends, and the registration would go with the killed fd; not supported");
        }
        return new Notification(how, signal, null);
    }

    /** The name of removed queue {@code target} ("/NAME (deleted)"): "/NAME". */
    private static String bareName(String target) {
        return target.substring(0, target.length() - DELETED.length());
    }

    /** Whether a queue has the name removed queue {@code target} had. */
    private static boolean nameTaken(String target) {
        try (Fd taken = MessageQueues.open(bareName(target), Fcntl.O_RDONLY | Fcntl.O_NONBLOCK)) {
            return true;
        } catch (KernelException free) {
            return false; // ENOENT
        }
    }

    private static long inode(Path p) throws IOException {
        return ((Number) Files.getAttribute(p, "unix:ino")).longValue();
    }

    /**
     * A removed queue ends with its last fd, which the killing dump closes (a queue of the tree's ipc namespace
     * with the namespace): its messages are taken
     * and put back at once in the order they came out (the highest priority first, the oldest first
     * within one), which is the order the queue keeps; nothing else holds it (checked before) and the
     * tree is frozen, so no one sees them gone for that instant.
     */
    public static Removed removedQueue(String what, Fd own, Path link) throws IOException {
        MessageQueues.Attr attr = MessageQueues.attr(own);
        if (attr.curMsgs() * attr.msgSize() > MESSAGE_BYTES) {
            throw new DumpException(what + ": it holds " + attr.curMsgs()
                    + " messages of up to " + attr.msgSize() + " bytes: more than cryo carries (" + MESSAGE_BYTES + " bytes)");
        }
        List<MessageQueues.Message> taken = new ArrayList<>();
        try {
            for (MessageQueues.Message m; (m = MessageQueues.receive(own, attr.msgSize())) != null; ) {
                taken.add(m);
            }
        } finally {
            for (MessageQueues.Message m : taken) {
                MessageQueues.send(own, m);
            }
        }
        int mode = (Integer) Files.getAttribute(link, "unix:mode") & 07777;
        int uid = (Integer) Files.getAttribute(link, "unix:uid");
        int gid = (Integer) Files.getAttribute(link, "unix:gid");
        return new Removed(mode, uid, gid, attr.maxMsg(), attr.msgSize(),
                taken.stream().map(MessageQueues.Message::priority).toList(),
                taken.stream().map(MessageQueues.Message::data).toList());
    }

    /** "pid N (comm) fd F" of another open file of the queue than {@code fd}'s, in any process but cryo; null when none. */
    private static String otherOpen(FdProbe fd, long ino) {
        try {
            OutsideHolder.Holder h = OutsideHolder.first(fd.target(), pid -> false,
                    (pid, n, link) -> inode(link) == ino && !Sys.sameOpenFile(pid, n, fd.pid(), fd.fd()));
            return h == null ? null : "pid " + h.pid() + " (" + h.comm() + ") fd " + h.fd();
        } catch (java.io.UncheckedIOException e) {
            throw new DumpException(fd.where() + ": cannot list the processes of this host: " + e.getCause().getMessage());
        }
    }

    /**
     * The queue is there and is the one dumped; a restore checks it before anything is made. Returns
     * cryo's own open file of it with {@code flags}.
     */
    public static Fd reopen(String what, MessageQueue q, int flags) {
        Fd own;
        try {
            own = MessageQueues.open(q.name(), flags);
        } catch (KernelException e) {
            throw new RestoreException(what + ": POSIX message queue " + q.name() + " cannot be opened (" + e.getMessage()
                    + "); a queue lives in the ipc namespace it was dumped in, on that host");
        }
        try {
            long now = inode(Path.of("/proc/self/fd/" + own.value()));
            if (now != q.ino()) {
                throw new RestoreException(what + ": POSIX message queue " + q.name() + " is another queue now (inode "
                        + now + ", dumped " + q.ino() + "): it was removed and made again since the dump");
            }
            return own;
        } catch (IOException e) {
            own.close();
            throw new RestoreException(what + ": POSIX message queue " + q.name() + ": " + e.getMessage());
        } catch (RestoreException e) {
            own.close();
            throw e;
        }
    }

    /** What a restore checks before it makes anything: the queue is there, or a removed one's name is free. */
    public static void check(String what, MessageQueue q) {
        if (q.treeNamespace()) {
            return; // made again with its namespace
        }
        if (q.removed() == null) {
            try (Fd own = reopen(what, q, Fcntl.O_RDONLY | Fcntl.O_NONBLOCK)) {
                String status = new String(Files.readAllBytes(Path.of("/proc/self/fd/" + own.value())), StandardCharsets.US_ASCII);
                Matcher m = NOTIFY_PID.matcher(status);
                if (q.notification() != null && m.find() && !m.group(1).equals("0")) {
                    throw new RestoreException(what + ": POSIX message queue " + q.name() + ": pid " + m.group(1)
                            + " has registered for its notification since the dump, which the restored task registered for");
                }
            } catch (IOException e) {
                throw new RestoreException(what + ": POSIX message queue " + q.name() + ": " + e.getMessage());
            }
        } else if (nameTaken(q.name())) {
            throw new RestoreException(what + ": POSIX message queue " + bareName(q.name()) + " was removed while open,"
                    + " and another queue has taken its name since; the restore makes the removed one again under that"
                    + " name for an instant (its fd shows the name): remove the new one (mq_unlink) to restore");
        }
    }

    /**
     * A removed queue made again: under its old name (the kernel keeps the name of a removed queue's
     * file, and its fd shows it), with its mode, owner, limits and messages, then removed at once.
     * Returns the task's open file of it, opened by name with {@code flags} as mq_open did (an open
     * through /proc would add O_LARGEFILE to its flags).
     */
    private static Fd remake(String what, MessageQueue q, int flags) {
        Removed r = q.removed();
        String name = bareName(q.name());
        Fd own = null;
        Fd its = null;
        try {
            own = MessageQueues.create(name, Fcntl.O_RDWR | Fcntl.O_NONBLOCK, 0600, r.maxMsg(), r.msgSize());
            try {
                its = MessageQueues.open(name, flags);
            } finally {
                MessageQueues.unlink(name);
            }
            fill(own, name, r);
            Fd made = its;
            its = null;
            return made;
        } catch (KernelException e) {
            throw new RestoreException(what + ": making removed POSIX message queue " + name + " again: " + e.getMessage());
        } finally {
            if (its != null) {
                its.close();
            }
            if (own != null) {
                own.close();
            }
        }
    }

    /** Gives a queue just made its owner, mode and messages, in their order. */
    public static void fill(Fd own, String name, Removed r) {
        int fd = own.value();
        Sys.call(() -> "fchown(" + name + ")", SyscallNr.FCHOWN, fd, r.uid(), r.gid(), 0);
        Sys.call(() -> "fchmod(" + name + ")", SyscallNr.FCHMOD, fd, r.mode(), 0, 0);
        for (int i = 0; i < r.messages().size(); i++) {
            MessageQueues.send(own, new MessageQueues.Message(r.priorities().get(i), r.messages().get(i)));
        }
    }

    @Override
    public long restore(FdImage fd, MessageQueue q, RestoreContext ctx) {
        int flags = fd.flags() & (Fcntl.O_ACCMODE | Fcntl.O_NONBLOCK);
        String what = "pid " + ctx.taskPid() + " fd " + fd.fd();
        if (q.treeNamespace()) { // made again with the task's ipc namespace: the task opens it by name there
            byte[] bare = (q.name().substring(1) + "\0").getBytes(StandardCharsets.UTF_8);
            return ctx.call("mq_open(" + q.name() + ")", SyscallNr.MQ_OPEN, ctx.put(bare), flags, 0, 0);
        }
        try (Fd own = q.removed() == null ? reopen(what, q, flags) : remake(what, q, flags)) {
            return ctx.take((int) ProcessHandle.current().pid(), own.value());
        }
    }

    @Override
    public void show(MessageQueue q, Map<String, Object> m) {
        m.put("kind", "mqueue");
        m.put("name", q.name());
        m.put("ino", q.ino());
        if (q.treeNamespace()) {
            m.put("namespace", "the tree's ipc namespace");
        }
        Notification n = q.notification();
        if (n != null) {
            m.put("notification", switch (n.how()) {
                case Notification.SIGEV_NONE -> "none (SIGEV_NONE)";
                case Notification.SIGEV_THREAD -> "a thread (SIGEV_THREAD) through the netlink socket of fd " + n.signal();
                default -> "signal " + n.signal() + " with value 0x" + Long.toHexString(n.value() == null ? 0 : n.value());
            });
        }
        Removed r = q.removed();
        if (r != null) {
            m.put("mode", "0" + Integer.toOctalString(r.mode()));
            m.put("uid", r.uid());
            m.put("gid", r.gid());
            m.put("maxMessages", r.maxMsg());
            m.put("messageSize", r.msgSize());
            m.put("messages", r.messages().size());
            m.put("messageBytes", r.messages().stream().mapToInt(b -> b.length).sum());
        }
    }
}
