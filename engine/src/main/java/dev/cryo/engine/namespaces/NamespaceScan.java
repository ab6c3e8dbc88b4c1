package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the namespaces a tree made for itself and refuses those a restore cannot make again. A
 * task is either in its parent's namespace of each kind (the root: in the host's, pid 1's as cryo
 * sees it), or in one it made for itself and its descendants (clone with CLONE_NEW*, unshare):
 * those of kinds pid (the task is its init, one level below the host's), uts, ipc (with its SysV
 * objects, {@link IpcScan}), net (see {@link NetNamespaceScan}) and mnt (mounts a restore can make again, see
 * {@link MountScan}) and user (see {@link UserNamespaceScan}) are carried, and time namespaces (a task's
 * own, or one its children get: its parent's reference is the parent's time_for_children); any other kind, or a namespace entered
 * with setns (another task of the tree's, not its parent's), is refused, naming pid, namespace and reason.
 * Pid namespaces nest (a sandbox inside a container): each is carried when its init is the task
 * that made it, one level below its parent's. A task whose next children get a pid namespace
 * other than its own ({@code unshare --pid --fork}) is carried when that namespace's init is its
 * child.
 */
public final class NamespaceScan {
    private NamespaceScan() {}

    /** The kinds /proc/PID/ns shows, in the order they are checked. */
    static final List<String> KINDS = List.of("pid", "net", "mnt", "uts", "ipc", "user", "cgroup", "time");

    /** Carried kinds: a restore forks the task that made one with its flag. */
    private static final int CARRIED = NamespaceImage.CARRIED;

    /** Checks the tree (parents before children) and returns the namespaces it made; refuses the rest. */
    public static List<NamespaceImage> scan(List<Pid> tree) {
        return scan(tree, true);
    }

    /**
     * Refuses what {@link #scan} would, but the files of the tree's tmpfs mounts are not read: reading
     * them (open, read, close) queues events of cryo's own for the tree's inotify and fanotify groups
     * before the freeze measures those queues (NotificationQueues), and the dump refused them as unread.
     */
    public static void check(List<Pid> tree) {
        scan(tree, false);
    }

