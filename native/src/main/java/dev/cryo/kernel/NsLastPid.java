package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.nio.charset.StandardCharsets;

/**
 * The next pid of cryo's pid namespace, set through /proc/sys/kernel/ns_last_pid under CRIU's lock
 * on that file: for a fork that clone3's set_tid cannot place at this level, a fork made by a task
 * inside a user namespace of its own (set_tid needs CAP_CHECKPOINT_RESTORE over every level it
 * names, and such a task has none over cryo's). Another process of the host may fork in between:
 * the caller checks the pid it got.
 */
public final class NsLastPid {
    private NsLastPid() {}

    static final String PATH = "/proc/sys/kernel/ns_last_pid";

    /**
     * Runs {@code fork} under the lock, handing it what sets ns_last_pid at {@code pid - 1}, for it to
     * run right before its clone enters the kernel (at the injected syscall's entry stop); returns
     * what it returned.
     * The host's own forks go on from where they were once it is made: left at {@code pid - 1}, they
     * would take the freed pids of the tree's next tasks.
     */
    public static long forkAs(int pid, java.util.function.ToLongFunction<Runnable> fork) {
        return locked(fd -> {
            int was = read();
            try { // set as late as possible: the host forks all the time, and each may take the pid
                return fork.applyAsLong(() -> write(fd, pid - 1));
            } finally {
                if (was >= pid) {
                    write(fd, was);
                }
            }
        });
    }

    /**
     * Runs {@code body} with the file open and CRIU's lock on it held. This process's own lock comes after it,
     * never before (a restore's move notes itself under both).
     */
    private static <T> T locked(java.util.function.Function<Fd, T> body) {
        try (Fd fd = Sys.open(PATH, Fcntl.O_RDWR)) {
            Sys.call(() -> "flock(" + PATH + ")", SyscallNr.FLOCK, fd.value(), 2, 0, 0);
            try {
                return body.apply(fd);
            } finally {
                LibC.syscall(SyscallNr.FLOCK, fd.value(), 8, 0, 0, 0, 0);
            }
        }
    }

    /** How far past the move a put-back looks at who took the pids since: farther, it leaves the move in place. */
    private static final int PUT_BACK_SPAN = 4096;

    private static int holds; // restores under way in this process
    private static int movedFrom = -1, movedTo = -1; // what the first move while they run found, and the farthest

    /**
     * Moves ns_last_pid to {@code pid} if it is below it (never backwards), under the lock: the pids of
     * a tree being restored are not handed to the namespace's next forks meanwhile. The move stays
     * until the last {@link #hold} ends.
     */
    static void skipPast(int pid) {
        try {
            locked(fd -> {
                int last = read();
                if (last >= 0 && last < pid) {
                    write(fd, pid);
                    noteMove(last, pid);
                }
                return null;
            });
        } catch (KernelException e) {
            // ns_last_pid not writable (a user namespace): the tree's pids are simply not reserved
        }
    }

    private static synchronized void noteMove(int from, int to) {
        if (holds > 0) {
            movedFrom = movedFrom < 0 ? from : movedFrom;
            movedTo = Math.max(movedTo, to);
        }
    }

    /**
     * A restore under way, from before its first pid is set until its tree runs or is gone; closed
     * once. When the last one ends, ns_last_pid goes back to where the first move found it if every
     * pid taken since the farthest move is this process's (its threads, its children): left past a
     * tree of pids from another host, this namespace's own forks climb into the pids the next tree
     * from there has (an agent in a pid namespace of its own: "pid N is in use by 'process reaper'").
     * A restore not closed keeps the moves, as before.
     */
    public static Hold hold() {
        synchronized (NsLastPid.class) {
            holds++;
        }
        return new Hold();
    }

    /** See {@link #hold}. */
    public static final class Hold implements AutoCloseable {
        private boolean closed;

        private Hold() {}

        @Override
        public void close() {
            int from, to;
            synchronized (NsLastPid.class) {
                if (closed) {
                    return;
                }
                closed = true;
                if (--holds > 0 || movedTo < 0) {
                    return;
                }
                from = movedFrom;
                to = movedTo;
                movedFrom = movedTo = -1;
            }
            putBack(from, to); // the file's lock first, as a move takes them
        }
    }

    private static void putBack(int from, int to) {
        try {
            locked(fd -> {
                synchronized (NsLastPid.class) {
                    if (holds > 0) {
                        return null; // a restore begun since counts on the moves
                    }
                }
                int now = read();
                if (now >= to && now - to <= PUT_BACK_SPAN && takenByThisProcess(to, now)) {
                    write(fd, from);
                }
                return null;
            });
        } catch (KernelException e) {
            // not writable: nothing was moved either
        }
    }

    /**
     * Whether every live pid in (from, to] is a thread of this process or a child of it: anything
     * else (another restore's tree, a restored task's fork) may count on the move, which then stays.
     */
    static boolean takenByThisProcess(int from, int to) {
        long self = ProcessHandle.current().pid();
        for (int p = from + 1; p <= to; p++) {
            String text;
            try {
                text = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + p + "/status"));
            } catch (java.io.IOException gone) {
                continue;
            }
            dev.cryo.kernel.proc.ProcStatus st = dev.cryo.kernel.proc.ProcStatus.parse(text);
            if (st.tgid() != self && st.ppid() != self) {
                return false;
            }
        }
        return true;
    }

    private static int read() {
        try {
            return Integer.parseInt(java.nio.file.Files.readAllLines(java.nio.file.Path.of(PATH)).get(0).trim());
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    private static void write(Fd fd, int last) {
        byte[] text = Integer.toString(last).getBytes(StandardCharsets.US_ASCII);
        Memory m = new Memory(text.length);
        m.write(0, text, 0, text.length);
        Sys.call(() -> "pwrite(" + PATH + ", " + last + ")", SyscallNr.PWRITE64, fd.value(), Sys.address(m), text.length, 0);
    }
}
