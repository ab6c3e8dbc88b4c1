package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A shell that outlives cryo (in a session of its own, reparented to init) to undo what cryo's death would leave
 * half done: it reads its fd 3, a pipe whose only writer is cryo (O_CLOEXEC: no child of cryo's keeps it). The
 * planned end ({@link #close}) writes "done", on which the script is to exit; cryo's death is an end of file,
 * on which it goes on to its undo.
 */
public final class DeathWatch implements AutoCloseable {
    private final Fd pipe;
    /** cryo's end of the socket whose other end the script holds (null: none); see {@link #hold}. */
    private final Fd later;
    private boolean closed;

    private DeathWatch(Fd pipe, Fd later) {
        this.pipe = pipe;
        this.later = later;
    }

    /** Starts {@code script} named {@code name} (as ps shows it) with {@code args} as its $1, $2, ... */
    public static DeathWatch start(String name, String script, List<String> args) {
        return start(name, script, args, List.of());
    }

    /**
     * As above, the script also holding {@code held} as its fds 4, 5, ... until it ends: files whose last close
     * would undo something (a lazy restore's uffds: their faults would be zero-filled).
     */
    public static DeathWatch start(String name, String script, List<String> args, List<Fd> held) {
        return start(name, script, args, held, false);
    }

    /**
     * As above; {@code holdsLater}: the script can also be handed files while it runs ({@link #hold}), its
     * last fd being a unix socket that it never reads.
     */
    public static DeathWatch start(String name, String script, List<String> args, List<Fd> held, boolean holdsLater) {
        Fd read = null, write = null;
        Fd[] pair = null;
        try {
            if (holdsLater) {
                pair = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_STREAM);
                try { // a file in flight costs its message's buffer: room for some thousands
                    Sockets.setInt(pair[0], Sockets.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, HELD_LATER_BYTES);
                } catch (KernelException e) {
                    Sockets.setInt(pair[0], Sockets.SOL_SOCKET, Sockets.SO_SNDBUF, HELD_LATER_BYTES); // not root
                }
                held = new ArrayList<>(held);
                held.add(pair[1]);
            }
            com.sun.jna.Memory fds = new com.sun.jna.Memory(8);
            Sys.call(() -> "pipe2()", SyscallNr.PIPE2, Sys.address(fds), Fcntl.O_CLOEXEC, 0, 0);
            read = new Fd(fds.getInt(0));
            write = new Fd(fds.getInt(4));
            // above fd 3, which the shell gets it as
            Fd readEnd = read;
            int above = 4 + held.size(); // above every fd the shell gets them as
            Fd passed = new Fd((int) Sys.call(() -> "fcntl(F_DUPFD_CLOEXEC)", SyscallNr.FCNTL, readEnd.value(),
                    Fcntl.F_DUPFD_CLOEXEC, above, 0));
            List<Fd> all = new ArrayList<>(List.of(passed));
            try {
                for (Fd h : held) {
                    all.add(new Fd((int) Sys.call(() -> "fcntl(F_DUPFD_CLOEXEC)", SyscallNr.FCNTL, h.value(),
                            Fcntl.F_DUPFD_CLOEXEC, above, 0)));
                }
                StringBuilder inner = new StringBuilder("/bin/sh -c \"$1\" " + name);
                for (int i = 0; i < args.size(); i++) {
                    inner.append(" \"${").append(i + 2).append("}\"");
                }
                List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", inner + " >/dev/null 2>&1 &", name, script));
                argv.addAll(args);
                // the outer shell starts the watcher in the background and exits: no child of this JVM's is left
                Pid outer = Spawner.spawn("/bin/sh", argv, List.of("PATH=/usr/bin:/bin"), true, all, "/dev/null");
                Spawner.reap(outer);
            } finally {
                all.forEach(Fd::close);
            }
            read.close();
            if (pair != null) {
                pair[1].close();
            }
            return new DeathWatch(write, pair == null ? null : pair[0]);
        } catch (RuntimeException e) {
            if (read != null) {
                read.close();
            }
            if (write != null) {
                write.close();
            }
            if (pair != null) {
                pair[0].close();
                pair[1].close();
            }
            throw e;
        }
    }

    private static final int HELD_LATER_BYTES = 16 << 20;

    /**
     * Hands {@code f} to the script (started with holdsLater) until it ends: sent over the socket whose other end
     * it holds, where the message lies unread, and so the file stays open should cryo die. False when the
     * socket's buffer is full.
     */
    public synchronized boolean hold(Fd f) {
        if (closed || later == null) {
            return false;
        }
        try {
            Sockets.sendMsg(later, new byte[] {'F'}, List.of(f), null, null, Sockets.MSG_DONTWAIT);
            return true;
        } catch (KernelException e) {
            return false;
        }
    }

    /** Tells the script {@code line} (it reads its fd 3 line by line until "done" or an end of file). */
    public synchronized void tell(String line) {
        if (!closed) {
            write(line + "\n");
        }
    }

    private void write(String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        com.sun.jna.Memory m = new com.sun.jna.Memory(b.length);
        m.write(0, b, 0, b.length);
        Sys.call(() -> "write(the death watch's pipe)", SyscallNr.WRITE, pipe.value(), Sys.address(m), b.length, 0);
    }

    /** Leaves the script to its undo, as cryo's death would (the pipe closed without "done"). */
    public synchronized void abandon() {
        if (!closed) {
            closed = true;
            pipe.close();
            if (later != null) {
                later.close();
            }
        }
    }

    /** The planned end: the script is told "done". */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            write("done\n");
        } finally {
            pipe.close();
            if (later != null) {
                later.close();
            }
        }
    }
}
