package dev.cryo.engine.restore;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.stage.AuditLoginUid;
import dev.cryo.engine.restore.stage.ControllingTerminal;
import dev.cryo.engine.restore.stage.CredentialResetFlags;
import dev.cryo.engine.restore.stage.Credentials;
import dev.cryo.engine.restore.stage.FileLockRestore;
import dev.cryo.engine.restore.stage.MessageQueueNotifications;
import dev.cryo.engine.restore.stage.FileRestore;
import dev.cryo.engine.restore.stage.LeaseBreaks;
import dev.cryo.engine.restore.stage.MemoryMapping;
import dev.cryo.engine.restore.stage.OwnKeyrings;
import dev.cryo.engine.restore.stage.PendingSignals;
import dev.cryo.engine.restore.stage.ProcessState;
import dev.cryo.engine.restore.stage.RegisteredRings;
import dev.cryo.engine.restore.stage.RegisterInstall;
import dev.cryo.engine.restore.stage.SeccompFilters;
import dev.cryo.engine.restore.stage.SessionAndGroup;
import dev.cryo.engine.restore.stage.StateStage;
import dev.cryo.engine.restore.stage.StubAdoption;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.engine.restore.stage.TaskKill;
import dev.cryo.engine.restore.stage.ThreadCreation;
import dev.cryo.engine.restore.stage.ThreadFilesRestore;
import dev.cryo.engine.restore.stage.ThreadFsRestore;
import dev.cryo.engine.restore.stage.ThreadNsRestore;
import dev.cryo.engine.restore.stage.ThreadPidFds;
import dev.cryo.engine.restore.stage.ProcFileOwners;
import dev.cryo.engine.restore.stage.ThreadProcFileReopening;
import dev.cryo.engine.restore.stage.ThreadSignalOwners;
import dev.cryo.engine.restore.stage.ThreadState;
import dev.cryo.engine.restore.stage.ZombieNotices;
import dev.cryo.engine.restore.stage.SignalsHeld;
import dev.cryo.engine.restore.stage.TimerArming;
import dev.cryo.engine.restore.stage.TimerCreation;
import dev.cryo.engine.restore.stage.Scheduling;
import dev.cryo.engine.timing.SchedHandler;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Turns a stub process into one dumped task, from outside, by injected syscalls (the order that
 * was verified on this kernel, see kernel.md). Runs on the task's tracer thread and follows the
 * supervisor's stages, each one a class of {@code dev.cryo.engine.restore.stage} working on one
 * shared {@link TaskContext}: ADOPT/FORK ({@link StubAdoption}), MEMORY ({@link MemoryMapping};
 * page contents are written by others between {@link #mapMemory} and {@link #protectMemory}),
 * FILES ({@link FileRestore}), STATE ({@link #STATE_STAGES}, in order), RESUME, or KILL on failure.
 *
 * <p><b>Adding a stage</b> (timers, scheduling, security, …): write a {@link StateStage} class in
 * the stage package and add one line to {@link #STATE_STAGES}. It goes before
 * {@link SeccompFilters} and {@link Credentials} when it needs privilege (almost everything does);
 * only what a credential change resets goes after them ({@link CredentialResetFlags}), and
 * {@link RegisterInstall} stays the last that injects (only {@link Scheduling}, from outside,
 * follows it). The seccomp filters are installed while the task is still
 * privileged but stay inert until the detach (PTRACE_O_SUSPEND_SECCOMP), so the steps after them
 * are never judged by a filter.
 */
public final class TaskRestorer {
    public static final int TRACE_OPTIONS = StubAdoption.TRACE_OPTIONS;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TaskRestorer.class);

    /** The STATE stage, in order: once memory and files are in place, up to the registers. */
    public static final List<StateStage> STATE_STAGES = List.of(
            new ZombieNotices(),
            new ProcessState(),
            new AuditLoginUid(), // before the threads, which inherit it
            new ThreadCreation(),
            new ThreadFsRestore(), // a thread's own cwd, root and umask, while it may chroot
            new ThreadNsRestore(), // the namespaces a thread made or entered alone, while it may
            new OwnKeyrings(), // once the threads exist: the main thread's thread keyring is its alone
            new ThreadPidFds(),
            new ThreadProcFileReopening(),
            new ThreadSignalOwners(),
            new ThreadState(),
            new RegisteredRings(),
            new FileLockRestore(),
            new MessageQueueNotifications(),
            // new stages that need privilege go here
            new TimerCreation(),
            new SeccompFilters(),
            new Credentials(),
            new CredentialResetFlags(),
            new ProcFileOwners(), // once the task is who it was
            new SignalsHeld(),
            new LeaseBreaks(),
            new PendingSignals(),
            new TimerArming(),
            new dev.cryo.engine.restore.stage.SignalQueueLimit(), // once its signals are queued and its timers made
            new ThreadFilesRestore(), // a thread's own fd table, once its process's is final
            new RegisterInstall(),
            new Scheduling()); // from outside, once no call is injected

    private final TaskContext t;
    /** The reopened pseudo-terminals, from ADOPT (null when the caller has none). */
    private PtyHub ptys;

    /** {@code treePids}: every pid of the image; groups and sessions led from outside it are not recreated. */
    public TaskRestorer(Tracer tracer, TaskImage task, BootstrapArea boot, Set<Integer> treePids) {
        this(tracer, task, boot, treePids, dev.cryo.engine.namespaces.TreeNamespaces.NONE);
    }

    public TaskRestorer(Tracer tracer, TaskImage task, BootstrapArea boot, Set<Integer> treePids,
                        dev.cryo.engine.namespaces.TreeNamespaces namespaces) {
        this.t = new TaskContext(tracer, task, boot, treePids, namespaces);
    }

    public Pid pid() {
        return t.pid();
    }

    /** The adopted task for the socket hub's calls (FdDelivery, injected calls, its scratch area). */
    public SocketHub.Remote remote() {
        return t.remote();
    }

    /** Before ADOPT: the stub is one a migration prepared while its pre-copy arrived. */
    public void prepared(dev.cryo.engine.restore.PreparedRoot p) {
        t.prepared(p);
    }

    /** Before ADOPT: the prepared stub is held, seized and stopped, by this restorer's tracer (StubKeptWarm#take). */
    public void seizedAlready() {
        t.seized(true);
    }

    /** Before ADOPT: the prepared stub is at SCHED_FIFO already (StubKeptWarm#lift), this restore's to drop as its own lift. */
    public void liftedAlready(SchedHandler.Lift lift) {
        if (lift != null) {
            t.lifted(lift.from(), lift.slack());
        }
    }

    /** ADOPT: seizes the stub and makes the bootstrap gadget the injection point. */
    public void adopt(boolean mapBootstrap) {
        adopt(mapBootstrap, null);
    }

    /**
     * ADOPT, then, before the task forks its children (they inherit all three, as they did): its
     * session and group if it leads them, and its controlling terminal if it is a pty of the tree.
     */
    public void adopt(boolean mapBootstrap, PtyHub ptys) {
        adopt(mapBootstrap, ptys, false);
    }

    /**
     * ADOPT; {@code deferLead}: the task forked children before it made its own session, which stay
     * in the session it had then: they are forked first, then {@link #leadDeferred} makes its session.
     */
    public void adopt(boolean mapBootstrap, PtyHub ptys, boolean deferLead) {
        this.ptys = ptys;
        StubAdoption.adopt(t, mapBootstrap);
        dev.cryo.engine.namespaces.NamespaceRestore.name(t);
        if (ptys != null) { // the devpts instances of the mount namespace it made are there again
            ptys.openInstancesOf(t.pid().value());
            dev.cryo.engine.namespaces.NamespaceRestore.ptysOpen(t);
        }
        if (!deferLead) {
            leadDeferred();
        }
        SchedHandler.liftStub(t); // through STATE, but for its clones
    }

    /** The stub at SCHED_FIFO {@code priority} from ADOPT to the end of STATE ({@code cryo.restore.rt-priority}; 0: not). */
    public void rtPriority(int priority) {
        t.rtPriority(priority);
    }

    /** FORK: the session, group and controlling terminal an adopted task leads, once its early children are forked. */
    public void leadDeferred() {
        SessionAndGroup.lead(t.main(), t.task().ids());
        if (ptys != null) {
            ControllingTerminal.take(t, ptys);
        }
    }

    /** FORK: one child with its exact pid, handed over to its own tracer. */
    public void forkChild(int childPid) {
        StubAdoption.forkChild(t, childPid, dev.cryo.kernel.Signals.SIGCHLD, 0);
    }

    /** FORK: a child whose death sends {@code exitSignal} to this task (a zombie-to-be). */
    public void forkChild(int childPid, int exitSignal) {
        StubAdoption.forkChild(t, childPid, exitSignal, 0);
    }

    /** FORK: a child sharing this task's tables named by {@code cloneFlags} (CLONE_FILES, CLONE_FS). */
    public void forkChild(int childPid, int exitSignal, int cloneFlags) {
        StubAdoption.forkChild(t, childPid, exitSignal, cloneFlags);
    }

    /** FORK: a sibling in the session this task leads (see StubAdoption.forkSibling). */
    public void forkSibling(int siblingPid) {
        StubAdoption.forkSibling(t, siblingPid);
    }

    /** FORK: an orphan in the session this task leads that {@code parent} reaped (see StubAdoption.forkOrphan). */
    public void forkOrphan(int orphan, int helperPid, int parent) {
        StubAdoption.forkOrphan(t, orphan, helperPid, parent);
    }

    /** FORK, at its end: the parent of such orphans, no init, is a subreaper until STATE sets its own setting. */
    public void reapOrphans() {
        t.call("prctl(PR_SET_CHILD_SUBREAPER, 1)", dev.cryo.kernel.SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_CHILD_SUBREAPER, 1);
    }

    /** FORK: children in a session whose leader had exited, through a helper at the leader's pid. */
    public void forkInDeadSession(int sid, List<Integer> children) {
        StubAdoption.forkInDeadSession(t, sid, children);
    }

    /** As above; {@code deadGroups}: children in a group of that session whose leader had exited too, with its id. */
    public void forkInDeadSession(int sid, List<Integer> children, java.util.Map<Integer, Integer> deadGroups) {
        StubAdoption.forkInDeadSession(t, sid, children, deadGroups);
    }

    /** FORK: a zombie-to-be that led its session, and the children of this task it forks in it. */
    public void forkInZombieSession(int zombie, int exitSignal, List<Integer> children, boolean ownChildren) {
        StubAdoption.forkInZombieSession(t, zombie, exitSignal, children, ownChildren);
    }

    /** FORK: children in this task's session whose process group's leader had exited, by a helper at its pid. */
    public void forkInDeadGroup(int pgid, List<Integer> children, java.util.Map<Integer, Integer> exitSignals) {
        StubAdoption.forkInDeadGroup(t, pgid, children, exitSignals);
    }

    /**
     * SESSIONS: a session or group leader makes its own. A task sharing its parent's fd table sets
     * its terminal's foreground group here rather than in FILES, where the other task fills their
     * table (its temporary fd could be closed or replaced under it there).
     */
    public void leadSessionAndGroup() {
        SessionAndGroup.lead(t.main(), t.task().ids());
        if (ptys != null && t.task().ids().sharesParentFds()) {
            ControllingTerminal.foreground(t, ptys);
        }
    }

    /** GROUPS: a member joins its group, once every leader has made its own. */
    public void joinGroup() {
        SessionAndGroup.join(t.main(), t.task().ids(), t.treePids(), t::seen);
    }

    /** MEMORY, first half: every dumped VMA mapped (writable), the vDSO block in place. */
    public void mapMemory(SharedMemoryHub shared) {
        MemoryMapping.map(t, shared);
    }

    /** As above, keeping {@code inherited}: the areas a child forked after its parent's memory keeps of it. */
    public void mapMemory(SharedMemoryHub shared, List<dev.cryo.engine.model.VmaImage> inherited) {
        long r0 = t.roundTrips(), n0 = System.nanoTime();
        MemoryMapping.map(t, shared, inherited);
        steps("MemoryMapping", r0, n0);
    }

    /** MEMORY, lazy restore: {@code areas} registered with {@code server}, which serves {@code slices} there. */
    public void lazyPages(LazyPages server, List<long[]> areas, List<PageSlice> slices) {
        server.register(t.pid(), t.main(), areas, slices);
    }

    /** MEMORY, second half: final protections, once the page writers are done. */
    public void protectMemory() {
        MemoryMapping.protect(t);
    }

    /** FILES: every dumped fd at its number, in the passes of {@link FileRestore.Pass}. */
    public void restoreFiles(FileHubs hubs, FileRestore.Pass pass) {
        restoreFiles(hubs, pass, false);
    }

    /** As above; {@code nextHere}: the next pass follows at once on this thread, no other task's in between ({@link FileRestore#run}). */
    public void restoreFiles(FileHubs hubs, FileRestore.Pass pass, boolean nextHere) {
        long r0 = t.roundTrips(), n0 = System.nanoTime();
        if (pass == FileRestore.Pass.OWN) {
            MemoryMapping.mapSealed(t, hubs.objects());
        }
        OwnKeyrings.files(t, hubs.keyrings(), pass);
        FileRestore.run(t, hubs, pass, nextHere);
        steps("files " + pass, r0, n0);
    }

    /** FILES, all passes at once: for a single task (shared files then only within it). */
    public void restoreFiles(PipeHub pipes, SocketHub sockets, SharedMemoryHub objects) {
        PtyHub ptys = PtyHub.of(List.of(t.task()), warning -> { });
        try (dev.cryo.engine.files.DeadTaskHub deadTasks = new dev.cryo.engine.files.DeadTaskHub(List.of(t.task()))) {
            ptys.openInstancesOf(t.pid().value());
            dev.cryo.engine.namespaces.NamespaceRestore.ptysOpen(t);
            FileHubs hubs = new FileHubs(pipes, sockets, objects, ptys, InheritedFds.NONE, deadTasks,
                    dev.cryo.engine.keyrings.KeyringHub.of(List.of(t.task())));
            MemoryMapping.mapSealed(t, objects);
            for (FileRestore.Pass pass : FileRestore.Pass.values()) {
                OwnKeyrings.files(t, hubs.keyrings(), pass);
                FileRestore.run(t, hubs, pass);
            }
            ptys.finish();
        } finally {
            ptys.close();
        }
    }

    /** STATE: every step of {@link #STATE_STAGES}, ending with the registers installed. */
    public void restoreState() {
        if (!SchedHandler.keepsLift(t.task())) {
            SchedHandler.dropLift(t); // else dropped around its clones, and for good by Scheduling
        }
        int cryoFd = t.namespaces().cryoFd();
        boolean holdsCryoFd = cryoFd > 0 && t.namespaces().insidePidNamespace(t.pid().value())
                && !t.task().ids().sharesParentFds();
        int lastTaker = -1;
        for (int i = 0; i < STATE_STAGES.size(); i++) {
            lastTaker = STATE_STAGES.get(i).takesCryosFiles() ? i : lastTaker;
        }
        for (int i = 0; i < STATE_STAGES.size(); i++) {
            if (holdsCryoFd && i == lastTaker + 1) {
                t.call("close(pidfd of cryo)", dev.cryo.kernel.SyscallNr.CLOSE, cryoFd); // its files are all taken
            }
            StateStage s = STATE_STAGES.get(i);
            long r0 = t.roundTrips(), n0 = System.nanoTime();
            s.run(t);
            steps(s.getClass().getSimpleName(), r0, n0);
        }
    }

    /**
     * Debug: what one step cost (ptrace round trips and µs), when it made any round trip: where a
     * restore's time after a migration's freeze goes is mostly round trips, each waiting for a CPU.
     */
    private void steps(String step, long roundTrips0, long nanos0) {
        long trips = t.roundTrips() - roundTrips0;
        if (trips > 0 && LOG.isDebugEnabled()) {
            LOG.debug("pid {}: {}: {} ptrace round trips in {} µs", t.pid(), step, trips, (System.nanoTime() - nanos0) / 1000);
        }
    }

    public List<Integer> tids() {
        List<Integer> out = new ArrayList<>();
        t.task().threads().forEach(th -> out.add(th.tid()));
        return out;
    }

    /** RESUME: all threads go at once (the supervisor calls this for every task at the same barrier). */
    public void resume() {
        resume(false);
    }

    /** {@code stopped}: left stopped (SIGSTOP), not running. */
    public void resume(boolean stopped) {
        if (stopped) { // pending before the detach: no thread runs an instruction before it stops
            dev.cryo.kernel.Sys.kill(t.pid(), dev.cryo.kernel.Signals.SIGSTOP);
        }
        t.tracer().detachAll(t.pid().value(), tids()); // a thread killed meanwhile (its tree runs) is reaped
    }

    /** Failure path: the task and the children it forked are killed. */
    public void kill() {
        t.closePositionedLast();
        TaskKill.run(t);
    }
}
