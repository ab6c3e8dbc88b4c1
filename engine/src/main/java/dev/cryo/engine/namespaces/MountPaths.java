package dev.cryo.engine.namespaces;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.Clone;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a path a task of a carried mount namespace named (its cwd, an open file, a mapping) is,
 * as cryo sees it before the restore makes the namespace: on a copy of a host mount it is the same
 * path; on a bind mount it is the same path below the bind's source; on a file system the
 * namespace made (a tmpfs, its proc) it is nowhere yet — the restore makes it from the image.
 */
public final class MountPaths {
    private final Map<Integer, NamespaceImage> nsOf = new HashMap<>();

    public MountPaths(List<TaskImage> tasks, List<NamespaceImage> images) {
        Map<Integer, NamespaceImage> creators = new HashMap<>();
        images.stream().filter(n -> n.has(Clone.NEWNS)).forEach(n -> creators.put(n.pid(), n));
        Map<Integer, Integer> parent = new HashMap<>();
        tasks.forEach(t -> parent.put(t.ids().pid(), t.ids().ppid()));
        for (TaskImage t : tasks) {
            Integer p = t.ids().pid();
            for (int guard = 0; p != null && guard < tasks.size() + 1; guard++) {
                if (creators.containsKey(p)) {
                    nsOf.put(t.ids().pid(), creators.get(p));
                    break;
                }
                p = parent.get(p);
            }
        }
    }

    /** The path cryo checks for {@code path} of task {@code pid}; null: the file is made by the restore. */
    public String hostPath(int pid, String path) {
        NamespaceImage n = nsOf.get(pid);
        return n == null || path == null ? path : resolve(n.mounts(), path, 0);
    }

    private static String resolve(List<MountImage> mounts, String path, int depth) {
        MountImage on = null;
        for (MountImage m : mounts) { // the deepest point, and of those the last mounted
            if (MountScan.under(path, m.point()) && (on == null || m.point().length() >= on.point().length())) {
                on = m;
            }
        }
        if (on == null || !on.made()) {
            return path;
        }
        if (on.bindFrom() == null || depth > mounts.size()) {
            return null;
        }
        String rest = on.point().equals("/") ? path : path.substring(on.point().length());
        return resolve(mounts, MountScan.join(on.bindFrom(), rest), depth + 1);
    }
}
