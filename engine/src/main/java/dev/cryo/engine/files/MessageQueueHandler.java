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
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * <p>Refused by name: a queue removed while open (it ends with its last fd, which the killing dump
 * closes), a queue of another ipc namespace (the tree's own is refused with its namespace), and a
 * queue whose notification (mq_notify) the holder registered: the kernel shows its signal but not the
 * value the program gave it, and the registration goes when the holder closes its fd.
 */
public final class MessageQueueHandler implements FdHandler<MessageQueueHandler.MessageQueue> {
    public static final int TAG = 900, RECORD_ID = 2330;

    /** The queue's name ("/NAME") and its inode in the mqueue file system when dumped. */
    public record MessageQueue(String name, long ino) implements FileDesc {}

    static final RecordCodec<MessageQueue> CODEC = RecordCodec.of(MessageQueue.class, RECORD_ID, 1, (out, q) -> {
        ModelFields.writeText(out, q.name(), ModelLimits.PATH, "MessageQueue.name");
        out.writeLong(q.ino());
    }, (in, version) -> new MessageQueue(ModelFields.readText(in, ModelLimits.PATH, "MessageQueue.name"), in.readLong()));

    /** What reading a queue's file gives: "QSIZE:5 NOTIFY:0 SIGNO:0 NOTIFY_PID:0". */
    private static final Pattern NOTIFY_PID = Pattern.compile("NOTIFY_PID:(\\d+)");

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
        if (fd.target().endsWith(" (deleted)")) {
            throw new DumpException(what + " was removed (mq_unlink) while open: it ends with its last fd,"
                    + " and its messages with it; not supported");
        }
        String its = Namespaces.link(Integer.toString(fd.pid().value()), "ipc");
        if (its == null || !its.equals(Namespaces.link("self", "ipc"))) {
            throw new DumpException(what + " belongs to an ipc namespace other than cryo's (" + its + "); not supported");
        }
        // the queue's file reads as its status line; a fresh open of it through /proc reads from the start
        String status;
        try (Fd own = Sys.open(fd.procPath().toString(), Fcntl.O_RDONLY | Fcntl.O_NONBLOCK)) {
            status = new String(Files.readAllBytes(Path.of("/proc/self/fd/" + own.value())), StandardCharsets.US_ASCII);
        }
        Matcher m = NOTIFY_PID.matcher(status);
        if (m.find() && Integer.parseInt(m.group(1)) == fd.pid().value()) {
            throw new DumpException(what + ": the process registered for its notification (mq_notify), whose value"
                    + " the kernel does not show, and the registration would go with the killed fd; not supported");
        }
        return new MessageQueue(fd.target(), inode(fd.procPath()));
    }

    private static long inode(Path p) throws IOException {
        return ((Number) Files.getAttribute(p, "unix:ino")).longValue();
    }

    /**
     * The queue is there and is the one dumped; a restore checks it before anything is made. Returns
     * cryo's own open file of it with {@code flags}.
     */
    public static Fd reopen(String what, MessageQueue q, int flags) {
        Fd own;
        try {
            own = Sys.mqOpen(q.name(), flags);
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

    @Override
    public long restore(FdImage fd, MessageQueue q, RestoreContext ctx) {
        int flags = fd.flags() & (Fcntl.O_ACCMODE | Fcntl.O_NONBLOCK);
        try (Fd own = reopen("pid " + ctx.taskPid() + " fd " + fd.fd(), q, flags)) {
            return ctx.take((int) ProcessHandle.current().pid(), own.value());
        }
    }

    @Override
    public void show(MessageQueue q, Map<String, Object> m) {
        m.put("kind", "mqueue");
        m.put("name", q.name());
        m.put("ino", q.ino());
    }
}
