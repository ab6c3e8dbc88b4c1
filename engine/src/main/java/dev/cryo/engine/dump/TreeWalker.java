package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Finds every process of the tree rooted at a pid, parents before children, via /proc children. */
public final class TreeWalker {
    private TreeWalker() {}

    /** The root must exist and be dumpable: not a zombie, not cryo itself. */
    public static void checkRoot(Pid root) {
        if (root.value() == ProcessHandle.current().pid()) {
            throw new DumpException("pid " + root + " is cryo itself");
        }
        ProcStat stat;
        try {
            stat = ProcFs.stat(root);
        } catch (KernelException e) {
            throw new DumpException("no process with pid " + root);
        }
        if ((stat.flags() & ProcStat.PF_KTHREAD) != 0) {
            throw new DumpException("pid " + root + " (" + stat.comm() + ") is a kernel thread: cryo dumps user processes");
        }
        // /proc shows a thread's id as a process too: dumped as one, its whole process was seized and killed
        int process = tgid(root);
        if (process != root.value() && process > 0) {
            throw new DumpException("pid " + root + " is a thread of process " + process + " (" + comm(process)
                    + "): dump the process, -t " + process);
        }
        if (stat.state() == 'Z' || stat.state() == 'X') {
            int threads;
            try {
                threads = ProcFs.tasks(root).size();
            } catch (KernelException e) {
                threads = 0;
            }
            if (threads > 1) {
                return; // its main thread has exited, others run on (pthread_exit in main): the seize reads it through them
            }
            throw new DumpException("pid " + root + " (" + stat.comm() + ") is a zombie: nothing left to dump");
        }
    }

    /** The process thread {@code tid} belongs to; 0 when it cannot be read. */
    private static int tgid(Pid tid) {
        try {
            return ProcFs.status(tid).tgid();
        } catch (KernelException e) {
            return 0;
        }
    }

    private static String comm(int pid) {
        try {
            return ProcFs.stat(Pid.of(pid)).comm();
        } catch (KernelException e) {
            return "?";
        }
    }

    /**
     * Refuses trees cryo must not freeze: init (a dump kills what it dumps) and any tree that
     * holds cryo itself, which would then wait on its own stopped threads forever; and trees cryo
     * cannot carry whole: a namespace it cannot make again (NamespaceScan), tables shared in a way a
     * restore cannot make again. Returns the tables the tree's processes share ({@link SharedTables}).
     */
    public static SharedTables checkTree(Pid root, List<Pid> tree) {
        if (root.value() == 1) {
            throw new DumpException("pid 1 is init: cryo does not dump the whole system");
        }
        Pid self = Pid.of((int) ProcessHandle.current().pid());
        if (tree.contains(self)) {
            throw new DumpException("pid " + root + " is an ancestor of cryo itself (pid " + self
                    + "): cryo cannot dump the tree it runs in");
        }
        dev.cryo.engine.namespaces.NamespaceScan.check(tree);
        checkSessions(tree);
        return SharedTables.of(root, tree);
    }

    /**
     * A task of a frozen cgroup stops for nobody: the seize waited for it forever. Frozen is the v2
     * cgroup.freeze (its own or an ancestor's: cgroup.events says) or the v1 freezer's freezer.state
     * (FROZEN or FREEZING; it counts ancestors too). Refused, naming pid and cgroup: thaw it first (the
     * frozen state is not carried). Checked once, before the seize: with --freeze-cgroup cryo freezes
     * the tree's cgroup itself after this.
     */
    public static void checkNotFrozen(List<Pid> tree) {
        dev.cryo.engine.cgroups.CgroupMounts mounts = null;
        for (Pid p : tree) {
            String cgroups;
            try {
                cgroups = ProcFs.text(p.procDir() + "/cgroup");
            } catch (KernelException gone) {
                continue; // the seize finds out
            }
            for (String line : cgroups.split("\n")) {
                String[] f = line.split(":", 3);
                boolean v2 = f.length == 3 && f[1].isEmpty();
                if (f.length < 3 || !v2 && !java.util.Arrays.asList(f[1].split(",")).contains("freezer")) {
                    continue;
                }
                mounts = mounts != null ? mounts : dev.cryo.engine.cgroups.CgroupMounts.read();
                String state = mounts.dir(v2 ? "" : "freezer", f[2]).map(dir -> frozenState(dir, v2)).orElse(null);
                if (state != null) {
                    throw new DumpException("pid " + p + " (" + ProcFs.stat(p).comm() + ") is in cgroup "
                            + (v2 ? "" : "freezer:") + f[2] + ", which is frozen (" + state
                            + "): a frozen task cannot be seized; thaw it first (a frozen cgroup is not carried)");
                }
            }
        }
    }

