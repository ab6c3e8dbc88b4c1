package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.MountInfo;
import dev.cryo.kernel.proc.ProcFs;

import java.util.HashSet;
import java.util.Set;

/**
 * Files that live on a mount no namespace of the dump can reach by path: one unmounted with
 * {@code umount -l} while the file was open, or made by open_tree/fsmount and never attached
 * (zdtm detached_mount, anonymous_mount). Their path names nothing, or another file, at restore
 * (a cwd came back as "/", a file as missing after the dump had killed the tree): refused at dump.
 * Mounts of cryo's own namespace count as reachable (a file opened before the task made its mount
 * namespace: {@link RegularFileHandler#onlyOutside}).
 */
public final class MountReach {
    private final Pid pid;
    private Set<Long> attached;

    public MountReach(Pid pid) {
        this.pid = pid;
    }

    /**
     * Fails naming {@code what} when mount {@code mountId}, which holds the file dumped under
     * {@code path}, is attached in neither namespace. The common case costs one statx: the path,
     * seen from the task's root, lands on that very mount.
     */
    public void require(long mountId, String path, String what) {
        if (path != null && path.startsWith("/") && onMount(pid.procDir() + "/root" + path, mountId)) {
            return;
        }
        if (!attached().contains(mountId)) {
            throw new DumpException("pid " + pid + ": " + what + " is on a mount that is not attached in its mount "
                    + "namespace (mount id " + mountId + ": unmounted with umount -l while in use, or made by "
                    + "open_tree/fsmount and never attached); no path reaches it at restore; not supported");
        }
    }

    /** As above for the file a /proc link of the task opens ({@code /proc/PID/cwd}, {@code exe}, {@code map_files/...}). */
    public void requireLink(String procLink, String path, String what) {
        require(Sys.mountId(procLink), path, what);
    }

    private static boolean onMount(String path, long mountId) {
        try {
            return Sys.mountId(path) == mountId;
        } catch (RuntimeException e) { // nothing there (a deleted file's old name): ask mountinfo
            return false;
        }
    }

    private Set<Long> attached() {
        if (attached == null) { // read once per task: the tree is frozen
            attached = new HashSet<>();
            for (String p : new String[] {pid.procDir() + "/mountinfo", "/proc/self/mountinfo"}) {
                for (MountInfo.Mount m : MountInfo.parse(p, ProcFs.text(p))) {
                    attached.add((long) m.id());
                }
            }
        }
        return attached;
    }
}
