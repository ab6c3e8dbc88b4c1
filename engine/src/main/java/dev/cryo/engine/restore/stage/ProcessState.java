package dev.cryo.engine.restore.stage;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.model.MmImage;
import dev.cryo.engine.model.Rlimit;
import dev.cryo.engine.model.SigAction;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.SyscallBatch;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_RDONLY;

/**
 * Per-process state: cwd and root, umask, personality, signal handlers, rlimits, the kernel's
 * view of the address space (PR_SET_MM_MAP).
 */
public final class ProcessState implements StateStage {
    @Override
    public boolean takesCryosFiles() {
        return true; // the executable (setMm)
    }


    private static final int PR_SET_MM = 35, PR_SET_MM_MAP = 14;

    @Override
    public String name() {
        return "process state";
    }

    /**
     * prlimit64 by the task on itself ({@code scratch}: 16 bytes of its memory). cryo could not
     * set it from outside on a task of a user namespace it does not own (it lacks
     * CAP_SYS_RESOURCE, and a rootless container's namespace is its user's).
     */
    public static void setRlimit(dev.cryo.kernel.ptrace.Injector inj, dev.cryo.kernel.Pid pid, long scratch, Rlimit r) {
        Sys.write(pid, scratch, java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putLong(r.soft()).putLong(r.hard()).array());
        inj.call("prlimit64(pid " + pid + ", resource " + r.resource() + ", " + r.soft() + "/" + r.hard() + ")",
                SyscallNr.PRLIMIT64, 0, r.resource(), scratch, 0);
    }

    @Override
    public void run(TaskContext t) {
        t.task().semUndo().restore(t.pid().value(), t::put, t::call); // before its credentials: as the dumped task did it
        List<Integer> standIns = deadProcDirectories(t);
        if (standIns.isEmpty()) {
            queue(t);
            return;
        }
        t.flush(); // its cwd and root are entered on the stand-ins, which end before the task's credentials
        StubAdoption.withChildrenAt(t, standIns, () -> {
            queue(t);
            t.flush();
        });
    }

    /**
     * The pids of exited processes whose /proc directories are the task's cwd or root (Firefox's
     * sandbox: chrooted into its helper's fdinfo); a removed one's ("/proc/PID (deleted)") is
     * entered in FILES (FileRestore).
     */
    private static List<Integer> deadProcDirectories(TaskContext t) {
        java.util.Set<Integer> pids = new java.util.TreeSet<>();
        for (String dir : List.of(t.task().cwd(), t.task().root())) {
            int n = dev.cryo.engine.files.RegularFileHandler.procDirectoryPid(dir);
            if (n > 0 && !t.treePids().contains(n) && !java.nio.file.Files.exists(java.nio.file.Path.of("/proc/" + n))) {
                pids.add(n);
            }
        }
        return List.copyOf(pids);
    }

    private void queue(TaskContext t) {
        TaskImage task = t.task();
        List<SyscallBatch.Call> calls = new ArrayList<>();
        List<String> names = new ArrayList<>();
        byte[] cwd = null;
        if (!dev.cryo.engine.restore.SharedMemoryHub.isDeletedDirectory(task.cwd())) {
            cwd = RemoteWriter.cString(task.cwd()); // its address is set by setSigactionsAndRlimits
            calls.add(new SyscallBatch.Call(SyscallNr.CHDIR, 0));
            names.add("chdir(" + task.cwd() + ")");
        } // else entered during FILES, while it stood again (FileRestore)
        calls.add(new SyscallBatch.Call(SyscallNr.UMASK, task.umask()));
        names.add("umask");
        if (task.personality() != 0) {
            calls.add(new SyscallBatch.Call(SyscallNr.PERSONALITY, task.personality()));
            names.add("personality");
        }
        setSigactionsAndRlimits(t, cwd, calls, names, task.sigactions(), task.rlimits());
        setMm(t, task.mm());
        if (!task.root().equals("/")) {
            // cwd and root are both paths as cryo sees them: chdir first, then chroot; last, since
            // the exe setMm opens by its path is outside the new root (vsftpd's chrooted sessions)
            t.later("chroot(" + task.root() + ")", SyscallNr.CHROOT, t.stash(RemoteWriter.cString(task.root())));
        }
        // all of it queued: it runs in the batch of the credentials (CredentialResetFlags runs the queue)
        // the session and group were made in their own stages (SessionAndGroup)
    }