    /** Why the cgroup at {@code dir} is frozen, or null; a file it lacks (a root cgroup has none) is not frozen. */
    private static String frozenState(java.nio.file.Path dir, boolean v2) {
        try {
            if (v2) {
                return ProcFs.text(dir + "/cgroup.events").contains("frozen 1")
                        || ProcFs.text(dir + "/cgroup.freeze").strip().equals("1") ? "cgroup.freeze 1" : null;
            }
            String state = ProcFs.text(dir + "/freezer.state").strip();
            return state.equals("THAWED") ? null : "freezer.state " + state;
        } catch (KernelException none) {
            return null;
        }
    }

    /**
     * A restore forks each task from its parent after the parent has made its own session: a task
     * comes back in its parent's session unless it leads one, and in its parent's process group
     * unless it leads one or its group's leader is in the tree. A live child its parent forked before
     * making its own session, still in the session the parent was born in, is forked again before that
     * (RestoreSupervisor.earlyOf), at any depth: the parent is then born in that session too, forked
     * early by its own parent if need be ({@link BirthSessions}). A live child in the session of a leader that has exited (a daemon
     * that forked, called setsid and forked again, its grandchild reparented to a subreaper) is
     * forked by a helper that takes the dead leader's pid and makes that session again
     * ({@link #inDeadSession}), and in a group of that session whose leader has exited too by a
     * second helper under it ({@link #groupGoneInDeadSession}); one in the session a live sibling leads
     * is forked by that sibling ({@link #inLiveSiblingsSession}); one left in its parent's session in
     * the group of a leader that has exited is forked by a helper at that leader's pid that makes the
     * group ({@link #groupLeaderGone}); an orphan its parent reaped, in the session of a live task
     * further down, is forked by a helper of that leader that exits ({@link #adoptedFromALiveSession}).
     * A task whose session or group is none of these would come back in another: refused, naming it.
     */
    static void checkSessions(List<Pid> tree) {
        java.util.Map<Integer, ProcStat> stats = new java.util.HashMap<>();
        for (Pid p : tree) {
            try {
                stats.put(p.value(), ProcFs.stat(p));
            } catch (KernelException e) {
                // gone meanwhile: found by the seize
            }
        }
        java.util.Map<Integer, Integer> deadSessionParent = new java.util.HashMap<>();
        java.util.Map<Integer, Integer> deadGroupParent = new java.util.HashMap<>();
        java.util.Map<Integer, String> names = new java.util.HashMap<>();
        stats.values().forEach(s -> names.put(s.pid(), s.comm()));
        BirthSessions births = BirthSessions.of(stats.values().stream().filter(s -> s.state() != 'Z')
                .map(s -> new BirthSessions.Task(s.pid(), s.ppid(), s.session())).toList(), names,
                sid -> !stats.containsKey(sid));
        for (ProcStat t : stats.values()) {
            ProcStat parent = stats.get(t.ppid());
            if (parent == null) {
                continue; // the root: its session and group are handled as a whole
            }
            ProcStat grand = stats.get(parent.ppid());
            boolean forkedBeforeSetsid = t.state() != 'Z' && grand != null && grand.pid() != parent.pid()
                    && births.early(parent.pid(), parent.session(), t.pid());
            Integer born = births.of(t.pid());
            if (t.state() != 'Z' && t.session() == t.pid() && born != null && born != parent.session() && !forkedBeforeSetsid) {
                throw new DumpException("pid " + t.pid() + " (" + t.comm() + ") leads its session and forked children"
                        + " before making it, which are still in session " + born + "; its parent (pid " + parent.pid()
                        + ", session " + parent.session() + ") could not fork it in that session again: not supported yet");
            }
            Integer parentBorn = births.deadBirth(parent.pid());
            boolean bornToHelpersChild = forkedBeforeSetsid && parentBorn != null && parentBorn == t.session();
            if (bornToHelpersChild) { // its parent is forked by that session's helper under the grandparent
                if (!sessionLeaderGone(t, parent, stats)) {
                    throw new DumpException("pid " + t.pid() + " (" + t.comm() + ") is in session " + t.session()
                            + ", which its parent (pid " + parent.pid() + ") was in when it forked it, led by pid "
                            + t.session() + " outside the tree; a restore could not fork it in that session: not supported");
                }
                Integer other = deadSessionParent.putIfAbsent(t.session(), grand.pid());
                if (other != null && other != grand.pid()) {
                    throw new DumpException("pid " + parent.pid() + " (" + parent.comm() + ") was born in session "
                            + t.session() + ", whose leader has exited, as are children of pid " + other + "; a restore"
                            + " makes such a session again for the children of one parent only: not supported yet");
                }
            }
            boolean sessionGone = sessionLeaderGone(t, parent, stats) && !forkedBeforeSetsid;
            boolean nestedGroup = sessionGone && groupGoneInDeadSession(t, stats);
            boolean deadSession = sessionGone && (t.pgrp() == t.session() || t.pgrp() == t.pid() || nestedGroup);
            if (deadSession) {
                Integer other = deadSessionParent.putIfAbsent(t.session(), parent.pid());
                if (other != null && other != parent.pid()) {
                    throw new DumpException("pid " + t.pid() + " (" + t.comm() + ") is in session " + t.session()
                            + ", whose leader has exited, as are children of pid " + other + "; a restore makes"
                            + " such a session again for the children of one parent only: not supported yet");
                }
            } else if (!sessionGone && t.session() != t.pid() && t.session() != parent.session() && !forkedBeforeSetsid
                    && !inZombieSiblingsSession(t, parent, stats) && !inLiveSiblingsSession(t, parent, stats)
                    && !adoptedFromAZombiesSession(t, parent, stats) && !adoptedFromALiveSession(t, parent, stats)) {
                throw new DumpException("pid " + t.pid() + " (" + t.comm() + ") is in session " + t.session()
                        + ", not its parent's (pid " + parent.pid() + ", session " + parent.session() + "), and does not"
                        + " lead it (its parent made a new session after forking it, or it was reparented); a restore"
                        + " would put it in its parent's session: not supported yet");
            }
            boolean deadGroup = groupLeaderGone(t, parent, stats);
            if (deadGroup) {
                Integer other = deadGroupParent.putIfAbsent(t.pgrp(), parent.pid());
                if (other != null && other != parent.pid()) {
                    throw new DumpException("pid " + t.pid() + " (" + t.comm() + ") is in process group " + t.pgrp()
                            + ", whose leader has exited, as are children of pid " + other + "; a restore makes"
                            + " such a group again for the children of one parent only: not supported yet");
                }
            } else if (t.pgrp() != t.pid() && t.pgrp() != parent.pgrp() && !stats.containsKey(t.pgrp())
                    && !(deadSession && (t.pgrp() == t.session() || nestedGroup))
                    && !(bornToHelpersChild && t.pgrp() == t.session())) {
                throw new DumpException("pid " + t.pid() + " (" + t.comm() + ") is in process group " + t.pgrp()
                        + ", whose leader is not in the tree and which is not its parent's (pid " + parent.pid()
                        + ", group " + parent.pgrp() + "); a restore could not make that group again: not supported yet");
            }
        }
    }

