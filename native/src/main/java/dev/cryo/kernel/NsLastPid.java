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
        try (Fd fd = Sys.open(PATH, Fcntl.O_RDWR)) {
            Sys.call(() -> "flock(" + PATH + ")", SyscallNr.FLOCK, fd.value(), 2, 0, 0);
            try {
                int was = read();
                try { // set as late as possible: the host forks all the time, and each may take the pid
                    return fork.applyAsLong(() -> write(fd, pid - 1));
                } finally {
                    if (was >= pid) {
                        write(fd, was);
                    }
                }
            } finally {
                LibC.syscall(SyscallNr.FLOCK, fd.value(), 8, 0, 0, 0, 0);
            }
        }
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
