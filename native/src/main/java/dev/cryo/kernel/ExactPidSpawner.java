package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Starts a process with a chosen pid: under an exclusive lock on /proc/sys/kernel/ns_last_pid
 * (the lock CRIU takes too, so two restorers do not race), write pid-1 there and posix_spawn.
 * Another process forking at the same moment can still take the pid: the caller gets the pid it
 * really got and must check it. Afterwards ns_last_pid is moved to {@code skipTo}, so the pids
 * after it (the tree's other pids and tids, which cryo creates with clone3 set_tid) are not handed
 * to anyone else meanwhile — not even to this JVM's own new threads.
 */
public final class ExactPidSpawner {
    private ExactPidSpawner() {}

    private static final String NS_LAST_PID = "/proc/sys/kernel/ns_last_pid";
    private static final int O_RDWR = 2, FLOCK = 73, LOCK_EX = 2, LOCK_UN = 8;

    private static void setLastPid(Fd fd, int value) {
        byte[] text = Integer.toString(value).getBytes(StandardCharsets.US_ASCII);
        Memory m = new Memory(text.length);
        m.write(0, text, 0, text.length);
        Sys.call(() -> "pwrite(" + NS_LAST_PID + ", " + value + ")", SyscallNr.PWRITE64, fd.value(),
                Sys.address(m), text.length, 0);
    }

    public static Pid spawn(int pid, int skipTo, String path, List<String> argv, boolean newSession) {
        try (Fd fd = Sys.open(NS_LAST_PID, O_RDWR)) {
            Sys.call(() -> "flock(" + NS_LAST_PID + ")", FLOCK, fd.value(), LOCK_EX, 0, 0);
            try {
                setLastPid(fd, pid - 1);
                Pid got = Spawner.spawn(path, argv, List.of(), newSession);
                setLastPid(fd, Math.max(skipTo, pid));
                return got;
            } finally {
                LibC.syscall(FLOCK, fd.value(), LOCK_UN, 0, 0, 0, 0);
            }
        }
    }
}