    /**
     * A live task in the session of a zombie of its parent that led it (zdtm's session03: the leader
     * made its session, forked it with CLONE_PARENT and exited, unreaped): the restore forks the
     * zombie-to-be, which makes the session and forks the task, then dies, leaving it to its parent
     * (RestoreSupervisor.zombieSessionsOf).
     */
    private static boolean inZombieSiblingsSession(ProcStat t, ProcStat parent, java.util.Map<Integer, ProcStat> tree) {
        ProcStat leader = tree.get(t.session());
        return t.state() != 'Z' && leader != null && leader.state() == 'Z' && leader.ppid() == parent.pid()
                && leader.session() == leader.pid();
    }

    /**
     * A live orphan the pid namespace's init adopted, in the session of a zombie further down that led
     * it (zdtm's zombie_leader, ns flavor: L made its session, forked the task and exited, its parent
     * never reaping it): the restore forks the zombie-to-be, which makes the session and forks the task,
     * and when the zombie dies (ZOMBIES) the kernel gives the task to the init, as it did
     * (RestoreSupervisor.zombieSessionsOf). Only when no task between them takes it first: no other
     * init on the way, and none that a zombie session of its own children makes a subreaper for
     * that time (StubAdoption.forkInZombieSession).
     */
    static boolean adoptedFromAZombiesSession(ProcStat t, ProcStat parent, java.util.Map<Integer, ProcStat> tree) {
        ProcStat leader = tree.get(t.session());
        if (t.state() == 'Z' || leader == null || leader.state() != 'Z' || leader.session() != leader.pid()
                || leader.ppid() == parent.pid() || !initOfItsPidNamespace(parent.pid())) {
            return false;
        }
        for (ProcStat at = tree.get(leader.ppid()); at != null; at = tree.get(at.ppid())) {
            if (at.pid() == parent.pid()) {
                return true;
            }
            if (initOfItsPidNamespace(at.pid()) || reapsForAZombiesSession(at, tree)) {
                return false;
            }
        }
        return false;
    }

