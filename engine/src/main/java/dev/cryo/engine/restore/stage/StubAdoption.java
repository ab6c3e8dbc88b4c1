package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Ptrace;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.RseqConfig;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.List;

/**
 * ADOPT and FORK: takes the stub that becomes the task (a fresh spawn, or a child handed over in
 * the bootstrap's pause loop) and forks the task's children with their exact pids.
 */
public final class StubAdoption {
    public static final int TRACE_OPTIONS = Ptrace.O_TRACESYSGOOD | Ptrace.O_TRACEFORK | Ptrace.O_TRACECLONE
            | Ptrace.O_EXITKILL;

    private StubAdoption() {}

    /**
     * Seizes the stub, drops its rseq registration, and makes sure the bootstrap area is mapped;
     * from then on syscalls are injected through the bootstrap gadget.
     */
    public static void adopt(TaskContext t, boolean mapBootstrap) {
        Tracer tracer = t.tracer();
        Pid pid = t.pid();
        BootstrapArea boot = t.boot();
        if (t.seized()) { // held since the source froze by the thread this runs on: no let-go, seize nor wait here
            tracer.setOptions(pid.value(), TRACE_OPTIONS);
        } else {
            tracer.seizeAndInterrupt(pid.value(), TRACE_OPTIONS);
            tracer.waitForStop(pid.value());
        }
        // no signal reaches the stub while it is being restored: the zombies' death notices wait
        // pending until ZombieNotices takes them back, and the dumped mask is installed at the end
        tracer.setSigmask(pid.value(), -1L);
        Injector main = new Injector(tracer, pid, pid.value(), mapBootstrap ? SyscallGadget.inVdso(pid) : boot.gadget());
        main.keepRegistersOnClose();
        t.main(main);
        int xstate = tracer.getXstate(pid.value()).length;
        for (ThreadImage th : t.task().threads()) {
            if (th.xstate().length != xstate) {
                throw new RestoreException("the image was dumped on a CPU with a " + th.xstate().length
                        + "-byte XSAVE area, this one has " + xstate + ": restore on a machine with the same CPU features");
            }
        }
        dropRseq(tracer, pid.value(), main); // a migration's stub had it dropped as its first areas were placed
        // a prepared stub dies with the agent (StubParent) until STATE sets the task's own
        // parent-death signal (CredentialResetFlags), in a batch: the tracer's EXITKILL does as much
        if (t.prepared() != null) { // placed areas the task no longer has as they were go before anything is mapped
            List<long[]> kept = t.prepared().kept(t.task().vmas());
            for (var a : t.prepared().placed().entrySet()) {
                if (kept.stream().noneMatch(k -> k[0] == a.getKey() && k[1] == a.getValue())) {
                    main.call("munmap(placed area)", SyscallNr.MUNMAP, a.getKey(), a.getValue() - a.getKey());
                }
            }
        }
        // a task exec'd without address randomization (setarch -R, a program that re-execs itself so):
        // only an exec under that personality clears PF_RANDOMIZE and lays out the mmap base it had
        boolean fixedLayout = (t.task().personality() & Prctl.ADDR_NO_RANDOMIZE) != 0;
        long premapped = t.prepared() == null ? 0 : t.prepared().bootstrap();
        if (mapBootstrap && premapped == boot.address()) { // mapped while the pre-copy arrived: no call in the downtime
            dev.cryo.kernel.Sys.write(pid, boot.address(), BootstrapArea.CODE);
            main.gadget(boot.gadget());
        } else if (mapBootstrap) {
            if (premapped != 0) { // a VMA of the image is in its way
                main.call("munmap(bootstrap mapped before)", SyscallNr.MUNMAP, premapped, BootstrapArea.CODE_AND_DATA);
            }
            StubExec.mapBootstrap(main, pid, boot);
        }
        if (mapBootstrap ? fixedLayout && t.prepared() == null : t.task().execed()) {
            // a forked child that ran a program: only an exec clears its PF_FORKNOEXEC
            if (fixedLayout) {
                main.call("personality(ADDR_NO_RANDOMIZE)", SyscallNr.PERSONALITY, Prctl.ADDR_NO_RANDOMIZE);
            }
            main = StubExec.exec(tracer, main, pid, boot, t.task().exe() == null ? null : t.task().exe().path());
            main.keepRegistersOnClose();
            t.main(main);
        }
    }