    private static List<NamespaceImage> scan(List<Pid> tree, boolean tmpfsFiles) {
        Map<Integer, Map<String, String>> links = new HashMap<>();
        Map<String, Integer> madeBy = new HashMap<>(); // namespace link → the task of the tree that made it
        Map<String, Integer> firstIn = new HashMap<>(); // namespace link → the first task of the tree in it (parents first)
        Map<Integer, Map<Integer, Integer>> entered = new HashMap<>(); // pid → CLONE_NEW* → the ancestor whose it entered
        Map<Integer, Integer> flagsOf = new LinkedHashMap<>();
        Map<Integer, String> timeOwn = new LinkedHashMap<>(), timeKids = new LinkedHashMap<>(); // pid → the link it made
        Map<Integer, Integer> ppidOf = new HashMap<>();
        Map<Integer, String> pidKids = new LinkedHashMap<>(); // pid → the pid namespace it unshared for its children
        java.util.Set<Integer> pids = new java.util.HashSet<>();
        tree.forEach(p -> pids.add(p.value()));
        for (Pid p : tree) {
            int ppid;
            try {
                ppid = ProcFs.stat(p).ppid();
            } catch (KernelException e) {
                continue; // gone meanwhile: the seize finds out
            }
            ppidOf.put(p.value(), ppid);
            Map<String, String> mine = new HashMap<>();
            Map<String, String> ref = pids.contains(ppid) && links.containsKey(ppid) ? links.get(ppid) : null;
            int flags = 0;
            for (String kind : KINDS) {
                String link = Namespaces.link(p.toString(), kind);
                // a child is born in its parent's time_for_children, not in its parent's time namespace
                String theirs = ref != null ? ref.get(kind.equals("time") ? TIME_KIDS : kind) : host(kind);
                if (link == null) { // a zombie shows none: it was in its parent's
                    refuseExitedLeaderApart(p, kind, theirs, ref != null ? "its parent's (pid " + ppid + ")" : "the host's");
                    mine.put(kind, theirs);
                    continue;
                }
                mine.put(kind, link);
                if (theirs == null || link.equals(theirs)) {
                    continue;
                }
                String whose = ref != null ? "its parent's (pid " + ppid + ", " + theirs + ")" : "the host's (" + theirs + ")";
                if (firstIn.containsKey(link) && !kind.equals("time")) {
                    int owner = firstIn.get(link);
                    Entered.check(p, kind, link, whose, owner, ppidOf);
                    entered.computeIfAbsent(p.value(), k -> new HashMap<>()).put(Clone.namespaceFlag(kind), owner);
                    continue;
                }
                if (madeBy.containsKey(link)) {
                    throw new DumpException("pid " + p + ": its " + kind + " namespace (" + link + ") is neither "
                            + whose + " nor one it made: it is pid " + madeBy.get(link) + "'s, entered with setns;"
                            + " not supported yet");
                }
                if (kind.equals("time")) {
                    if (ref != null && link.equals(ref.get("time"))) {
                        throw new DumpException("pid " + p + ": it is in its parent's (pid " + ppid + ") time namespace ("
                                + link + ") but was forked before its parent made another for its children (" + theirs
                                + "); a restore forks every child after that; not supported yet");
                    }
                    madeBy.put(link, p.value());
                    timeOwn.put(p.value(), link);
                    continue;
                }
                int flag = Clone.namespaceFlag(kind);
                if ((flag & CARRIED) == 0) {
                    throw new DumpException("pid " + p + ": its " + kind + " namespace (" + link + ") is not " + whose
                            + "; " + kind + " namespaces of their own are not supported yet");
                }
                if (flag == Clone.NEWCGROUP) {
                    checkAtCgroupRoot(p);
                }
                madeBy.put(link, p.value());
                flags |= flag;
            }
            links.put(p.value(), mine);
            mine.forEach((kind, link) -> {
                if (link != null) {
                    firstIn.putIfAbsent(link, p.value());
                }
            });
            String kids = Namespaces.link(p.toString(), TIME_KIDS);
            mine.put(TIME_KIDS, kids != null ? kids : mine.get("time"));
            if (kids != null && !kids.equals(mine.get("time"))) { // unshare(CLONE_NEWTIME) without entering it
                if (madeBy.containsKey(kids)) {
                    throw new DumpException("pid " + p + ": the time namespace its children will get (" + kids
                            + ") is pid " + madeBy.get(kids) + "'s, entered with setns; not supported yet");
                }
                madeBy.put(kids, p.value());
                timeKids.put(p.value(), kids);
            }
            String next = Namespaces.link(p.toString(), "pid_for_children");
            if (next == null && Namespaces.link(p.toString(), "mnt") != null) {
                // the kernel shows no link for an empty one; read after it, mnt shows the task had not begun
                // to exit (an exiting task shows neither: a child's sleep ending during the scan)
                throw new DumpException("pid " + p + ": it unshared a pid namespace for its children and forked none yet"
                        + " (unshare --pid without --fork); not supported yet");
            }
            if (next != null && mine.get("pid") != null && !next.equals(mine.get("pid"))) {
                pidKids.put(p.value(), next); // unshare --pid --fork: its child, the init, made it
            }
            if (entered.containsKey(p.value())) {
                flagsOf.putIfAbsent(p.value(), 0);
            }
            if (flags != 0) {
                flagsOf.put(p.value(), flags);
                if ((flags & Clone.NEWPID) != 0) {
                    checkInit(p, ref == null ? 0 : ppid);
                }
            }
        }
        Map<Integer, Integer> pidForChildren = new HashMap<>();
        pidKids.forEach((pid, next) -> {
            Integer init = madeBy.get(next);
            int threads = threadsOf(Pid.of(pid)).size();
            if (threads > 1) { // CLONE_THREAD is EINVAL once pid_for_children is not the task's own
                throw new DumpException("pid " + pid + ": the pid namespace its children get (" + next + ") is not its own"
                        + " and it has " + threads + " threads, which a restore makes after its children and the kernel"
                        + " refuses then; not supported yet");
            }
            if (init == null && !livedIn(next)) { // its init has exited and was reaped: the namespace is dead
                refuseChildren(Pid.of(pid), next, tree, ppidOf);
                pidForChildren.put(pid, NamespaceImage.DEAD);
                flagsOf.putIfAbsent(pid, 0);
                return;
            }
            if (init == null || ppidOf.get(init) != pid.intValue()) {
                throw new DumpException("pid " + pid + ": the pid namespace its children will get (" + next + ") is not its"
                        + " own (" + links.get(pid).get("pid") + ") and no child of it is that namespace's init (another"
                        + " task's, entered with setns); not supported yet");
            }
            for (Pid q : tree) { // forked before it unshared: a restore forks every child after
                if (ppidOf.getOrDefault(q.value(), 0) == pid.intValue() && links.get(pid).get("pid").equals(
                        links.get(q.value()).get("pid"))) {
                    throw new DumpException("pid " + pid + ": it has children both in its own pid namespace (pid " + q
                            + ") and in the one it unshared for its children (" + next + ", pid " + init + "'s); not"
                            + " supported yet");
                }
            }
            pidForChildren.put(pid, init);
            flagsOf.putIfAbsent(pid, 0);
        });
        Map<Integer, TimeNsImage> times = timeImages(timeOwn, timeKids, links);
        times.keySet().forEach(pid -> flagsOf.putIfAbsent(pid, 0));
        java.util.Set<String> keptUsers = keptUserNamespaces(flagsOf, ppidOf, links);
        List<NamespaceImage> out = new ArrayList<>();
        flagsOf.forEach((pid, flags) -> out.add(image(Pid.of(pid), flags, tree, ppidOf, links, times.get(pid),
                pidForChildren.getOrDefault(pid, 0), tmpfsFiles, keptUsers).entering(entered.get(pid))));
        return out;
    }

