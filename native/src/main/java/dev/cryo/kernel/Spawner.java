package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.StringArray;

import java.util.List;

/**
 * Starts a child with posix_spawn through JNA. Unlike ProcessBuilder, the JDK knows nothing of
 * such a child, so no reaper thread calls waitpid on it and steals its ptrace stops.
 * The caller reaps it with {@link #reap}. The child gets /dev/null as stdin, stdout and stderr
 * and none of this JVM's other fds (the JVM leaves some without O_CLOEXEC).
 */
public final class Spawner {
    private Spawner() {}

    /** posix_spawnattr_t and posix_spawn_file_actions_t are well under this on glibc x86_64. */
    private static final int OPAQUE_SIZE = 512;
    private static final short POSIX_SPAWN_SETSID = 0x80;

    public static Pid spawn(String path, List<String> argv, List<String> env, boolean newSession) {
        return spawn(path, argv, env, newSession, List.of(), "/dev/null");
    }

    /**
     * As {@link #spawn(String, List, List, boolean)}, the child also getting {@code passed} as its fds 3, 4,
     * ... (in that order) and {@code stdout} (created 0600) as its standard output. Each of {@code passed}
     * must be above the last fd it is given as, so no dup2 overwrites a source still to come.
     */
    public static Pid spawn(String path, List<String> argv, List<String> env, boolean newSession, List<Fd> passed,
                            String stdout) {
        Memory attr = new Memory(OPAQUE_SIZE);
        attr.clear();
        Memory actions = new Memory(OPAQUE_SIZE);
        actions.clear();
        int[] pid = new int[1];
        LibC.posix_spawnattr_init(attr);
        LibC.posix_spawn_file_actions_init(actions);
        try {
            for (int fd = 0; fd < 3; fd++) {
                LibC.posix_spawn_file_actions_addopen(actions, fd, fd == 1 ? stdout : "/dev/null", fd == 0 ? 0
                        : fd == 1 && !stdout.equals("/dev/null") ? Fcntl.O_WRONLY | Fcntl.O_CREAT | Fcntl.O_TRUNC
                        : 1, 0600);
            }
            for (int i = 0; i < passed.size(); i++) {
                if (passed.get(i).value() <= 3 + i) {
                    throw new IllegalArgumentException("fd " + passed.get(i) + " would be overwritten before it is passed");
                }
                LibC.posix_spawn_file_actions_adddup2(actions, passed.get(i).value(), 3 + i);
            }
            LibC.posix_spawn_file_actions_addclosefrom_np(actions, 3 + passed.size());
            if (newSession) {
                LibC.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID);
            }
            int rc = LibC.posix_spawn(pid, path, actions, attr,
                    new StringArray(argv.toArray(new String[0])), new StringArray(env.toArray(new String[0])));
            if (rc != 0) {
                throw new SyscallException("posix_spawn(" + path + ")", rc);
            }
        } finally {
            LibC.posix_spawn_file_actions_destroy(actions);
            LibC.posix_spawnattr_destroy(attr);
        }
        return Pid.of(pid[0]);
    }

    /**
     * Waits until a freshly spawned {@code comm} sleeps: past exec and libc start-up, so it can be
     * seized in a known state (rseq registered, no loader running). False on timeout; throws if
     * the child died.
     */
    public static boolean awaitSleeping(Pid pid, String comm, long timeoutMillis) {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (System.nanoTime() < deadline) {
            dev.cryo.kernel.proc.ProcStat st;
            try {
                st = dev.cryo.kernel.proc.ProcFs.stat(pid);
            } catch (KernelException e) {
                throw new KernelException("the " + comm + " started as pid " + pid + " died at start", e);
            }
            if (st.state() == 'S' && st.comm().equals(comm)) {
                return true;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
        return false;
    }

    /** Waits for a spawned child to end. */
    public static WaitStatus reap(Pid pid) {
        return Sys.wait4(pid.value(), 0);
    }

    /** Kills a spawned child and reaps it; one gone or reaped already is no error (cleanup paths). */
    public static void killAndReap(Pid pid) {
        try {
            Sys.kill(pid, Signals.SIGKILL);
        } catch (RuntimeException goneAlready) {
            // reaped below if it is still a zombie
        }
        try {
            reap(pid);
        } catch (RuntimeException reapedAlready) {
            // nothing left to wait for
        }
    }
}
