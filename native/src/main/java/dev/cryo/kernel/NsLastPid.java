package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.nio.charset.StandardCharsets;
import java.util.function.LongSupplier;

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

    /** Runs {@code fork} with ns_last_pid at {@code pid - 1}, under the lock; returns what it returned. */
    public static long forkAs(int pid, LongSupplier fork) {
        try (Fd fd = Sys.open(PATH, Fcntl.O_RDWR)) {
            Sys.call(() -> "flock(" + PATH + ")", SyscallNr.FLOCK, fd.value(), 2, 0, 0);
            try {
                byte[] text = Integer.toString(pid - 1).getBytes(StandardCharsets.US_ASCII);
                Memory m = new Memory(text.length);
                m.write(0, text, 0, text.length);
                Sys.call(() -> "pwrite(" + PATH + ", " + (pid - 1) + ")", SyscallNr.PWRITE64, fd.value(),
                        Sys.address(m), text.length, 0);
                return fork.getAsLong();
            } finally {
                LibC.syscall(SyscallNr.FLOCK, fd.value(), 8, 0, 0, 0, 0);
            }
        }
    }
}