    /**
     * A live orphan its parent reaped, a subreaper or its pid namespace's init, in the session a live
     * task further down leads (zdtm's child_subreaper_and_reparent; a daemon's worker under tini or a
     * supervisor: its creator in that session exited): the restore has the leader fork a helper, which
     * forks the task and exits, so the kernel gives it to the parent again (StubAdoption.forkOrphan).
     * Only when no task on the way down to the leader is a pid namespace's init, which would take it,
     * and the leader's children are in its own pid namespace, as the helper must be (its pid is chosen at
     * every level; inside a user namespace of the tree's, cryo's level from ns_last_pid).
     */
    static boolean adoptedFromALiveSession(ProcStat t, ProcStat parent, java.util.Map<Integer, ProcStat> tree) {
        ProcStat leader = tree.get(t.session());
        if (t.state() == 'Z' || leader == null || leader.state() == 'Z' || leader.pid() == t.pid()
                || leader.session() != leader.pid() || leader.ppid() == parent.pid()) {
            return false;
        }
        try {
            if (!nsLink(leader.pid(), "pid").equals(nsLink(leader.pid(), "pid_for_children"))) {
                return false;
            }
        } catch (java.io.IOException e) {
            return false;
        }
        for (ProcStat at = leader; at != null; at = tree.get(at.ppid())) {
            if (at.ppid() == parent.pid()) {
                return !initOfItsPidNamespace(at.pid());
            }
            if (initOfItsPidNamespace(at.pid())) {
                return false;
            }
        }
        return false;
    }

    private static boolean initOfItsPidNamespace(int pid) {
        try {
            List<Integer> ids = ProcFs.nsIds(Pid.of(pid), Pid.of(pid), "NSpid");
            return ids.size() > 1 && ids.get(ids.size() - 1) == 1;
        } catch (KernelException e) {
            return false;
        }
    }

