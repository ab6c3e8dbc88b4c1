package dev.cryo.engine.dump;

import dev.cryo.engine.memory.NumaPolicies;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.keyrings.Keyrings;
import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.model.Creds;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.MmImage;
import dev.cryo.engine.model.Rlimit;
import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.model.SigAction;
import dev.cryo.engine.model.ItimerImage;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.TimersImage;
import dev.cryo.engine.timing.SchedHandler;
import dev.cryo.engine.timing.TimersHandler;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.SyscallBatch;
import dev.cryo.kernel.proc.Limits;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;
import dev.cryo.kernel.proc.ProcStatus;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects the state of one frozen process (everything but page contents) on its tracer thread.
 * The result's VMAs carry no page counts yet: the region copiers fill them in.
 */
public final class TaskCollector {
    private TaskCollector() {}

    public record Snapshot(TaskImage task, MemoryPlan memory) {}

    public static Snapshot collect(Tracer tracer, Pid pid, List<Integer> tids, FdHandler.DumpContext files) {
        return collect(tracer, pid, tids, files, plan(pid, files));
    }

    /**
     * The task's mappings and the pages to copy. Made first, before cryo maps its scratch page
     * (so that page is never part of the image); the pages can be copied while
     * {@link #collect(Tracer, Pid, List, FdHandler.DumpContext, MemoryPlan)} injects its syscalls,
     * which write nothing but the scratch page.
     */
    public static MemoryPlan plan(Pid pid, FdHandler.DumpContext files) {
        return MemoryPlan.of(pid, files.sharedMemory(), files.ghostFiles());
    }

    /** As above, for a pre-copy's frozen round: the pages of pre-copied mappings are the tracker's to find. */
    public static MemoryPlan plan(Pid pid, FdHandler.DumpContext files, PreCopyTracker preCopy) {
        return plan(pid, files, preCopy, null);
    }

    /** As above, from smaps read before the freeze if the areas are the same ({@link MemoryPlan#provisional}). */
    public static MemoryPlan plan(Pid pid, FdHandler.DumpContext files, PreCopyTracker preCopy,
                                  List<dev.cryo.kernel.proc.SmapsEntry> early) {
        return plan(pid, files, preCopy, early, null);
    }

    /** As above, with the mapped files' identities read with {@code early} if they still hold (MappedFilesAhead). */
    public static MemoryPlan plan(Pid pid, FdHandler.DumpContext files, PreCopyTracker preCopy,
                                  List<dev.cryo.kernel.proc.SmapsEntry> early, dev.cryo.engine.memory.MappedFilesAhead ahead) {
        return plan(pid, files, preCopy, early, ahead, null);
    }

    /**
     * As above, leaving out cryo's own area mapped before the freeze ({@link #premap}; null: none),
     * which {@code early} holds, whether the frozen task still has it or it was unmapped since.
     */
    public static MemoryPlan plan(Pid pid, FdHandler.DumpContext files, PreCopyTracker preCopy,
                                  List<dev.cryo.kernel.proc.SmapsEntry> early, dev.cryo.engine.memory.MappedFilesAhead ahead,
                                  RemoteTask cryos) {
        return MemoryPlan.of(pid, files.sharedMemory(), files.ghostFiles(), (kind, m) -> !PreCopyTracker.preCopied(kind, m),
                early, ahead, cryos == null ? null : m -> m.start() == cryos.scratch()
                        && m.end() == cryos.scratch() + cryos.length());
    }

    /**
     * cryo's scratch area mapped in a pre-copied task while it still runs (stopped for the mmap), so
     * that the freeze has no mmap to make: in a migration's frozen window that mmap took 1-77 ms of
     * wall time (two round trips and the mm's lock taken for writing). {@code mlockFuture}: the
     * task's MCL_FUTURE flags as that mapping found them ({@link MlockFuture}); {@code brk}: its brk
     * then, read by a call that then left the freeze's first round trip to the thread's batch (the
     * first return to user mode of a frozen task waits for the scheduler: 1.5-17 ms at load 15). The
     * freeze uses them only where the task made no call that maps, unmaps, locks memory or moves its
     * brk since (VmFlagsWatch, started after these calls) and the area is still mapped alone: else it
     * is unmapped, frozen, and the freeze maps one and reads brk as before.
     */
    public record Premapped(RemoteTask remote, int mlockFuture, long brk) {}

    /** {@code e}, once cryo's area in the task is unmapped (a failure of that is kept as suppressed). */
    private static RuntimeException closing(RemoteTask remote, RuntimeException e) {
        try {
            remote.close();
        } catch (RuntimeException suppressed) {
            e.addSuppressed(suppressed);
        }
        return e;
    }

