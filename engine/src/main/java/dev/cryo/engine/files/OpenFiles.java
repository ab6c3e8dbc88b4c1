package dev.cryo.engine.files;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.FdInfo;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which fds of a frozen tree share one open file description (after fork, dup or SCM_RIGHTS): one
 * position, one set of flags, one object. Candidates are grouped by link target and inode, then
 * told apart with kcmp(KCMP_FILE). The first fd of a description (lowest pid, then lowest fd)
 * owns it: restore recreates the object there and every other fd takes that very description.
 */
public final class OpenFiles {
    private final Map<FdProbe.Ref, FdProbe.Ref> ownerOf;
    private final Map<String, List<FdProbe.Ref>> candidates;

    private OpenFiles(Map<FdProbe.Ref, FdProbe.Ref> ownerOf, Map<String, List<FdProbe.Ref>> candidates) {
        this.ownerOf = ownerOf;
        this.candidates = candidates;
    }

    private static String key(Pid pid, int fd) {
        FdInfo info = ProcFs.fdInfo(pid, fd);
        return ProcFs.fdTarget(pid, fd) + "\0" + info.ino() + "\0" + info.mntId();
    }

    /**
     * The fd of the tree that owns the open file description fd {@code fd} of process {@code pid}
     * (outside the tree: cryo holding a file passed in a socket queue) refers to, or null when no
     * task of the tree holds it.
     */
    public FdProbe.Ref find(Pid pid, int fd) {
        for (FdProbe.Ref c : candidates.getOrDefault(key(pid, fd), List.of())) {
            if (Sys.sameOpenFile(Pid.of(c.pid()), c.fd(), pid, fd)) {
                FdProbe.Ref o = ownerOf.get(c);
                return o == null ? c : o;
            }
        }
        return null;
    }

    /** The owner of the description {@code fd} refers to, or null when {@code fd} is its owner. */
    public FdProbe.Ref owner(FdProbe.Ref fd) {
        return ownerOf.get(fd);
    }

    /** Scans every fd of the (frozen) tasks. */
    public static OpenFiles scan(List<Pid> tasks) {
        List<Pid> sorted = new ArrayList<>(tasks);
        sorted.sort((a, b) -> Integer.compare(a.value(), b.value()));
        Map<String, List<FdProbe.Ref>> candidates = new LinkedHashMap<>();
        for (Pid pid : sorted) {
            List<Integer> fds;
            try {
                fds = ProcFs.fds(pid);
            } catch (KernelException e) {
                continue; // a zombie has no fd table
            }
            for (int fd : fds) {
                String key;
                try {
                    key = key(pid, fd);
                } catch (KernelException e) {
                    continue; // closed under us: the dump of that fd reports it
                }
                candidates.computeIfAbsent(key, k -> new ArrayList<>()).add(new FdProbe.Ref(pid.value(), fd));
            }
        }
        Map<FdProbe.Ref, FdProbe.Ref> ownerOf = new HashMap<>();
        for (List<FdProbe.Ref> group : candidates.values()) {
            if (group.size() < 2) {
                continue;
            }
            List<FdProbe.Ref> owners = new ArrayList<>(); // one per distinct description, in order
            for (FdProbe.Ref fd : group) {
                FdProbe.Ref same = null;
                for (FdProbe.Ref o : owners) {
                    if (Sys.sameOpenFile(Pid.of(o.pid()), o.fd(), Pid.of(fd.pid()), fd.fd())) {
                        same = o;
                        break;
                    }
                }
                if (same == null) {
                    owners.add(fd);
                } else {
                    ownerOf.put(fd, same);
                }
            }
        }
        return new OpenFiles(ownerOf, candidates);
    }

    /** No sharing known (a single task looked at on its own). */
    public static OpenFiles none() {
        return new OpenFiles(Map.of(), Map.of());
    }
}