    /**
     * The user namespaces whose maker made its mount namespace with it from cryo's (forked by cryo, or by a
     * task in cryo's mount namespace): a restore keeps that first copy of cryo's for the tasks of the user
     * namespace that build a pivoted namespace from host paths ({@link MountRestore}).
     */
    private static java.util.Set<String> keptUserNamespaces(Map<Integer, Integer> flagsOf, Map<Integer, Integer> ppidOf,
                                                           Map<Integer, Map<String, String>> links) {
        String cryos = Namespaces.link("self", "mnt");
        java.util.Set<String> out = new java.util.HashSet<>();
        flagsOf.forEach((pid, flags) -> {
            Map<String, String> parent = links.get(ppidOf.get(pid));
            if ((flags & Clone.NEWUSER) != 0 && (flags & Clone.NEWNS) != 0
                    && (parent == null || cryos.equals(parent.get("mnt")))) {
                out.add(links.get(pid).get("user"));
            }
        });
        return out;
    }

    /** Whether some task of the host is inside pid namespace {@code link} (a zombie shows no link: it is not). */
    private static boolean livedIn(String link) {
        try {
            return ProcFs.pids().stream().anyMatch(p -> link.equals(Namespaces.link(Integer.toString(p), "pid")));
        } catch (java.io.UncheckedIOException e) {
            throw new DumpException("cannot list /proc: " + e.getCause().getMessage());
        }
    }

