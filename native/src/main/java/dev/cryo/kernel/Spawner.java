package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.StringArray;

import java.util.List;

/**
 * Starts a child with posix_spawn through JNA. Unlike ProcessBuilder, the JDK knows nothing of
 * such a child, so no reaper thread calls waitpid on it and steals its ptrace stops.
 * The caller reaps it with {@link #reap}.
 */
public final class Spawner {
    private Spawner() {}

    /** posix_spawnattr_t and posix_spawn_file_actions_t are well under this on glibc x86_64. */
    private static final int OPAQUE_SIZE = 512;
    private static final short POSIX_SPAWN_SETSID = 0x80;

    public static Pid spawn(String path, List<String> argv, List<String> env, boolean newSession) {
        Memory attr = new Memory(OPAQUE_SIZE);
        attr.clear();
        int[] pid = new int[1];
        LibC.posix_spawnattr_init(attr);
        try {
            if (newSession) {
                LibC.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID);
            }
            int rc = LibC.posix_spawn(pid, path, null, attr,
                    new StringArray(argv.toArray(new String[0])), new StringArray(env.toArray(new String[0])));
            if (rc != 0) {
                throw new SyscallException("posix_spawn(" + path + ")", rc);
            }
        } finally {
            LibC.posix_spawnattr_destroy(attr);
        }
        return Pid.of(pid[0]);
    }

    /** Waits for a spawned child to end. */
    public static WaitStatus reap(Pid pid) {
        return Sys.wait4(pid.value(), 0);
    }
}