    /** A stub that ran glibc has rseq registered on memory the restore unmaps: unregistered before. */
    public static void dropRseq(Tracer tracer, int tid, Injector inj) {
        RseqConfig rseq = tracer.getRseq(tid);
        if (rseq.registered()) {
            inj.call("rseq(unregister)", SyscallNr.RSEQ, rseq.address(), rseq.size(), RseqConfig.FLAG_UNREGISTER,
                    rseq.signature());
        }
    }

    /**
     * Forks a child of this stub with the exact pid it had (and the signal its death sends), then parks it in the pause loop and
     * lets it go, so the child's own tracer thread can seize it. {@code cloneFlags}: the tables the
     * child shares with this task (CLONE_FILES: one fd table, which this task restores; CLONE_FS).
     */
    public static void forkChild(TaskContext t, int childPid, int exitSignal, int cloneFlags) {
        // a child that made namespaces is forked into new ones; inside a pid namespace it has a pid per level
        long flags = (cloneFlags | t.namespaces().flagsOf(childPid)) & 0xffffffffL;
        int cryoFd = t.namespaces().cryoFd();
        boolean handsPidfd = t.namespaces().bornInNewPidNamespace(childPid) && !t.namespaces().insidePidNamespace(t.pid().value());
        if (t.namespaces().unsharesPidNamespaceFor(t.pid().value(), childPid)) { // unshare --pid --fork: as it was made
            t.call("unshare(CLONE_NEWPID)", SyscallNr.UNSHARE, dev.cryo.kernel.Clone.NEWPID);
        }
        if (handsPidfd) { // the namespace's init inherits a pidfd of cryo (TreeNamespaces.cryoFd)
            long self = t.call("pidfd_open(cryo)", SyscallNr.PIDFD_OPEN, ProcessHandle.current().pid(), 0);
            t.call("dup3(pidfd of cryo)", SyscallNr.DUP3, self, cryoFd, 0);
            t.call("close", SyscallNr.CLOSE, self);
        }
        try {
            cloneAt(t, t.main(), t.pid(), flags, exitSignal, childPid);
        } finally {
            if (handsPidfd) {
                t.call("close(pidfd of cryo)", SyscallNr.CLOSE, cryoFd);
            }
        }
        park(t, childPid);
    }

    /**
     * A sibling in the session this task leads, not its own to lead (zdtm's session01 in a container:
     * an orphan the namespace's init adopted, in the session of the init's child): forked by this task
     * after it made its session, with CLONE_PARENT, so it is in the session and the parent is theirs.
     */
    public static void forkSibling(TaskContext t, int siblingPid) {
        cloneAt(t, t.main(), t.pid(), dev.cryo.kernel.Clone.PARENT, 0, siblingPid);
        park(t, siblingPid);
    }

    /**
     * A child (or thread) that clone3 gave {@code forker} ({@code r}, as the forker sees it; {@code
     * got}, its tracees) and that must go before it runs anything of its own: it exits, and a
     * process is reaped by the forker, which takes back the signal {@code exitSignal} its exit
     * queued (the stub blocks every signal now). A thread leaves no trace.
     */
    public static void dropUnrun(TaskContext t, Injector forker, boolean thread, int exitSignal, long r, List<Integer> got) {
        for (int other : got) {
            t.tracer().waitForStop(other);
            Registers regs = t.tracer().getRegisters(other);
            t.tracer().setRegisters(other, regs.forSyscall(t.boot().gadget(), SyscallNr.EXIT, new long[] {0}));
            t.tracer().detach(other, other);
        }
        if (!thread) {
            forker.call("wait4(unrun child " + r + ")", SyscallNr.WAIT4, r, 0, dev.cryo.kernel.Sys.WALL, 0);
            if (exitSignal > 0) {
                long set = t.put(2048, new RemoteWriter(24).longs(1L << (exitSignal - 1), 0, 0).toBytes());
                forker.raw(SyscallNr.RT_SIGTIMEDWAIT, set, 0, set + 8, 8);
            }
        }
    }