    /** Room for one struct sigaction per signal; the rlimits follow. */
    private static final int SIGACTIONS = 64 * 32;

    /**
     * The calls before ({@code first}, named in {@code firstNames}: chdir with its path {@code cwd}
     * as its first argument's bytes when not null, umask, personality), then every signal's handler,
     * flags, restorer and mask, then every rlimit (prlimit64 by the task on itself, as
     * {@link #setRlimit}), queued ({@link TaskContext#later}) with their structs stashed: with the
     * rest of the task's state up to its credentials, one ptrace round trip instead of two per call
     * (the 16 rlimits alone were 32 of a migrated task's ~96 round trips after the freeze, each
     * waiting for a CPU under load; chdir and umask 4 more).
     */
    static void setSigactionsAndRlimits(TaskContext t, byte[] cwd, List<SyscallBatch.Call> first, List<String> firstNames,
                                        List<SigAction> actions, List<Rlimit> rlimits) {
        List<SigAction> settable = actions.stream()
                .filter(a -> a.signal() != Signals.SIGKILL && a.signal() != Signals.SIGSTOP).toList();
        if (settable.size() * 32 > SIGACTIONS) {
            throw new IllegalStateException(settable.size() + " sigactions");
        }
        RemoteWriter structs = new RemoteWriter(settable.size() * 32 + rlimits.size() * 16);
        for (SigAction a : settable) {
            structs.longs(a.handler(), a.flags(), a.restorer(), a.mask());
        }
        for (Rlimit r : rlimits) {
            if (r.resource() == SignalQueueLimit.RLIMIT_SIGPENDING) { // its own value once its signals are queued
                structs.longs(SignalQueueLimit.room(r), SignalQueueLimit.room(r));
            } else {
                structs.longs(r.soft(), r.hard());
            }
        }
        // each stash's readers queued before the next stash, which may run the queue to make room
        long path = cwd == null ? 0 : t.stash(cwd);
        for (int i = 0; i < first.size(); i++) {
            SyscallBatch.Call c = first.get(i);
            t.later(firstNames.get(i), c.nr(), c.nr() == SyscallNr.CHDIR && cwd != null ? new long[] {path} : c.args());
        }
        long base = t.stash(structs.toBytes());
        for (int i = 0; i < settable.size(); i++) {
            t.later("rt_sigaction(" + Signals.name(settable.get(i).signal()) + ")", SyscallNr.RT_SIGACTION,
                    settable.get(i).signal(), base + i * 32L, 0, 8);
        }
        long limits = base + settable.size() * 32L;
        for (int i = 0; i < rlimits.size(); i++) {
            Rlimit r = rlimits.get(i);
            t.later("prlimit64(pid " + t.pid() + ", resource " + r.resource() + ", " + r.soft() + "/" + r.hard() + ")",
                    SyscallNr.PRLIMIT64, 0, r.resource(), limits + i * 16L, 0);
        }
    }

    /** PR_SET_MM_MAP's struct: 12 addresses and sizes, then the auxv's size and the exe's fd. */
    private static final int MM_MAP = 104;

