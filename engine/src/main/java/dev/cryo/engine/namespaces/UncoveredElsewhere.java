package dev.cryo.engine.namespaces;

import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MountInfo.Mount;
import dev.cryo.kernel.proc.ProcFs;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Where else a tmpfs that later mounts cover shows uncovered. Inside a user namespace cryo cannot take
 * the covering mounts off: its copy of the task's mount namespace, made by a thread of cryo's user
 * namespace, locks every mount it copies (umount2: EINVAL). A child that mounted its own tmpfs over the
 * copy of its parent's (zdtm's mntns_* tests in the uns flavor) still has that file system uncovered
 * in the parent's namespace: the files are read there, from a clone taken in place.
 */
final class UncoveredElsewhere {
    private UncoveredElsewhere() {}

    /** A task and the mount of its namespace that show {@code m}'s file system, from the same root. */
    record Seen(Pid pid, Mount mount) {}

    /** Ancestors looked at, up from the task: a tree, its launcher and a shell or two. */
    private static final int MAX_HOPS = 64;

    /** The nearest ancestor of {@code p} in another mount namespace where {@code m} is uncovered, or null. */
    static Seen find(Pid p, Mount m) {
        Set<String> looked = new HashSet<>();
        looked.add(Namespaces.link(p.toString(), "mnt"));
        Pid at = p;
        for (int hop = 0; hop < MAX_HOPS; hop++) {
            int ppid;
            try {
                ppid = ProcFs.stat(at).ppid();
            } catch (RuntimeException gone) { // exited meanwhile: nothing further up is known
                return null;
            }
            if (ppid <= 0) {
                return null;
            }
            at = Pid.of(ppid);
            String ns = Namespaces.link(at.toString(), "mnt");
            if (ns == null || !looked.add(ns)) {
                continue;
            }
            List<Mount> table = MountOrder.sorted(MountScan.read(ExitedLeaders.proc(at) + "/mountinfo"));
            for (int i = 0; i < table.size(); i++) {
                Mount x = table.get(i);
                if (x.major() == m.major() && x.minor() == m.minor() && x.root().equals(m.root())
                        && !MountScan.coveredLater(table, i)) {
                    return new Seen(at, x);
                }
            }
        }
        return null;
    }
}
