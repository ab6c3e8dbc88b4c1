package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

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
    private boolean closed;

    private DeathWatch(Fd pipe) {
        this.pipe = pipe;
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
        Fd read = null, write = null;
        try {
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
            return new DeathWatch(write);
        } catch (RuntimeException e) {
            if (read != null) {
                read.close();
            }
            if (write != null) {
                write.close();
            }
            throw e;
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
            byte[] done = "done\n".getBytes(StandardCharsets.US_ASCII);
            com.sun.jna.Memory m = new com.sun.jna.Memory(done.length);
            m.write(0, done, 0, done.length);
            Sys.call(() -> "write(the death watch's pipe)", SyscallNr.WRITE, pipe.value(), Sys.address(m), done.length, 0);
        } finally {
            pipe.close();
        }
    }
}
