package dev.cryo.engine.model;

import java.util.Map;

/**
 * The current directory, root and umask of a thread that holds its own (unshare(CLONE_FS) in that thread, as
 * Samba's worker threads, each with a cwd of its own): paths as cryo sees them, like the process's. A restore
 * makes the thread with its process's, then unshares them in the thread and sets these.
 */
public record ThreadFs(String cwd, String root, int umask) {
    public ThreadFs {
        java.util.Objects.requireNonNull(cwd, "cwd");
        java.util.Objects.requireNonNull(root, "root");
        if ((umask & ~0777) != 0) {
            throw new IllegalArgumentException("ThreadFs.umask 0" + Integer.toOctalString(umask) + " is not a umask");
        }
    }

    public Map<String, Object> json() {
        return Map.of("cwd", cwd, "root", root, "umask", "0" + Integer.toOctalString(umask));
    }
}