    /**
     * Runs {@code whileThere} while children this task forks at {@code pids} (numbers no task of the
     * tree has) stand stopped at their birth: stand-ins of exited processes whose /proc directories
     * the task enters, which a task of another user namespace may do only in its own children's
     * (fdinfo asks ptrace rights). Then each exits unrun and the task reaps it, no signal queued.
     * The caller has run the task's queue: the clone's arguments go where its stashes are.
     */
    public static void withChildrenAt(TaskContext t, List<Integer> pids, Runnable whileThere) {
        List<Integer> made = new java.util.ArrayList<>();
        try {
            for (int pid : pids) {
                cloneAt(t, t.main(), t.pid(), 0, 0, pid);
                made.add(pid);
            }
            whileThere.run();
        } finally {
            for (int pid : made) {
                dropUnrun(t, t.main(), false, 0, t.namespaces().returnedTo(t.pid().value(), pid), List.of(pid));
                t.forked().remove(Integer.valueOf(pid));
            }
        }
    }

    /** A new child, stopped at its birth, left in the bootstrap's pause loop for its own tracer thread. */
    private static void park(TaskContext t, int childPid) {
        t.tracer().waitForStop(childPid);
        var user = t.namespaces().userNamespaceMadeBy(childPid);
        if (user.isPresent()) { // its maps, before it runs anything
            try (Injector child = new Injector(t.tracer(), Pid.of(childPid), childPid, t.boot().gadget())) {
                var outer = t.namespaces().userNamespaceOf(t.pid().value());
                if (outer.isPresent()) { // nested in this task's
                    dev.cryo.engine.namespaces.UserNamespaceRestore.bornNested(childPid, user.get(), outer.get(), child);
                } else {
                    dev.cryo.engine.namespaces.UserNamespaceRestore.born(childPid, user.get(), child);
                }
            }
        }
        parkStopped(t, childPid);
    }

    private static void parkStopped(TaskContext t, int childPid) {
        Tracer tracer = t.tracer();
        Registers regs = tracer.getRegisters(childPid);
        tracer.setRegisters(childPid, regs.with(Registers.RIP, t.boot().pauseLoop()).with(Registers.ORIG_RAX, -1));
        tracer.detach(childPid, childPid);
    }

    /**
     * Forks children that were in a session whose leader had exited (a daemon's grandchildren,
     * reparented to this task, a subreaper), as CRIU's helper tasks do: a helper forked at the
     * leader's pid, whose death signals nobody, makes the session (and the group of the same id),
     * forks them with their exact pids and is killed; this task, a subreaper for that instant,
     * inherits them and reaps the helper. In a pid namespace of the tree's, the helper takes the
     * leader's pid there too (NamespaceScan recorded it).
     */
    public static void forkInDeadSession(TaskContext t, int sid, List<Integer> children) {
        forkInDeadSession(t, sid, children, java.util.Map.of());
    }

    /**
     * As above; {@code deadGroups}: the children in a group of that session whose leader had exited
     * too, with its id: the helper forks a second one at that pid, which makes the group and forks
     * them, and goes first (this task, a subreaper already, inherits them).
     */
    public static void forkInDeadSession(TaskContext t, int sid, List<Integer> children, java.util.Map<Integer, Integer> deadGroups) {
        forkByHelper(t, sid, children, true, java.util.Map.of(), deadGroups);
    }