    /** Maps cryo's area in a stopped, running task: see {@link Premapped}. */
    public static Premapped premap(Tracer tracer, Pid pid) {
        ProcStatus before = ProcFs.status(pid);
        RemoteTask remote = new RemoteTask(tracer, pid, ProcFs.maps(pid));
        try {
            int mlockFuture = MlockFuture.of(pid, remote, before);
            remote.statusRead(pid.value(), before);
            return new Premapped(remote, mlockFuture, brk(remote, pid));
        } catch (RuntimeException e) {
            throw closing(remote, e);
        }
    }

    public static Snapshot collect(Tracer tracer, Pid pid, List<Integer> tids, FdHandler.DumpContext files,
                                   MemoryPlan memory) {
        try (Scratch scratch = scratchArea(tracer, pid, tids, memory)) {
            return collect(scratch, tids, files, memory, Runnable::run);
        }
    }

    /**
     * cryo's scratch area in a frozen task, the task's status read just before it was mapped, and
     * its brk, read just after (brk(2), even brk(0), takes the mm lock for writing).
     */
    /** {@code mlockFuture}: the task's MCL_FUTURE flags, found when the area was mapped before the freeze; null: not yet. */
    public record Scratch(RemoteTask remote, ProcStatus statusBefore, long brk, Steps steps, Integer mlockFuture)
            implements AutoCloseable {
        /** What mapping it took, in ns (the debug log: which round trip of the freeze's first ones waits). */
        public record Steps(long status, long mmap, long brk) {
            @Override
            public String toString() {
                return "status read and lift " + status / 1000 + " µs, mmap " + mmap / 1000 + " µs, brk " + brk / 1000 + " µs";
            }
        }

        @Override
        public void close() {
            remote.close();
        }
    }

    /**
     * Maps cryo's scratch area in the frozen task, for {@link #collect(Scratch, List, FdHandler.DumpContext, MemoryPlan)}.
     * Its mmap takes the task's mm lock for writing: mapped before a walk of the task's page tables
     * starts beside the collect (smaps, a pre-copy's final scan hold the lock for all their tens of
     * ms for a GiB), it does not wait for that walk. The task's brk is read then for the same
     * reason: in the collect's batch, it waited 24 ms for those walks under load.
     */
    public static Scratch scratchArea(Tracer tracer, Pid pid, List<Integer> tids, MemoryPlan memory) {
        return scratchArea(tracer, pid, tids, memory, null);
    }

    /** As above, through the area {@code premapped} before the freeze ({@link #premap}) when not null. */
    public static Scratch scratchArea(Tracer tracer, Pid pid, List<Integer> tids, MemoryPlan memory, Premapped premapped) {
        return scratchArea(tracer, pid, tids, memory, premapped, 0);
    }

