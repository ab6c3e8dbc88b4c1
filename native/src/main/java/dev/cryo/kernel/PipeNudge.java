package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.util.ArrayList;
import java.util.List;

/**
 * Makes empty pipes readable for an instant: one byte written into each through a write end of
 * cryo's opened on /proc/PID/fd/N (the same pipe), {@code action} run, and each byte read back
 * through a read end opened the same way, so the pipe holds what it held. Only for pipes no one
 * else reads meanwhile: a restored tree's, whose tasks are all stopped.
 */
public final class PipeNudge {
    private PipeNudge() {}

    public static void withByteIn(Pid pid, List<Integer> fds, Runnable action) {
        Memory b = new Memory(1);
        b.setByte(0, (byte) 0);
        List<Fd> written = new ArrayList<>();
        try {
            for (int fd : fds) {
                String path = "/proc/" + pid + "/fd/" + fd;
                Fd r = Sys.open(path, Fcntl.O_RDONLY | Fcntl.O_NONBLOCK | Fcntl.O_CLOEXEC);
                try (Fd w = Sys.open(path, Fcntl.O_WRONLY | Fcntl.O_NONBLOCK | Fcntl.O_CLOEXEC)) {
                    Sys.call(() -> "write(" + path + ", 1 byte)", SyscallNr.WRITE, w.value(), Sys.address(b), 1, 0);
                } catch (RuntimeException e) {
                    r.close();
                    throw e;
                }
                written.add(r);
            }
            action.run();
        } finally {
            for (Fd r : written) {
                try (r) {
                    if (Sys.call(() -> "read(" + r + ", 1 byte back)", SyscallNr.READ, r.value(), Sys.address(b), 1, 0) != 1) {
                        throw new KernelException("a byte written into pid " + pid + "'s pipe could not be read back");
                    }
                }
            }
        }
    }
}