    /**
     * Task {@code p} unshared pid namespace {@code link} for its children and its first child, the
     * namespace's init, has exited and was reaped (a zombie init is still the tree's, forked into
     * it again): the kernel killed every other task in it and allocates no pid in it any more, so
     * every fork {@code p} tries fails (ENOMEM). A restore makes it dead again before p forks
     * anything, so p must have no child at all.
     */
    private static void refuseChildren(Pid p, String link, List<Pid> tree, Map<Integer, Integer> ppidOf) {
        List<Integer> kids = tree.stream().map(Pid::value).filter(q -> ppidOf.getOrDefault(q, 0) == p.value()).toList();
        if (!kids.isEmpty()) {
            throw new DumpException("pid " + p + ": the pid namespace its children get (" + link + ") is dead (its init"
                    + " has exited and was reaped) and it has children " + kids + " from before; not supported yet");
        }
    }

    /**
     * A cgroup namespace's root is the cgroup its creator was in; a restore puts the creator in its
     * dumped cgroups and unshares one there. So the creator must still be at its namespace's root in
     * every hierarchy: /proc/PID/cgroup as read from inside shows "/" for each. (A thread's own: its tid.)
     */
    public static void checkAtCgroupRoot(Pid p) {
        String inside = Namespaces.inside(p, "cgroup", () -> ProcFs.text(dev.cryo.kernel.ExitedLeaders.proc(p) + "/cgroup"));
        List<String> moved = new ArrayList<>();
        for (String line : inside.split("\n")) {
            String[] f = line.split(":", 3);
            if (f.length == 3 && !f[2].equals("/")) {
                moved.add((f[1].isEmpty() ? "unified" : f[1]) + ":" + f[2]);
            }
        }
        if (!moved.isEmpty()) {
            throw new DumpException("pid " + p + ": it is no longer at the root of the cgroup namespace it made (it is"
                    + " in " + String.join(", ", moved) + " as the namespace names them); only a cgroup namespace whose"
                    + " creator is still in the cgroups it made it in is supported");
        }
    }

    private static final String TIME_KIDS = "time_for_children";

    /**
     * The offsets of the time namespaces the tree made. /proc/PID/timens_offsets shows those of the
     * task's time_for_children: a namespace a task entered and then left for another (its children's)
     * is read through a task whose time_for_children it still is.
     */
    private static Map<Integer, TimeNsImage> timeImages(Map<Integer, String> own, Map<Integer, String> kids,
                                                        Map<Integer, Map<String, String>> links) {
        Map<Integer, TimeNsImage> out = new LinkedHashMap<>();
        if (own.isEmpty() && kids.isEmpty()) {
            return out;
        }
        long mono = dev.cryo.kernel.Sys.clockNanos(TimeNsImage.MONOTONIC);
        long boot = dev.cryo.kernel.Sys.clockNanos(TimeNsImage.BOOTTIME);
        java.util.Set<Integer> pids = new java.util.LinkedHashSet<>(own.keySet());
        pids.addAll(kids.keySet());
        for (int pid : pids) {
            TimeNsImage.Offsets o = null, k = null;
            if (own.containsKey(pid)) {
                String link = own.get(pid);
                // a zombie shows the link but reads no offsets (its nsproxy is gone): read through a live task
                o = offsetsOfOneOf(links.entrySet().stream().filter(e -> link.equals(e.getValue().get(TIME_KIDS)))
                        .map(Map.Entry::getKey).toList()).orElseThrow(() -> new DumpException("pid " + pid
                                + ": the offsets of its time namespace (" + link + ") cannot be read: it made another"
                                + " for its children since, and no task of the tree has it as its children's; not supported yet"));
            }
            if (kids.containsKey(pid)) {
                k = offsets(pid);
            }
            out.put(pid, new TimeNsImage(o, k, mono, boot));
        }
        return out;
    }

    /**
     * The offsets of a time namespace as the first of {@code tasks} (each has it as its children's) shows
     * them: a zombie's read is blank, and the read of one that this pre-seize scan saw and that has gone
     * since (a child that exited: zdtm's fork2 forks them all the time) fails; both are passed over.
     */
    static java.util.Optional<TimeNsImage.Offsets> offsetsOfOneOf(List<Integer> tasks) {
        for (int t : tasks) {
            String path = dev.cryo.kernel.ExitedLeaders.proc(t) + "/timens_offsets", text;
            try {
                text = ProcFs.text(path);
            } catch (KernelException gone) {
                continue;
            }
            if (!text.isBlank()) {
                return java.util.Optional.of(offsets(t, path, text));
            }
        }
        return java.util.Optional.empty();
    }

