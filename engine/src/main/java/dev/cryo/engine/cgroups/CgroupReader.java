package dev.cryo.engine.cgroups;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The dump half: which cgroups a process is in, and their settings. */
public final class CgroupReader {

    private CgroupReader() {}

    /**
     * The process's cgroups below each hierarchy's root, and each thread's where it is not its
     * process's (a v1 per-thread move, a v2 threaded cgroup). A cgroup this host shows no mount of
     * is refused ({@link #place}). Every cgroup below the process's own is carried too, empty or not
     * (a runtime's sub-cgroups).
     */
    public static CgroupMembership read(Pid pid, List<Integer> tids) {
        return read(pid, tids, 0, List.of());
    }

    /**
     * As above, for a process of the dumped tree {@code tree} (its pids) whose parent is {@code ppid}.
     * The tree's root also carries the tree's top cgroup of each hierarchy — the lowest one that holds
     * every process of the tree, when that is above its own (a service manager in one slice, its
     * services in others) — and every cgroup below it, empty or not.
     */
    public static CgroupMembership read(Pid pid, List<Integer> tids, int ppid, java.util.Collection<Integer> tree) {
        return read(pid, tids, ppid, tree, Seen.NOTHING);
    }

    /**
     * What a read went by, told as it goes: each /proc cgroup file with the text read (null: the task
     * was reaped), and each cgroup directory (and its ancestors) before anything in it is read.
     */
    interface Seen {
        Seen NOTHING = new Seen() {
            public void procFile(String file, String text) {}

            public void dir(Path dir) {}
        };

        void procFile(String file, String text);

        void dir(Path dir);
    }

    static CgroupMembership read(Pid pid, List<Integer> tids, int ppid, java.util.Collection<Integer> tree, Seen seen) {
        Map<String, String> process = parse(cgroupFile(pid, dev.cryo.kernel.ExitedLeaders.proc(pid.value()) + "/cgroup", seen));
        CgroupMounts mounts = CgroupMounts.read();
        List<CgroupMembership.Place> places = new ArrayList<>(), below = new ArrayList<>();
        for (Map.Entry<String, String> e : process.entrySet()) {
            String hierarchy = e.getKey(), path = e.getValue();
            if (path.equals("/")) {
                continue;
            }
            Path dir = place(pid, mounts, hierarchy, path);
            ancestors(mounts, hierarchy, path, seen);
            places.add(new CgroupMembership.Place(hierarchy, path, settings(dir, hierarchy), access(pid, dir)));
            below(pid, hierarchy, path, dir, below, seen);
        }
        if (!tree.isEmpty() && !tree.contains(ppid)) {
            treeTop(pid, mounts, process, tree, below, seen);
        }
        List<CgroupMembership.ThreadPlace> threads = new ArrayList<>();
        for (int tid : tids) {
            if (tid == pid.value()) {
                continue;
            }
            for (Map.Entry<String, String> e : parse(cgroupFile(pid, dev.cryo.kernel.ExitedLeaders.proc(pid.value()) + "/task/" + tid + "/cgroup",
                    seen)).entrySet()) {
                String hierarchy = e.getKey(), path = e.getValue();
                if (path.equals(process.get(hierarchy))) {
                    continue;
                }
                Path dir = place(pid, mounts, hierarchy, path);
                ancestors(mounts, hierarchy, path, seen);
                threads.add(new CgroupMembership.ThreadPlace(tid, path.equals("/") // the root: no settings of its own
                        ? new CgroupMembership.Place(hierarchy, path, Map.of())
                        : new CgroupMembership.Place(hierarchy, path, settings(dir, hierarchy), access(pid, dir))));
            }
        }
        return new CgroupMembership(places, below, threads);
    }