    /**
     * As above, the task's threads lifted to SCHED_FIFO {@code rtPriority} first (0: not lifted) for
     * every injection until the collect ends ({@link InjectionPriority}).
     */
    public static Scratch scratchArea(Tracer tracer, Pid pid, List<Integer> tids, MemoryPlan memory, Premapped premapped,
                                      int rtPriority) {
        long t0 = System.nanoTime();
        ProcStatus before = ProcFs.status(pid); // VmLck before the area: MlockFuture
        InjectionPriority lifted = rtPriority > 0 ? InjectionPriority.lift(pid, tids, rtPriority) : null;
        long t1 = System.nanoTime();
        RemoteTask remote;
        try {
            remote = premapped != null ? premapped.remote() : new RemoteTask(tracer, pid, memory.maps(), tids.size());
        } catch (RuntimeException e) {
            if (lifted != null) {
                try {
                    lifted.putBack();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        remote.holdPriority(lifted);
        if (premapped != null) {
            remote.seizedAgain(); // it ran since the area was mapped
        }
        long t2 = System.nanoTime();
        remote.statusRead(pid.value(), before);
        try {
            long value = premapped != null ? premapped.brk() : brk(remote, pid);
            return new Scratch(remote, before, value, new Scratch.Steps(t1 - t0, t2 - t1, System.nanoTime() - t2),
                    premapped == null ? null : premapped.mlockFuture());
        } catch (RuntimeException e) {
            throw closing(remote, e);
        }
    }

    /** The task's brk: a batch of one call, one ptrace round trip where an injected call makes two. */
    private static long brk(RemoteTask remote, Pid pid) {
        try (Injector inj = remote.injector(pid.value())) {
            long[] brk = remote.batch(inj, List.of(new SyscallBatch.Call(SyscallNr.BRK, 0)));
            return brk != null ? brk[0] : inj.call("brk", SyscallNr.BRK, 0);
        }
    }

    /**
     * As above, through a scratch area already mapped ({@link #scratchArea}); the caller unmaps it.
     * What /proc and pidfds tell (the fds, the executable, the limits, the cgroups...) is read on
     * {@code procReads} while this thread injects: injections are ptrace round trips, mostly
     * spent waiting for the frozen task to be scheduled (in a migration's freeze at load 19-28, the
     * fds took 6-11 ms and the rest 1-8 ms of wall time after the injections, 3-4 ms of CPU).
     */
    public static Snapshot collect(Scratch scratch, List<Integer> tids, FdHandler.DumpContext files,
                                   MemoryPlan memory, java.util.concurrent.Executor procReads) {
        return collect(scratch, tids, files, memory, procReads, null);
    }

    /** As above, with the task's cgroups read before the freeze ({@code cgroups}, null: none), confirmed frozen. */
    public static Snapshot collect(Scratch scratch, List<Integer> tids, FdHandler.DumpContext files,
                                   MemoryPlan memory, java.util.concurrent.Executor procReads,
                                   dev.cryo.engine.cgroups.CgroupsAhead cgroups) {
        RemoteTask remote = scratch.remote();
        Tracer tracer = remote.tracer();
        Pid pid = remote.pid();
        ProcStat stat = ProcFs.stat(pid);
        ProcStatus status = scratch.statusBefore();
        String cwd = ProcFs.cwd(pid);
        deadProcDirectory(pid, "current directory", cwd);
        deadProcDirectory(pid, "root directory", ProcFs.root(pid));
        dev.cryo.engine.files.MountReach reach = new dev.cryo.engine.files.MountReach(pid);
        reach.requireLink(pid.procDir() + "/cwd", cwd, "its current directory " + cwd);
        reach.requireLink(pid.procDir() + "/root", ProcFs.root(pid), "its root directory " + ProcFs.root(pid));
        // a removed cwd keeps the kernel's " (deleted)" suffix: restore makes it again, enters and removes it

        TaskIds ids = new TaskIds(pid.value(), stat.ppid(), stat.pgrp(), stat.session(), stat.ttyNr(), stat.tpgid(),
                files.tables().withParent(pid.value()));
        java.util.concurrent.CompletableFuture<ProcReads> read = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> ProcReads.of(pid, tids, ids, files, cgroups), procReads);
        RuntimeException failed = null;
        try {
            return collect(scratch, tids, files, memory, stat, status, cwd, ids, read);
        } catch (RuntimeException e) {
            failed = e;
            throw e;
        } finally {
            awaitQuietly(read); // nothing reads the task once its collect is over, failed or not
            try {
                scratch.remote().putBackPriority(); // its injections are over
            } catch (RuntimeException e) {
                if (failed == null) {
                    throw e;
                }
                failed.addSuppressed(e);
            }
        }
    }

    /**
     * A cwd or root in the /proc directory of a process that has exited is entered again through a
     * stand-in at that pid: zdtm's unhashed_proc (a cwd reading "/proc/PID (deleted)", FileRestore),
     * and Firefox's sandbox, whose helper shares the task's fs (CLONE_FS), chroots into
     * /proc/self/fdinfo and exits, leaving root and cwd in a dead process's fdinfo (ProcessState:
     * the task forks the stand-in itself, as a task of another user namespace may not enter another
     * process's fdinfo). Refused where such a stand-in cannot be made.
     */
    private static void deadProcDirectory(Pid pid, String what, String dir) {
        String gone = dev.cryo.engine.files.RegularFileHandler.deadProcess(pid.value(), dir);
        if (gone == null) {
            return;
        }
        String outside = dev.cryo.engine.files.RegularFileHandler.standInUnreachable(pid);
        String why = outside != null ? "the task " + outside
                : dir.endsWith(" (deleted)") ? (what.startsWith("root") ? "a root there is not supported" : null)
                : dev.cryo.engine.files.RegularFileHandler.inOwnPidNamespace(pid) ? "the task is in a pid namespace of its own" : null;
        if (why != null) {
            throw new DumpException("pid " + pid + ": its " + what + " " + dir + " is the /proc directory of pid "
                    + gone + ", which has exited, and " + why + "; not supported (a restore enters it through a"
                    + " stand-in cryo makes at that pid)");
        }
    }

    private static Snapshot collect(Scratch scratch, List<Integer> tids, FdHandler.DumpContext files, MemoryPlan memory,
                                    ProcStat stat, ProcStatus status, String cwd, TaskIds ids,
                                    java.util.concurrent.CompletableFuture<ProcReads> read) {
        RemoteTask remote = scratch.remote();
        Tracer tracer = remote.tracer();
        Pid pid = remote.pid();
        List<ThreadImage> threads = new ArrayList<>();
        List<SigAction> sigactions;
        long brk = scratch.brk();
        int membarrier;
        int mdwe;
        SecurityImage security;
        long[] keyrings;
        SecurityCollector securityCollector = new SecurityCollector(remote);
        TimersImage timers;
        dev.cryo.engine.ipc.SemUndo semUndo;
        List<dev.cryo.engine.model.MemPolicy.Area> areaPolicies;
        int mlockFuture = scratch.mlockFuture() != null ? scratch.mlockFuture() : MlockFuture.of(pid, remote, status);
        java.util.Set<Integer> ioUringThreads = new java.util.LinkedHashSet<>();
        // a witness cryo starts (prepared before the freeze) for a task that may not read-access cryo itself
        LandlockDomain.Witness landlock = LandlockDomain.witness(pid.value(), status, files.landlockWitnesses());
        // in the main thread's own batch, with the areas' NUMA policies where they fit
        MainBatch riding = MainBatch.at(remote, ThreadCollector.RIDER_OUTPUT, landlock, memory.vmas());
        for (int tid : tids) {
            threads.add(ThreadCollector.collect(remote, tid, securityCollector, ioUringThreads,
                    tid == pid.value() ? riding : null));
        }
        try (Injector inj = remote.injector(pid.value())) {
            MainReads reads = riding != null && riding.reads != null ? riding.reads : mainReads(remote, inj, landlock);
            if (reads != null) {
                sigactions = reads.sigactions();
                membarrier = reads.membarrier();
                mdwe = reads.mdwe();
                security = securityCollector.task(reads.dumpable(), reads.subreaper());
                timers = TimersHandler.dump(pid, inj, remote::injector, scratch(remote), java.util.Set.copyOf(tids), reads.itimers(),
                            queues(tracer, pid));
            } else {
                sigactions = sigactions(remote, inj);
                membarrier = membarrierRegistrations(inj.raw(SyscallNr.MEMBARRIER, MEMBARRIER_CMD_GET_REGISTRATIONS, 0));
                mdwe = membarrierRegistrations(inj.raw(SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_GET_MDWE, 0, 0, 0, 0));
                security = securityCollector.task(inj, remote);
                timers = TimersHandler.dump(pid, inj, remote::injector, scratch(remote), java.util.Set.copyOf(tids), null,
                            queues(tracer, pid));
            }
            LandlockDomain.refuseIfConfined("pid " + pid.value() + " (" + stat.comm() + ")",
                    reads != null ? reads.landlock() : LandlockDomain.ask(inj, landlock), landlock);
            keyrings = reads != null ? reads.keyrings() : Keyrings.ids(inj);
            // those that did not ride in the main thread's batch
            NumaPolicies.AreaReads areas = NumaPolicies.AreaReads.of(memory.vmas());
            int asked = riding != null && riding.areaPolicies != null ? riding.areas.count() : 0;
            areaPolicies = new ArrayList<>(asked > 0 ? riding.areaPolicies : List.of());
            areaPolicies.addAll(NumaPolicies.areas(remote, inj, areas.part(asked, areas.count()),
                    "pid " + pid.value() + " (" + stat.comm() + ")"));
        }
        semUndo = dev.cryo.engine.ipc.SemUndo.dump(pid, tids);
        ProcReads procs = await(read);
        if (Keyrings.holdsAny(keyrings)) { // once its fds are read: the dump opens /proc/keys in it for a moment
            try (Injector inj = remote.injector(pid.value())) {
                security = security.withKeyrings(Keyrings.dump(keyrings, inside(remote, inj),
                        "pid " + pid.value() + " (" + stat.comm() + ")"));
            }
        }
        MmImage mm = new MmImage(stat.startCode(), stat.endCode(), stat.startData(), stat.endData(), stat.startBrk(),
                brk, stat.startStack(), stat.argStart(), stat.argEnd(), stat.envStart(), stat.envEnd(),
                procs.auxv(), status.value("THP_enabled").map("0"::equals).orElse(false),
                procs.coredumpFilter(), membarrier, mdwe, procs.mergeAny(), mlockFuture, areaPolicies);
        List<dev.cryo.engine.model.FdImage> fds = procs.fds();
        // which thread entered a ring by a slot
        fds = dev.cryo.engine.files.IoUringRingFds.dump(remote, List.copyOf(ioUringThreads), fds, ids.sharesParentFds());
        // before the pending signals are read: firing a queue's notification to read its value leaves none
        fds = dev.cryo.engine.files.MessageQueueNotification.learn(remote, fds);
        // a peer that had exited, as the task's own pid namespace numbered it
        fds = dev.cryo.engine.files.PeerCredsInside.learn(remote, fds);
        // read last: signals sent while cryo ran code in the task wait in its queues (Tracer.keepSignalsQueued)
        threads.replaceAll(th -> th.withPendingSignals(tracer.peekSiginfo(th.tid(), false)));
        ThreadFsReader.addOwnFs(pid, threads, ProcFs.root(pid));
        ThreadNsReader.addOwnNamespaces(pid, threads);
        ThreadFilesReader.addOwnTables(pid, threads, files, ids.sharesParentFds());
        if (dev.cryo.kernel.ExitedLeaders.exited(pid)) {
            threads.add(0, ExitedLeader.of(pid, threads.get(0), remote.gadget()));
        }
        TaskImage task = new TaskImage(ids,
                stat.comm(), procs.exe(), cwd, ProcFs.root(pid), status.umask(), procs.personality(),
                creds(status), procs.rlimits(), sigactions, mm, threads, memory.vmas(),
                fds, pendingWithHeld(tracer, pid, tids), security, timers,
                procs.oomScoreAdj(), files.ghostFiles().take(pid),
                (stat.flags() & ProcStat.PF_FORKNOEXEC) == 0, procs.cgroups(), semUndo);
        // after the fds, whose errors name the terminal's fd more precisely
        dev.cryo.engine.files.Ptys.checkControllingTerminal(pid, stat.ttyNr(), stat.session(), files);
        return new Snapshot(task, memory);
    }

    /** The task's main thread for keyctl, through the scratch page. */
    private static Keyrings.Inside inside(RemoteTask remote, Injector inj) {
        return new Keyrings.Inside() {
            public int pid() {
                return remote.pid().value();
            }

            public long raw(int nr, long... args) {
                return inj.raw(nr, args);
            }

            public long area() {
                return remote.scratch();
            }

            public byte[] read(int len) {
                return remote.readScratch(len);
            }

            public void write(int offset, byte[] data) {
                dev.cryo.kernel.Sys.write(remote.pid(), remote.scratch() + offset, data);
            }
        };
    }

    /** What a task's collect reads from /proc and through pidfds only, beside its injections. */
    private record ProcReads(long[] auxv, long coredumpFilter, boolean mergeAny, List<dev.cryo.engine.model.FdImage> fds,
                             FileRef exe, int personality, List<Rlimit> rlimits, int oomScoreAdj,
                             dev.cryo.engine.cgroups.CgroupMembership cgroups) {
        static ProcReads of(Pid pid, List<Integer> tids, TaskIds ids, FdHandler.DumpContext files,
                            dev.cryo.engine.cgroups.CgroupsAhead cgroups) {
            long[] auxv = ProcFs.auxv(pid).words();
            long coredumpFilter = TaskCollector.coredumpFilter(pid);
            boolean mergeAny = TaskCollector.mergeAny(pid);
            // a table shared with the parent is carried once, by the task at the top of the chain
            List<dev.cryo.engine.model.FdImage> fds = ids.sharesParentFds() ? List.of() : FdHandlers.dumpAll(pid, files);
            return new ProcReads(auxv, coredumpFilter, mergeAny, fds, TaskCollector.exe(pid), TaskCollector.personality(pid),
                    TaskCollector.rlimits(pid),
                    SchedHandler.dumpOomScoreAdj(pid), cgroups != null ? cgroups.frozen(pid, tids, ids.ppid(), files.treePids())
                    : dev.cryo.engine.cgroups.CgroupReader.read(pid, tids, ids.ppid(), files.treePids()));
        }
    }

    /** The reads' result, or their failure as it was thrown. */
    private static ProcReads await(java.util.concurrent.CompletableFuture<ProcReads> read) {
        try {
            return read.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    private static void awaitQuietly(java.util.concurrent.CompletableFuture<ProcReads> read) {
        try {
            read.join();
        } catch (RuntimeException e) {
            // reported by await, or after the collect's own failure
        }
    }

    /**
     * The process-wide pending signals, and the signals the tracer holds: a job-control stop, or
     * a signal that stopped cryo's code in the frozen task anyway (one of the number a batch ends
     * with) and so is in no queue. They are carried as pending process-wide signals; without them
     * a dump that ends the tree would lose them.
     */
    private static List<byte[]> pendingWithHeld(Tracer tracer, Pid pid, List<Integer> tids) {
        List<byte[]> pending = new java.util.ArrayList<>(tracer.peekSiginfo(dev.cryo.kernel.ExitedLeaders.reader(pid.value()), true));
        java.util.Set<Integer> standard = new java.util.HashSet<>();
        for (byte[] si : pending) {
            standard.add(java.nio.ByteBuffer.wrap(si).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0));
        }
        for (int tid : tids) {
            for (dev.cryo.kernel.ptrace.Tracer.Held h : tracer.heldSignals(tid)) {
                int sig = h.signal();
                if (sig < 32 && !standard.add(sig)) {
                    continue; // a standard signal is pending once at most
                }
                byte[] si = h.siginfo();
                if (si == null) {
                    si = new byte[dev.cryo.kernel.ptrace.Ptrace.SIGINFO_SIZE];
                    java.nio.ByteBuffer.wrap(si).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, sig).putInt(8, SI_KERNEL);
                }
                pending.add(si);
            }
        }
        return pending;
    }

    private static final int SI_KERNEL = 0x80;

    private static TimersHandler.SignalQueues queues(Tracer tracer, Pid pid) {
        return new TimersHandler.SignalQueues() {
            public List<byte[]> shared() {
                return tracer.peekSiginfo(dev.cryo.kernel.ExitedLeaders.reader(pid.value()), true);
            }

            public List<byte[]> thread(int tid) {
                return tracer.peekSiginfo(tid, false);
            }
        };
    }

    private static TimersHandler.Scratch scratch(RemoteTask remote) {
        return new TimersHandler.Scratch() {
            public long address() {
                return remote.scratch();
            }

            public byte[] read(int len) {
                return remote.readScratch(len);
            }
        };
    }

    /** What the main thread's one batch reads: every sigaction, dumpable, subreaper, the three itimers and the membarrier registrations. */
    private record MainReads(List<SigAction> sigactions, int dumpable, boolean subreaper,
                             List<long[]> itimers, int membarrier, int mdwe, long[] keyrings, long landlock) {}

    /** membarrier(2)'s command that returns the mm's registrations (Linux 6.3+). */
    private static final int MEMBARRIER_CMD_GET_REGISTRATIONS = 1 << 9;

    /** What GET_REGISTRATIONS (or PR_GET_MDWE) returned; none where the kernel cannot tell (before 6.3: EINVAL). */
    private static int membarrierRegistrations(long result) {
        return Injector.isError(result) ? 0 : (int) result;
    }

    /**
     * Every read of the main thread that takes no decision on the way, in one batch (one ptrace
     * round trip): the 62 sigactions (see {@link #sigactions}), PR_GET_DUMPABLE,
     * PR_GET_CHILD_SUBREAPER and getitimer of the three itimers. Null when the thread cannot take
     * a batch: the caller reads them call by call.
     */
    private static MainReads mainReads(RemoteTask remote, Injector inj, LandlockDomain.Witness landlock) {
        MainBatch main = MainBatch.at(remote, 0, landlock, null);
        long[] results = main == null ? null : remote.batch(inj, main.calls());
        if (results == null) {
            return null;
        }
        main.results(results, ThreadCollector.le(remote.readBatchOutput(main.outputBytes())), inj.pid().value());
        return main.reads;
    }

    /**
     * The main thread's reads ({@link #mainReads}) as a batch's calls, their outputs from {@code out}
     * on: a batch of their own, or riding in the main thread's own batch ({@link ThreadCollector.Rider}),
     * which makes one ptrace round trip of the two in the frozen window (each waits for the frozen task to
     * be scheduled: 0.6-9 ms at load 4-16); riding, also the NUMA policies of the first areas, as many as fit (some 50).
     */
    private static final class MainBatch implements ThreadCollector.Rider {
        private final List<Integer> signals = new ArrayList<>();
        private final List<SyscallBatch.Call> calls = new ArrayList<>();
        private final List<String> names = new ArrayList<>();
        private final long out, subreaperAt, itimersAt;
        private final int membarrierAt, keyringsAt, landlockAt, areasAt;
        private final NumaPolicies.AreaReads areas; // null: not asked here
        private MainReads reads; // once its batch ran
        private List<dev.cryo.engine.model.MemPolicy.Area> areaPolicies; // likewise, where asked here

        private MainBatch(long out, LandlockDomain.Witness landlock, NumaPolicies.AreaReads areas) {
            this.out = out;
            for (int sig = 1; sig <= Signals.MAX; sig++) {
                if (sig != Signals.SIGKILL && sig != Signals.SIGSTOP) { // their action is fixed by the kernel
                    signals.add(sig);
                }
            }
            subreaperAt = out + 32L * signals.size();
            itimersAt = subreaperAt + 8;
            for (int i = 0; i < signals.size(); i++) {
                calls.add(new SyscallBatch.Call(SyscallNr.RT_SIGACTION, signals.get(i), 0, out + 32L * i, 8));
                names.add("rt_sigaction(" + Signals.name(signals.get(i)) + ")");
            }
            calls.add(new SyscallBatch.Call(SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_GET_DUMPABLE));
            names.add("prctl(PR_GET_DUMPABLE)");
            calls.add(new SyscallBatch.Call(SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_GET_CHILD_SUBREAPER, subreaperAt));
            names.add("prctl(PR_GET_CHILD_SUBREAPER)");
            for (int which = ItimerImage.REAL; which <= ItimerImage.PROF; which++) {
                calls.add(new SyscallBatch.Call(SyscallNr.GETITIMER, which, itimersAt + 32L * which));
                names.add("getitimer(" + ItimerImage.name(which) + ")");
            }
            membarrierAt = calls.size(); // last: its error only means the kernel cannot tell
            calls.add(new SyscallBatch.Call(SyscallNr.MEMBARRIER, MEMBARRIER_CMD_GET_REGISTRATIONS, 0));
            calls.add(new SyscallBatch.Call(SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_GET_MDWE, 0, 0, 0, 0));
            keyringsAt = calls.size(); // their errors (ENOKEY) are answers too
            calls.addAll(Keyrings.ID_CALLS);
            landlockAt = calls.size(); // its EPERM is an answer too
            calls.add(LandlockDomain.probe(landlock));
            this.areas = areas;
            areasAt = calls.size(); // their errors are the areas'
            if (areas != null) {
                calls.addAll(areas.calls(itimersAt + 32L * (ItimerImage.PROF + 1)));
            }
        }

        /** Its calls with outputs {@code offset} bytes into the batch's output area; null when they do not fit there. */
        static MainBatch at(RemoteTask remote, int offset, LandlockDomain.Witness landlock,
                             List<dev.cryo.engine.model.VmaImage> vmas) {
            MainBatch b = new MainBatch(remote.batchOutput() + offset, landlock, null); // without the areas
            if (offset + b.outputBytes() > RemoteTask.BATCH_OUTPUT_SIZE) {
                return null;
            }
            NumaPolicies.AreaReads all = vmas == null ? null : NumaPolicies.AreaReads.of(vmas);
            int room = all == null ? 0 : Math.min(ThreadCollector.RIDER_CALLS - b.calls.size(),
                    (RemoteTask.BATCH_OUTPUT_SIZE - offset - b.outputBytes()) / NumaPolicies.READ_BYTES);
            int riding = Math.max(0, Math.min(room, all == null ? 0 : all.count())); // the first ones, the rest asked apart
            return riding == 0 ? b : new MainBatch(remote.batchOutput() + offset, landlock, all.part(0, riding));
        }

        @Override
        public List<SyscallBatch.Call> calls() {
            return calls;
        }

        @Override
        public int outputBytes() {
            return (int) (itimersAt + 32L * (ItimerImage.PROF + 1) - out) + (areas == null ? 0 : areas.outputBytes());
        }

        @Override
        public void results(long[] results, ByteBuffer b, int pid) {
            for (int i = 0; i < membarrierAt; i++) {
                if (Injector.isError(results[i])) {
                    throw new SyscallException(names.get(i) + " in pid " + pid, (int) -results[i]);
                }
            }
            List<SigAction> sigactions = new ArrayList<>();
            for (int i = 0; i < signals.size(); i++) {
                sigactions.add(new SigAction(signals.get(i), b.getLong(32 * i), b.getLong(32 * i + 8),
                        b.getLong(32 * i + 16), b.getLong(32 * i + 24)));
            }
            int n = signals.size();
            List<long[]> itimers = new ArrayList<>();
            for (int which = ItimerImage.REAL; which <= ItimerImage.PROF; which++) {
                int at = (int) (itimersAt - out) + 32 * which;
                itimers.add(new long[] {b.getLong(at), b.getLong(at + 8), b.getLong(at + 16), b.getLong(at + 24)});
            }
            reads = new MainReads(sigactions, (int) results[n],
                    b.getInt((int) (subreaperAt - out)) != 0, itimers, membarrierRegistrations(results[membarrierAt]),
                    membarrierRegistrations(results[membarrierAt + 1]),
                    java.util.Arrays.copyOfRange(results, keyringsAt, keyringsAt + Keyrings.ID_CALLS.size()),
                    results[landlockAt]);
            if (areas != null) {
                int at = (int) (itimersAt - out) + 32 * (ItimerImage.PROF + 1);
                areaPolicies = areas.results(java.util.Arrays.copyOfRange(results, areasAt, areasAt + areas.count()),
                        b.duplicate().position(at).slice().order(java.nio.ByteOrder.LITTLE_ENDIAN), "pid " + pid);
            }
        }
    }

    /**
     * rt_sigaction(sig, NULL, &old) for every signal: /proc shows only caught/ignored bits, not the
     * flags, mask and restorer a default disposition may still carry (signal(sig, SIG_DFL) keeps
     * SA_RESTART and the restorer). All of them in one batch (one ptrace round trip instead of two
     * per signal) where the thread can take one; one by one otherwise.
     */
    private static List<SigAction> sigactions(RemoteTask remote, Injector inj) {
        List<Integer> signals = new ArrayList<>();
        for (int sig = 1; sig <= Signals.MAX; sig++) {
            if (sig != Signals.SIGKILL && sig != Signals.SIGSTOP) { // their action is fixed by the kernel
                signals.add(sig);
            }
        }
        List<SyscallBatch.Call> calls = new ArrayList<>();
        for (int i = 0; i < signals.size(); i++) {
            calls.add(new SyscallBatch.Call(SyscallNr.RT_SIGACTION, signals.get(i), 0, remote.batchOutput() + 32L * i, 8));
        }
        long[] results = remote.batch(inj, calls);
        List<SigAction> out = new ArrayList<>();
        if (results != null) {
            ByteBuffer b = ThreadCollector.le(remote.readBatchOutput(32 * signals.size()));
            for (int i = 0; i < signals.size(); i++) {
                if (Injector.isError(results[i])) {
                    throw new SyscallException("rt_sigaction(" + Signals.name(signals.get(i)) + ") in pid " + inj.pid(),
                            (int) -results[i]);
                }
                out.add(new SigAction(signals.get(i), b.getLong(32 * i), b.getLong(32 * i + 8), b.getLong(32 * i + 16),
                        b.getLong(32 * i + 24)));
            }
            return out;
        }
        for (int sig : signals) {
            inj.call("rt_sigaction", SyscallNr.RT_SIGACTION, sig, 0, remote.scratch(), 8);
            ByteBuffer b = ThreadCollector.le(remote.readScratch(32));
            out.add(new SigAction(sig, b.getLong(0), b.getLong(8), b.getLong(16), b.getLong(24)));
        }
        return out;
    }

    private static FileRef exe(Pid pid) {
        String path = ProcFs.exe(pid);
        try {
            return FileIdentity.of(path, Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/exe"));
        } catch (IOException e) {
            throw new DumpException("pid " + pid + ": cannot stat its executable " + path + ": " + e.getMessage(), e);
        }
    }

    private static int personality(Pid pid) {
        return Integer.parseUnsignedInt(ProcFs.text(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/personality").trim(), 16);
    }

    private static Creds creds(ProcStatus s) {
        return new Creds(s.uids().asList(), s.gids().asList(), s.groups(), s.capInh(), s.capPrm(), s.capEff(), s.capBnd(), s.capAmb());
    }

    static List<Rlimit> rlimits(Pid pid) {
        Limits limits = ProcFs.limits(pid);
        return limits.rows().stream().map(l -> new Rlimit(l.resource(), l.soft(), l.hard())).toList();
    }

    /** /proc/PID/coredump_filter: which mappings a core dump holds, set by the program or inherited. */
    /** Whether KSM merges all of the task's memory (PR_SET_MEMORY_MERGE), as ksm_stat says; no where there is no KSM. */
    private static boolean mergeAny(Pid pid) {
        java.nio.file.Path stat = java.nio.file.Path.of(pid.procDir() + "/ksm_stat");
        try {
            return java.nio.file.Files.readAllLines(stat).stream().anyMatch(l -> l.equals("ksm_merge_any: yes"));
        } catch (java.io.IOException e) {
            return false; // a kernel without KSM has no such file and no such setting
        }
    }

    private static long coredumpFilter(Pid pid) {
        try {
            return Long.parseLong(ProcFs.text(pid.procDir() + "/coredump_filter").strip(), 16);
        } catch (NumberFormatException e) {
            throw new dev.cryo.engine.DumpException("pid " + pid.value() + ": cannot read its coredump_filter: " + e);
        }
    }
}