    private static TimeNsImage.Offsets offsets(int pid) {
        String path = dev.cryo.kernel.ExitedLeaders.proc(pid) + "/timens_offsets";
        return offsets(pid, path, ProcFs.text(path));
    }

    private static TimeNsImage.Offsets offsets(int pid, String path, String text) {
        try {
            return TimeNsImage.Offsets.parse(path, text);
        } catch (IllegalArgumentException e) {
            throw new DumpException("pid " + pid + ": " + e.getMessage());
        }
    }

    /**
     * A pid namespace is carried when the task that made it is its init, one level below its
     * parent's ({@code parent} 0: the tree's root, one level below cryo's).
     */
    private static void checkInit(Pid p, int parent) {
        List<Integer> nsPid = nsPid(p, p); // a zombie init's status is too short for ProcFs.status
        int levels = parent == 0 ? 2 : ProcFs.status(Pid.of(parent)).nsPid().size() + 1;
        if (nsPid.size() != levels || nsPid.get(nsPid.size() - 1) != 1) {
            throw new DumpException("pid " + p + ": its pid namespace is " + (nsPid.size() != levels
                    ? (nsPid.size() - 1) + " levels below the host's, " + (parent == 0 ? "the host's" : "its parent's (pid "
                    + parent + ")") + " is " + (levels - 2) : "one where it is pid " + nsPid.get(nsPid.size() - 1)
                    + ", not its init") + "; only a pid namespace whose init is in the tree, one level below its parent's,"
                    + " is supported");
        }
    }

    private static NamespaceImage image(Pid p, int flags, List<Pid> tree, Map<Integer, Integer> ppidOf,
                                        Map<Integer, Map<String, String>> links, TimeNsImage time, int pidForChildren,
                                        boolean tmpfsFiles, java.util.Set<String> keptUsers) {
        boolean loUp = false;
        List<String> loAddresses = List.of();
        String netBoundAt = "";
        if ((flags & Clone.NEWNET) != 0) {
            netBoundAt = NetNamespaceScan.boundAt(links.get(p.value()).get("net"));
            if (netBoundAt.isEmpty()) { // a bound one keeps its lo, addresses... as they are: the restore joins it
                Namespaces.Network net = NetNamespaceScan.loopback(p, links.get(p.value()).get("net"));
                loUp = net.loUp();
                loAddresses = net.loAddresses();
            }
        }
        String host = "", domain = "";
        if ((flags & Clone.NEWUTS) != 0) {
            String[] names = Namespaces.inside(p, "uts", Namespaces::utsNames);
            host = names[0];
            domain = names[1];
        }
        IpcImage ipc = (flags & Clone.NEWIPC) != 0 ? IpcScan.scan(p, links.get(p.value()).get("ipc")) : IpcImage.EMPTY;
        Map<Integer, Integer> tids = new LinkedHashMap<>();
        if ((flags & Clone.NEWPID) != 0) {
            // every task below the init is inside (orphans go to a reaper inside), nested namespaces too:
            // each has its pid at this level, the init's depth in its NSpid (outermost first)
            int depth = nsPid(p, p).size() - 1; // a zombie's status is too short for ProcFs.status
            List<Pid> inside = tree.stream().filter(q -> below(q.value(), p.value(), ppidOf)).toList();
            for (Pid q : inside) {
                for (Pid th : threadsOf(q)) {
                    try {
                        List<Integer> nsPid = nsPid(q, th);
                        tids.put(th.value(), nsPid.get(depth));
                    } catch (KernelException e) {
                        // exited meanwhile: the seize finds out
                    }
                }
            }
            for (Pid q : inside) { // threads that had exited, still the targets of POSIX timers
                try {
                    ExitedTimerTargets.add(p, depth, q, nsPid(q, q), tids);
                } catch (KernelException e) {
                    // exited meanwhile: the seize finds out
                }
            }
            for (Pid q : inside) { // a session or group whose leader exited: its helper takes the leader's pid in here
                try {
                    ProcStat st = ProcFs.stat(q); // a zombie's too: its group's leader may be gone (zdtm's zombie01)
                    leaderGone(st.session(), ProcFs.nsIds(q, q, "NSsid"), depth, tree, tids);
                    leaderGone(st.pgrp(), ProcFs.nsIds(q, q, "NSpgid"), depth, tree, tids); // a group's likewise
                } catch (KernelException e) {
                    // exited meanwhile: the seize finds out
                }
            }
        }
        Integer parent = ppidOf.get(p.value()); // a parent of the tree's forks it at restore, else cryo does
        List<MountImage> mounts = (flags & Clone.NEWNS) != 0
                ? MountScan.scan(p, parent != null && ppidOf.containsKey(parent) ? Pid.of(parent) : null, tmpfsFiles,
                        keptUsers)
                : List.of();
        return new NamespaceImage(p.value(), flags, host, domain, tids, loUp, loAddresses, mounts, ipc, time, pidForChildren,
                netBoundAt);
    }