    /** Whether {@code a} has live children in the session of a zombie child of its that led it ({@link #inZombieSiblingsSession}). */
    private static boolean reapsForAZombiesSession(ProcStat a, java.util.Map<Integer, ProcStat> tree) {
        return tree.values().stream().anyMatch(c -> c.ppid() == a.pid() && inZombieSiblingsSession(c, a, tree));
    }

    /**
     * A live task in the session of a live sibling that leads it (zdtm's session01 in a container: an
     * orphan the namespace's init adopted, in the session of the init's child): the restore forks it
     * from that sibling once the sibling made its session, with CLONE_PARENT
     * (RestoreSupervisor.siblingsInSessionOf).
     */
    private static boolean inLiveSiblingsSession(ProcStat t, ProcStat parent, java.util.Map<Integer, ProcStat> tree) {
        ProcStat leader = tree.get(t.session());
        return t.state() != 'Z' && leader != null && leader.state() != 'Z' && leader.pid() != t.pid()
                && leader.ppid() == parent.pid() && leader.session() == leader.pid();
    }

    /**
     * A live task in a session that is not its parent's and whose leader has exited: when it is in
     * that session's group or leads its own, the restore's helper takes the leader's pid, makes the
     * session, forks the task and exits, leaving the task to its parent
     * (RestoreSupervisor.deadSessionsOf); a zombie too, in that session's group (zdtm's
     * helper_zombie_child), which dies there later. The parent's children go to its own pid namespace, and
     * there the leader's pid is known: cryo's, or one of the tree's whose leader was inside it
     * (NamespaceScan records that pid).
     */
    private static boolean sessionLeaderGone(ProcStat t, ProcStat parent, java.util.Map<Integer, ProcStat> tree) {
        int sid = t.session();
        if ((t.state() == 'Z' && t.pgrp() != sid) || sid <= 1 || sid == t.pid() || sid == parent.session() || tree.containsKey(sid)
                || dev.cryo.kernel.Sys.exists(Pid.of(sid))) {
            return false;
        }
        return leaderPidKnown(parent, () -> ProcFs.nsIds(Pid.of(t.pid()), Pid.of(t.pid()), "NSsid"));
    }