    /**
     * As {@link #forkInDeadSession}, for children left in this task's session in a process group
     * whose leader had exited (zdtm's session01; zombie01, a zombie-to-be among them, its death
     * sending its own {@code exitSignals} entry): the helper at the leader's pid makes the group
     * instead of a session.
     */
    public static void forkInDeadGroup(TaskContext t, int pgid, List<Integer> children, java.util.Map<Integer, Integer> exitSignals) {
        forkByHelper(t, pgid, children, false, exitSignals, java.util.Map.of());
    }

    /**
     * Forks a zombie-to-be that led its session and the live children of this task left in it
     * (zdtm's session03: the leader made its session, forked them with CLONE_PARENT and exited, not
     * reaped): the zombie is forked at its pid, makes the session (its group too) and forks them; this
     * task is a subreaper from now on (STATE puts its own setting back), so when the zombie dies
     * (ZOMBIES) they come to it, their parent. Without {@code ownChildren} they are orphans their pid
     * namespace's init had adopted (zdtm's zombie_leader): this task stays no subreaper, and they go
     * to the init again.
     */
    public static void forkInZombieSession(TaskContext t, int zombie, int exitSignal, List<Integer> children,
                                           boolean ownChildren) {
        Pid leader = Pid.of(zombie);
        cloneAt(t, t.main(), t.pid(), 0, exitSignal, zombie);
        t.tracer().waitForStop(zombie);
        try (Injector z = new Injector(t.tracer(), leader, zombie, t.boot().gadget())) {
            z.call("setsid", SyscallNr.SETSID);
            for (int child : children) {
                cloneAt(t, z, leader, 0, dev.cryo.kernel.Signals.SIGCHLD, child);
                park(t, child);
            }
        }
        if (ownChildren) {
            t.call("prctl(PR_SET_CHILD_SUBREAPER, 1)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_CHILD_SUBREAPER, 1);
        }
        parkStopped(t, zombie);
    }

    private static void forkByHelper(TaskContext t, int sid, List<Integer> children, boolean session,
                                     java.util.Map<Integer, Integer> exitSignals, java.util.Map<Integer, Integer> deadGroups) {
        Tracer tracer = t.tracer();
        Pid helper = Pid.of(sid);
        cloneAt(t, t.main(), t.pid(), 0, 0, sid);
        tracer.waitForStop(sid);
        try (Injector h = new Injector(tracer, helper, sid, t.boot().gadget())) {
            if (session) {
                h.call("setsid", SyscallNr.SETSID);
            } else {
                h.call("setpgid", SyscallNr.SETPGID, 0, 0);
            }
            for (int child : children) {
                if (!deadGroups.containsKey(child)) {
                    cloneAt(t, h, helper, 0, exitSignals.getOrDefault(child, dev.cryo.kernel.Signals.SIGCHLD), child);
                    park(t, child);
                }
            }
            if (!deadGroups.isEmpty()) { // their group helpers go first: their children come to this task
                t.call("prctl(PR_SET_CHILD_SUBREAPER, 1)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_CHILD_SUBREAPER, 1);
            }
            for (int pgid : new java.util.TreeSet<>(deadGroups.values())) {
                forkInGroupOf(t, h, helper, pgid, children.stream().filter(c -> deadGroups.get(c) != null
                        && deadGroups.get(c) == pgid).toList(), exitSignals);
            }
        }
        // the helper goes; its children come to this task, a subreaper until they have
        t.call("prctl(PR_SET_CHILD_SUBREAPER, 1)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_CHILD_SUBREAPER, 1);
        parkStopped(t, sid);
        dev.cryo.kernel.Sys.kill(helper, dev.cryo.kernel.Signals.SIGKILL);
        t.call("wait4(helper " + sid + ")", SyscallNr.WAIT4, t.seen(sid), 0, dev.cryo.kernel.Sys.WALL, 0);
        t.forked().remove(Integer.valueOf(sid));
        // the task's own setting comes back in STATE (CredentialResetFlags)
        t.call("prctl(PR_SET_CHILD_SUBREAPER, 0)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_CHILD_SUBREAPER, 0);
        for (int child : children) {
            int ppid = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(child)).ppid();
            if (ppid != t.pid().value()) {
                throw new RestoreException("pid " + child + " went to pid " + ppid + " instead of " + t.pid()
                        + " when the helper of its " + (session ? "session " : "process group ") + sid + " exited");
            }
        }
    }

    /**
     * An orphan in the session this task leads that a task further up reaped, its subreaper or its
     * pid namespace's init (zdtm's child_subreaper_and_reparent: its creator in this session exited):
     * as CRIU's helper tasks do, a helper of this task at {@code helperPid} or the first free pid
     * above (no task of the tree has one so high) forks it with its exact pid and is killed; the kernel
     * gives it to the nearest subreaper or init above, {@code parent} (made one for that,
     * RestoreSupervisor.reapsOrphans; none between is one during FORK). This task reaps the helper,
     * whose death signals nobody.
     */
    public static void forkOrphan(TaskContext t, int orphan, int helperPid, int parent) {
        int sid = helperPid;
        for (int tries = 0; dev.cryo.kernel.Sys.exists(Pid.of(sid)) && tries < 64; tries++) {
            sid++;
        }
        Pid helper = Pid.of(sid);
        int[] setTid = t.namespaces().setTidOfExited(t.pid().value(), sid); // the same number at every level
        // inside a user namespace of the tree's cryo's level is left out of it: it comes from ns_last_pid
        int levels = setTid.length + (t.namespaces().userNamespaceOf(t.pid().value()).isPresent() ? 1 : 0);
        cloneAt(t, t.main(), t.pid(), 0, 0, sid, setTid, levels, sid);
        t.tracer().waitForStop(sid);
        try (Injector h = new Injector(t.tracer(), helper, sid, t.boot().gadget())) {
            cloneAt(t, h, helper, 0, dev.cryo.kernel.Signals.SIGCHLD, orphan);
            park(t, orphan);
        }
        parkStopped(t, sid);
        dev.cryo.kernel.Sys.kill(helper, dev.cryo.kernel.Signals.SIGKILL);
        t.call("wait4(helper " + sid + ")", SyscallNr.WAIT4, sid, 0, dev.cryo.kernel.Sys.WALL, 0);
        t.forked().remove(Integer.valueOf(sid));
        int ppid = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(orphan)).ppid();
        if (ppid != parent) {
            throw new RestoreException("pid " + orphan + " went to pid " + ppid + " instead of " + parent
                    + " when the helper that forked it in session " + t.pid() + " exited");
        }
    }

    /**
     * The session helper {@code h} forks a helper at {@code pgid}, which makes that group and forks
     * {@code children} in it; then it is killed and reaped by {@code h}, and they come to this task.
     */
    private static void forkInGroupOf(TaskContext t, Injector h, Pid helper, int pgid, List<Integer> children,
                                      java.util.Map<Integer, Integer> exitSignals) {
        Pid group = Pid.of(pgid);
        cloneAt(t, h, helper, 0, 0, pgid);
        t.tracer().waitForStop(pgid);
        try (Injector g = new Injector(t.tracer(), group, pgid, t.boot().gadget())) {
            g.call("setpgid", SyscallNr.SETPGID, 0, 0);
            for (int child : children) {
                cloneAt(t, g, group, 0, exitSignals.getOrDefault(child, dev.cryo.kernel.Signals.SIGCHLD), child);
                park(t, child);
            }
        }
        parkStopped(t, pgid);
        dev.cryo.kernel.Sys.kill(group, dev.cryo.kernel.Signals.SIGKILL);
        h.call("wait4(group helper " + pgid + ")", SyscallNr.WAIT4, pgid, 0, dev.cryo.kernel.Sys.WALL, 0);
        t.forked().remove(Integer.valueOf(pgid));
    }

    /**
     * clone3 injected through {@code forker} (this task, or its helper {@code forkerPid}): a child
     * with the exact pid {@code childPid} (and its pids in the tree's pid namespaces), in {@code flags}'
     * new namespaces, its death sending {@code exitSignal} (0: none). From its birth on, a failure
     * kills it too. Throws unless it got that pid.
     */
    private static void cloneAt(TaskContext t, Injector forker, Pid forkerPid, long flags, int exitSignal, int childPid) {
        cloneAt(t, forker, forkerPid, flags, exitSignal, childPid, t.namespaces().setTidFrom(t.pid().value(), childPid),
                t.namespaces().setTid(childPid).length, t.namespaces().returnedTo(t.pid().value(), childPid));
    }

    /**
     * As above, with the pid at every level ({@code setTid}, innermost first; shorter than {@code levels}:
     * cryo's from ns_last_pid) and what clone3 returns given.
     */
    private static void cloneAt(TaskContext t, Injector forker, Pid forkerPid, long flags, int exitSignal, int childPid,
                                int[] setTid, int levels, long expected) {
        dev.cryo.engine.timing.SchedHandler.unlifted(t, () -> { // the clone takes its timer slack as its default
            cloneAt(t, forker, forkerPid, flags, exitSignal, childPid, setTid, levels, expected, t.boot());
            return null;
        });
    }

    private static void cloneAt(TaskContext t, Injector forker, Pid forkerPid, long flags, int exitSignal, int childPid,
                                int[] setTid, int levels, long expected, BootstrapArea boot) {
        dev.cryo.kernel.Sys.write(forkerPid, boot.data(), new RemoteWriter(88 + 4 * setTid.length).longs(flags, 0, 0, 0, exitSignal, 0, 0, 0,
                setTid.length > 0 ? boot.data() + 88 : 0, setTid.length, 0).ints(setTid).toBytes());
        long r;
        List<Integer> born = new java.util.ArrayList<>();
        if (setTid.length < levels) { // inside a user namespace: cryo's level by ns_last_pid
            r = NsLastPidFork.fork(t, forker, childPid, false, exitSignal, arm -> forker.rawAtEntry(arm, SyscallNr.CLONE3, boot.data(), 88),
                    born);
        } else {
            var user = t.namespaces().userNamespaceMadeBy(childPid); // made as its owner, from cryo's namespace
            var groups = t.namespaces().groupsAtBirth(childPid);
            List<Integer> had = groups.isEmpty() ? null
                    : dev.cryo.engine.namespaces.UserNamespaceRestore.forkWithGroups(groups.get(), forkerPid.value(), forker);
            try {
                r = user.isEmpty() ? forker.raw(SyscallNr.CLONE3, boot.data(), 88) : dev.cryo.engine.namespaces.UserNamespaceRestore
                        .asOwner(user.get(), forkerPid.value(), forker, () -> forker.raw(SyscallNr.CLONE3, boot.data(), 88));
            } finally {
                if (had != null) {
                    dev.cryo.engine.namespaces.UserNamespaceRestore.setGroups(had, forkerPid.value(), forker);
                }
            }
            born.addAll(t.tracer().takeNewTracees());
        }
        if (born.contains(childPid)) {
            t.forked().add(childPid);
        }
        if (Injector.isError(r)) {
            throw (int) -r == Errno.EEXIST
                    ? dev.cryo.engine.restore.RestoreValidator.pidTaken(childPid)
                    : new SyscallException("clone3(set_tid " + childPid + ") in pid " + forkerPid, (int) -r);
        }
        if (r != expected || !born.contains(childPid)) {
            throw new RestoreException("asked for pid " + childPid + " in pid " + forkerPid + " and got " + r
                    + (expected != childPid ? " (" + expected + " expected, its pid in the pid namespace)" : ""));
        }
    }
}