    /**
     * A process whose main thread has exited while others run on (pthread_exit in main) shows no namespace links at
     * its pid either, and is taken, as a zombie, to be in its parent's: one whose threads are in a namespace of their
     * own came back in its parent's, silently (mainexit.c under unshare --uts: its host name was the host's after).
     */
    private static void refuseExitedLeaderApart(Pid p, String kind, String theirs, String whose) {
        for (Pid t : threadsOf(p)) {
            String live = t.equals(p) ? null : Namespaces.link(p + "/task/" + t, kind);
            if (live != null && theirs != null && !live.equals(theirs)) {
                throw new DumpException("pid " + p + ": its main thread has exited and its threads are in a " + kind
                        + " namespace (" + live + ") other than " + whose + " (" + theirs + "), which a restore would put"
                        + " them in; not supported yet");
            }
            if (live != null) {
                return;
            }
        }
    }

    /** Whether task {@code q} is {@code init} or one of its descendants. */
    private static boolean below(int q, int init, Map<Integer, Integer> ppidOf) {
        for (int at = q, hops = 0; hops <= ppidOf.size(); hops++) {
            if (at == init) {
                return true;
            }
            Integer up = ppidOf.get(at);
            if (up == null) {
                return false;
            }
            at = up;
        }
        return false;
    }

    /** Records the pid at this level of a session or group leader {@code id} that is no task of the tree ({@code nsIds}: NSsid or NSpgid). */
    private static void leaderGone(int id, List<Integer> nsIds, int depth, List<Pid> tree, Map<Integer, Integer> tids) {
        if (nsIds.size() > depth && nsIds.get(0) == id && nsIds.get(depth) > 0 && !tids.containsKey(id)
                && !tree.contains(Pid.of(id))) {
            tids.put(id, nsIds.get(depth));
        }
    }

    /**
     * A thread's NSpid, read alone (ProcFs.nsIds): a zombie left out here had no pid inside, and its
     * restore failed forking it, after a killing dump.
     */
    private static List<Integer> nsPid(Pid p, Pid tid) {
        List<Integer> ids = ProcFs.nsIds(p, tid, "NSpid");
        if (ids.isEmpty()) {
            throw new KernelException(dev.cryo.kernel.ExitedLeaders.proc(p) + "/task/" + tid + "/status: no NSpid line");
        }
        return ids;
    }

    private static List<Pid> threadsOf(Pid p) {
        try {
            List<Pid> t = ProcFs.tasks(p);
            return t.isEmpty() ? List.of(p) : t;
        } catch (KernelException e) {
            return List.of(p);
        }
    }

    private static String host(String kind) {
        String h = Namespaces.link("1", kind);
        return h != null ? h : Namespaces.link("self", kind);
    }
}