    /**
     * Whether the parent's children go to its own pid namespace and the pid of a leader that has exited is known
     * there: cryo's namespace, or one of the tree's, in which the task's {@code nsIds} (its NSsid or NSpgid, read
     * only then) name the leader (NamespaceScan records that pid).
     */
    private static boolean leaderPidKnown(ProcStat parent, java.util.function.Supplier<List<Integer>> nsIds) {
        try {
            String own = nsLink(parent.pid(), "pid");
            if (!own.equals(nsLink(parent.pid(), "pid_for_children"))) {
                return false;
            }
            if (own.equals(java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid")).toString())) {
                return true;
            }
            List<Integer> ids = nsIds.get();
            return ids.size() > 1 && ids.get(ids.size() - 1) > 0;
        } catch (java.io.IOException | KernelException e) {
            return false;
        }
    }

    /**
     * A live task in a session whose leader has exited ({@link #sessionLeaderGone}), in a group of
     * that session whose leader has exited too (a job of a shell that a daemon ran): the session's
     * helper forks a second helper at the group leader's pid, which makes the group and forks the
     * task (StubAdoption.forkInDeadSession). Only in cryo's pid namespace, where that pid is known.
     */
    private static boolean groupGoneInDeadSession(ProcStat t, java.util.Map<Integer, ProcStat> tree) {
        int pgid = t.pgrp();
        if (pgid <= 1 || pgid == t.pid() || pgid == t.session() || tree.containsKey(pgid)
                || dev.cryo.kernel.Sys.exists(Pid.of(pgid))) {
            return false;
        }
        try {
            String own = nsLink(t.ppid(), "pid");
            return own.equals(nsLink(t.ppid(), "pid_for_children"))
                    && own.equals(java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid")).toString());
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /**
     * A task in its parent's session, in a process group whose leader has exited and was reaped
     * (zdtm's session01: a group leader gone, a member left; zombie01: the member a zombie): the
     * restore's helper takes the leader's pid, makes the group, forks the task (a zombie-to-be
     * too) and exits, leaving it to its parent (RestoreSupervisor.deadGroupsOf). Only where the
     * leader's pid is known in the pid namespace of the parent's children, as for a session.
     */
    private static boolean groupLeaderGone(ProcStat t, ProcStat parent, java.util.Map<Integer, ProcStat> tree) {
        int pgid = t.pgrp();
        if (pgid <= 1 || pgid == t.pid() || pgid == parent.pgrp() || t.session() != parent.session()
                || tree.containsKey(pgid) || dev.cryo.kernel.Sys.exists(Pid.of(pgid))) {
            return false;
        }
        return leaderPidKnown(parent, () -> ProcFs.nsIds(Pid.of(t.pid()), Pid.of(t.pid()), "NSpgid")); // a zombie's too
    }

    private static String nsLink(int pid, String ns) throws java.io.IOException {
        return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/ns/" + ns)).toString();
    }

    /**
     * A dump that kills the tree must leave its pids free for a restore here. A process outside
     * the tree that still has a tree pid as its session or process group id (a daemon's
     * double-forked grandchild, a job left in the group) keeps that pid number taken in the kernel
     * after the tree is gone, so the restore could not create it again: refused, naming both.
     */
    public static void checkOutsiders(List<Pid> tree) {
        Set<Integer> ours = new java.util.HashSet<>();
        tree.forEach(p -> ours.add(p.value()));
        Set<Integer> exclude = new java.util.HashSet<>(ours);
        exclude.add((int) ProcessHandle.current().pid());
        java.util.Optional<dev.cryo.kernel.proc.ProcStat> outsider = dev.cryo.kernel.proc.GroupMembers.outside(ours, exclude);
        // a child forked by the running tree since it was walked is not outside: it joins the tree
        // (the seize re-scans). A tree that keeps forking outruns any re-walk, so each holder found
        // is judged by its own ancestry.
        while (outsider.isPresent() && descendsFrom(outsider.get(), ours)) {
            exclude.add(outsider.get().pid());
            outsider = dev.cryo.kernel.proc.GroupMembers.outside(ours, exclude);
        }
        outsider.ifPresent(st -> {
            int id = ours.contains(st.session()) ? st.session() : st.pgrp();
            String role = dev.cryo.kernel.proc.GroupMembers.role(st, id);
            throw new DumpException("pid " + id + ": it is the " + role + " id of pid " + st.pid() + " (" + st.comm()
                    + "), which is not in the tree; the kernel keeps pid " + id + " taken while pid " + st.pid()
                    + " lives, so a restore could not create it again (dump the tree that holds both, or use"
                    + " --leave-running)");
        });
    }

    /** Whether a process's parent chain leads into {@code tree}. */
    private static boolean descendsFrom(dev.cryo.kernel.proc.ProcStat st, Set<Integer> tree) {
        int ppid = st.ppid();
        for (int hops = 0; ppid > 1 && hops < 4096; hops++) {
            if (tree.contains(ppid)) {
                return true;
            }
            try {
                ppid = ProcFs.stat(Pid.of(ppid)).ppid();
            } catch (KernelException e) {
                return false; // its parent is gone: it was reparented, outside
            }
        }
        return false;
    }

    public static List<Pid> walk(Pid root) {
        Set<Pid> seen = new LinkedHashSet<>();
        Deque<Pid> queue = new ArrayDeque<>(List.of(root));
        while (!queue.isEmpty()) {
            Pid p = queue.poll();
            if (!seen.add(p)) {
                continue;
            }
            try {
                queue.addAll(ProcFs.children(p));
            } catch (KernelException e) {
                if (p.equals(root)) {
                    throw new DumpException("no process with pid " + root);
                }
                seen.remove(p); // exited while we looked: nothing to dump
            }
        }
        return new ArrayList<>(seen);
    }
}