    /**
     * Adds, before the others, the top cgroup of each hierarchy where the tree's processes are in
     * more than one cgroup, and every cgroup below it that is not below {@code own}'s (those are there).
     */
    private static void treeTop(Pid pid, CgroupMounts mounts, Map<String, String> own, java.util.Collection<Integer> tree,
                                List<CgroupMembership.Place> below, Seen seen) {
        Map<String, String> tops = new LinkedHashMap<>(own);
        for (int p : tree) {
            String text;
            try {
                text = Files.readString(Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/cgroup"));
            } catch (IOException e) {
                seen.procFile(dev.cryo.kernel.ExitedLeaders.proc(p) + "/cgroup", null);
                continue; // reaped meanwhile (a zombie): its cgroups are its parent's business
            }
            seen.procFile(dev.cryo.kernel.ExitedLeaders.proc(p) + "/cgroup", text);
            parse(text).forEach((h, path) -> tops.computeIfPresent(h, (k, top) -> common(top, path)));
        }
        List<CgroupMembership.Place> above = new ArrayList<>();
        for (Map.Entry<String, String> e : tops.entrySet()) {
            String hierarchy = e.getKey(), top = e.getValue(), mine = own.get(hierarchy);
            if (top.equals("/") || top.equals(mine)) {
                continue; // the host's root is not the tree's; below its own cgroup is carried already
            }
            Optional<Path> dir = mounts.dir(hierarchy, top);
            if (dir.isEmpty()) {
                continue;
            }
            ancestors(mounts, hierarchy, top, seen);
            above.add(new CgroupMembership.Place(hierarchy, top, settings(dir.get(), hierarchy), access(pid, dir.get())));
            List<CgroupMembership.Place> all = new ArrayList<>();
            below(pid, hierarchy, top, dir.get(), all, seen);
            all.stream().filter(p -> !p.path().equals(mine) && !p.path().startsWith(mine + "/")).forEach(above::add);
        }
        if (below.size() + above.size() > CgroupMembership.MAX_BELOW) {
            throw new DumpException("pid " + pid.value() + ": the tree's cgroups have " + (below.size() + above.size())
                    + " cgroups below them; cryo carries at most " + CgroupMembership.MAX_BELOW);
        }
        below.addAll(0, above);
    }

    /** The lowest cgroup holding both paths. */
    static String common(String a, String b) {
        while (!(b.equals(a) || b.startsWith(a.equals("/") ? "/" : a + "/"))) {
            a = a.lastIndexOf('/') <= 0 ? "/" : a.substring(0, a.lastIndexOf('/'));
        }
        return a;
    }

    /**
     * The directory of a cgroup of the task's. Refused where no mount of cryo's shows it (a hierarchy
     * mounted only inside the tree's mount namespace, as zdtm's cgroup00 in a container does): the
     * restore could not put the task back in it, and it would come back in cryo's cgroup instead.
     */
    private static Path place(Pid pid, CgroupMounts mounts, String hierarchy, String path) {
        return mounts.dir(hierarchy, path).orElseThrow(() -> new DumpException("pid " + pid.value() + " is in cgroup " + (hierarchy.isEmpty() ? "unified" : hierarchy)
                    + ":" + path + ", which no mount of this host shows (a hierarchy mounted only inside its mount"
                    + " namespace?): the restore could not put it back there; not supported yet"));
    }

    /** The cgroups below {@code dir} (which is {@code path}), parents first, each with its settings and owners. */
    private static void below(Pid pid, String hierarchy, String path, Path dir, List<CgroupMembership.Place> into, Seen seen) {
        List<Path> subs;
        try (var walk = Files.walk(dir)) {
            // each watched as the walk meets it, before its entries are listed: a cgroup made in it later is told
            subs = walk.filter(d -> !d.equals(dir) && Files.isDirectory(d, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    .peek(seen::dir).sorted().toList(); // sorted paths: a parent before its children
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new DumpException("pid " + pid.value() + ": cannot list the cgroups below its cgroup " + dir + ": "
                    + e.getMessage());
        }
        if (into.size() + subs.size() > CgroupMembership.MAX_BELOW) {
            throw new DumpException("pid " + pid.value() + ": its cgroups have " + (into.size() + subs.size())
                    + " cgroups below them (" + dir + "...); cryo carries at most " + CgroupMembership.MAX_BELOW);
        }
        for (Path d : subs) {
            String sub = path + "/" + dir.relativize(d).toString();
            into.add(new CgroupMembership.Place(hierarchy, sub, settings(d, hierarchy), access(pid, d)));
        }
    }

    private static Map<String, String> settings(Path dir, String hierarchy) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String file : CgroupSettings.files(hierarchy)) {
            try {
                String value = CgroupSettings.carried(file, Files.readString(dir.resolve(file)));
                if (!file.equals(CgroupSettings.TYPE) || value.equals(CgroupSettings.THREADED)) {
                    out.put(file, value);
                }
            } catch (IOException e) {
                // not on this kernel, or the controller is not enabled for this cgroup
            }
        }
        return out;
    }

    /**
     * The directory's and its files' owners and modes where a made cgroup would differ: owned by
     * someone other than root (delegated: the user moves its own processes and makes sub-cgroups),
     * or a directory mode other than mkdir's 0755.
     */
    private static List<CgroupMembership.Access> access(Pid pid, Path dir) {
        List<CgroupMembership.Access> out = new ArrayList<>();
        try (var files = Files.list(dir)) {
            List<Path> entries = new ArrayList<>(List.of(dir));
            files.filter(Files::isRegularFile).sorted().forEach(entries::add);
            for (Path e : entries) {
                int uid = (Integer) Files.getAttribute(e, "unix:uid"), gid = (Integer) Files.getAttribute(e, "unix:gid");
                int mode = (Integer) Files.getAttribute(e, "unix:mode") & 07777;
                if (uid != 0 || gid != 0 || (e.equals(dir) && mode != 0755)) {
                    out.add(new CgroupMembership.Access(e.equals(dir) ? "" : e.getFileName().toString(), uid, gid, mode));
                }
            }
        } catch (IOException e) {
            throw new DumpException("pid " + pid.value() + ": cannot read the owners in its cgroup " + dir + ": " + e.getMessage());
        }
        return out;
    }

    /** /proc/PID/cgroup as hierarchy → path ("0::/a" is the unified hierarchy ""). */
    static Map<String, String> parse(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int a = line.indexOf(':'), b = a < 0 ? -1 : line.indexOf(':', a + 1);
            if (b > 0) {
                out.put(line.substring(a + 1, b), line.substring(b + 1));
            }
        }
        return out;
    }

    /**
     * The cgroup {@code path} and those above it, up to the hierarchy's root as this host mounts it:
     * a setting written above may change what is read here (a v1 devices rule denied above, a
     * controller no longer handed down by a v2 parent's subtree_control).
     */
    private static void ancestors(CgroupMounts mounts, String hierarchy, String path, Seen seen) {
        for (String p = path; ; p = p.substring(0, Math.max(1, p.lastIndexOf('/')))) {
            mounts.dir(hierarchy, p).ifPresent(seen::dir);
            if (p.equals("/")) {
                return;
            }
        }
    }

    private static String cgroupFile(Pid pid, String file, Seen seen) {
        try {
            String text = Files.readString(Path.of(file));
            seen.procFile(file, text);
            return text;
        } catch (IOException e) {
            throw new DumpException("pid " + pid.value() + ": cannot read " + file + ": " + e.getMessage());
        }
    }
}