    /**
     * PR_SET_MM_MAP: the kernel's view of code, data, brk, stack, args, env, auxv and exe; then the
     * mm's registrations and switches. Queued with the exe's open and close, in one batch: call by
     * call they were 7 of a migrated task's 52 ptrace round trips after the freeze.
     */
    private static void setMm(TaskContext t, MmImage mm) {
        // the kernel refuses (EBUSY) to replace an exe that is still mapped: when the task runs
        // the stub's own program, the exe link is already right and stays as it is (-1); the path is
        // the one the task opens, seen through its root (a container's rootfs is not cryo's)
        String exe = t.task().exe().path();
        byte[] auxv = new RemoteWriter(mm.auxv().length * 8).longs(mm.auxv()).toBytes();
        long at = t.areaAtEnd(MM_MAP + auxv.length);
        if (at < 0) { // the kernel takes at most its saved_auxv's few hundred bytes
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + ": its auxv of "
                    + mm.auxv().length + " words is longer than PR_SET_MM_MAP takes");
        }
        java.util.function.LongConsumer setMap = exeFd -> {
            Sys.write(t.pid(), at, new RemoteWriter(MM_MAP + auxv.length).longs(mm.startCode(), mm.endCode(),
                    mm.startData(), mm.endData(), mm.startBrk(), mm.brk(), mm.startStack(), mm.argStart(), mm.argEnd(),
                    mm.envStart(), mm.envEnd(), at + MM_MAP).ints(auxv.length, (int) exeFd).bytes(auxv).toBytes());
            t.later("prctl(PR_SET_MM_MAP)", SyscallNr.PRCTL, PR_SET_MM, PR_SET_MM_MAP, at, MM_MAP, 0);
        };
        if (sameFile("/proc/" + t.pid() + "/root" + exe, "/proc/" + t.pid() + "/exe")) {
            setMap.accept(-1);
        } else if (t.namespaces().userNamespaceOf(t.pid().value()).isPresent()) {
            // refused there, cryo may open it for the task (TaskContext.open), which a queued open cannot
            long exeFd = t.open(exe, t.task().exe(), O_RDONLY | O_CLOEXEC);
            setMap.accept(exeFd);
            t.later("close", SyscallNr.CLOSE, exeFd);
        } else {
            t.laterWithFile(exe, t.task().exe(), O_RDONLY | O_CLOEXEC, setMap);
        }
        // each registration the dumped mm had, as the program made it (MEMBARRIER_CMD_REGISTER_* bits, flags 0)
        for (int bit = 0; bit < 31; bit++) {
            if ((mm.membarrier() & (1 << bit)) != 0) {
                t.later("membarrier(register 0x" + Integer.toHexString(1 << bit) + ")", SyscallNr.MEMBARRIER, 1 << bit, 0, 0);
            }
        }
        if (mm.mdwe() != 0) { // after the memory's final protections (MEMORY): from now on no mapping may gain exec
            t.later("prctl(PR_SET_MDWE, " + mm.mdwe() + ")", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_MDWE, mm.mdwe(), 0, 0, 0);
        }
        if (mm.mergeAny()) { // every mapping is mergeable already (VmFlags); this makes the new ones so too
            t.later("prctl(PR_SET_MEMORY_MERGE)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_MEMORY_MERGE, 1, 0, 0, 0);
        }
        if (mm.mlockFuture() != 0) { // MCL_FUTURE alone leaves the mappings as they are: each has its own lock (VmFlags)
            t.later("mlockall(0x" + Integer.toHexString(mm.mlockFuture()) + ")", SyscallNr.MLOCKALL, mm.mlockFuture());
        }
        if (mm.thpDisabled()) {
            t.later("prctl(PR_SET_THP_DISABLE)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
        Path filter = Path.of("/proc/" + t.pid() + "/coredump_filter"); // no queued call touches it
        try {
            Files.writeString(filter, "0x" + Long.toHexString(mm.coredumpFilter())); // read as base 0
        } catch (IOException e) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + ": cannot set its coredump_filter to "
                    + Long.toHexString(mm.coredumpFilter()) + ": " + e);
        }
    }

    private static boolean sameFile(String a, String b) {
        try {
            return Files.isSameFile(Path.of(a), Path.of(b));
        } catch (IOException e) {
            return false;
        }
    }
}
