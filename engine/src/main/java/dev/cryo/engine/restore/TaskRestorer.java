package dev.cryo.engine.restore;

import dev.cryo.engine.model.Creds;
import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.MmImage;
import dev.cryo.engine.model.Rlimit;
import dev.cryo.engine.model.SigAction;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.model.VmaKind;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Ptrace;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.RseqConfig;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns a stub process into one dumped task, from outside, by injected syscalls (the order that
 * was verified on this kernel, see kernel.md). Runs on the task's tracer thread; page contents
 * are written by others in between {@link #mapMemory} and {@link #protectMemory}.
 */
public final class TaskRestorer {
    public static final int TRACE_OPTIONS = Ptrace.O_TRACESYSGOOD | Ptrace.O_TRACEFORK | Ptrace.O_TRACECLONE
            | Ptrace.O_EXITKILL;

    private static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_FIXED = 0x10, MAP_GROWSDOWN = 0x100,
            MAP_NORESERVE = 0x4000, MAP_FIXED_NOREPLACE = 0x100000;
    private static final int PROT_RWX = 7, PROT_WRITE = 2;
    private static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 02000000;
    private static final int MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;
    private static final long CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800,
            CLONE_THREAD = 0x10000, CLONE_SYSVSEM = 0x40000;
    private static final int PR_SET_PDEATHSIG = 1, PR_SET_NAME = 15, PR_SET_MM = 35, PR_SET_MM_MAP = 14;
    private static final int ERESTARTSYS = 512, ERESTARTNOINTR = 513, ERESTARTNOHAND = 514, ERESTART_RESTARTBLOCK = 516;

    private final Tracer tracer;
    private final TaskImage task;
    private final Pid pid;
    private final BootstrapArea boot;
    private final java.util.Set<Integer> treePids;
    private final List<Integer> forked = new ArrayList<>();
    private Injector main;

    /** {@code treePids}: every pid of the image; groups and sessions led from outside it are not recreated. */
    public TaskRestorer(Tracer tracer, TaskImage task, BootstrapArea boot, java.util.Set<Integer> treePids) {
        this.tracer = tracer;
        this.task = task;
        this.pid = Pid.of(task.pid());
        this.boot = boot;
        this.treePids = java.util.Set.copyOf(treePids);
    }

    public Pid pid() {
        return pid;
    }

    // ---- FORK ----------------------------------------------------------------------------------

    /**
     * Seizes the stub (a fresh spawn, or a child handed over in the bootstrap's pause loop), drops
     * its rseq registration, and makes sure the bootstrap area is mapped; from then on syscalls are
     * injected through the bootstrap gadget.
     */
    public void adopt(boolean mapBootstrap) {
        tracer.seizeAndInterrupt(pid.value(), TRACE_OPTIONS);
        tracer.waitForStop(pid.value());
        List<MapsEntry> maps = ProcFs.maps(pid);
        long gadget;
        if (mapBootstrap) {
            MapsEntry vdso = maps.stream().filter(MapsEntry::isVdso).findFirst()
                    .orElseThrow(() -> new KernelException("stub " + pid + " has no [vdso]"));
            gadget = SyscallGadget.find(pid, vdso.start(), vdso.end());
        } else {
            gadget = boot.gadget();
        }
        main = new Injector(tracer, pid, pid.value(), gadget);
        main.keepRegistersOnClose();
        // a stub that ran glibc has rseq registered on memory we are about to unmap
        int xstate = tracer.getXstate(pid.value()).length;
        for (ThreadImage t : task.threads()) {
            if (t.xstate().length != xstate) {
                throw new RestoreException("the image was dumped on a CPU with a " + t.xstate().length
                        + "-byte XSAVE area, this one has " + xstate + ": restore on a machine with the same CPU features");
            }
        }
        RseqConfig rseq = tracer.getRseq(pid.value());
        if (rseq.registered()) {
            main.call("rseq(unregister)", SyscallNr.RSEQ, rseq.address(), rseq.size(), 1, rseq.signature());
        }
        if (mapBootstrap) {
            long at = main.call("mmap(bootstrap)", SyscallNr.MMAP, boot.address(), BootstrapArea.CODE_AND_DATA,
                    PROT_RWX, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (at != boot.address()) {
                throw new KernelException("bootstrap area landed at 0x" + Long.toHexString(at));
            }
            Sys.write(pid, boot.address(), BootstrapArea.CODE);
            main.gadget(boot.gadget());
        }
    }

    /**
     * Forks a child of this stub with the exact pid it had, then parks it in the pause loop and
     * lets it go, so the child's own tracer thread can seize it.
     */
    public void forkChild(int childPid) {
        byte[] args = new RemoteWriter(96).longs(0, 0, 0, 0, Signals.SIGCHLD, 0, 0, 0, boot.data() + 88, 1, 0)
                .ints(childPid).toBytes();
        Sys.write(pid, boot.data(), args);
        long r = main.raw(SyscallNr.CLONE3, boot.data(), 88);
        List<Integer> born = tracer.takeNewTracees();
        if (Injector.isError(r)) {
            throw (int) -r == Errno.EEXIST
                    ? new RestoreException("pid " + childPid + " is in use")
                    : new SyscallException("clone3(set_tid " + childPid + ") in pid " + pid, (int) -r);
        }
        forked.add((int) r); // from here on, a failure must kill it too
        if (r != childPid || !born.contains(childPid)) {
            throw new RestoreException("asked for pid " + childPid + " and got " + r);
        }
        tracer.waitForStop(childPid);
        Registers regs = tracer.getRegisters(childPid);
        tracer.setRegisters(childPid, regs.with(Registers.RIP, boot.pauseLoop()).with(Registers.ORIG_RAX, -1));
        tracer.detach(childPid, childPid);
    }

    // ---- MEMORY --------------------------------------------------------------------------------

    /** Unmaps the stub, moves the vDSO block to its dumped place and maps every dumped VMA. */
    public void mapMemory(SharedMemoryHub shared) {
        for (MapsEntry m : ProcFs.maps(pid)) {
            if (m.isVdso() || m.isVvar() || m.isVsyscall() || m.start() == boot.address()) {
                continue;
            }
            main.call("munmap(stub " + m.path() + ")", SyscallNr.MUNMAP, m.start(), m.size());
        }
        moveVdsoBlock();
        for (VmaImage v : task.vmas()) {
            if (v.kind().isVdsoBlock() || v.kind() == VmaKind.VSYSCALL) {
                continue;
            }
            mapVma(v, shared);
        }
    }

    private void moveVdsoBlock() {
        List<MapsEntry> now = ProcFs.maps(pid).stream().filter(m -> m.isVdso() || m.isVvar()).toList();
        List<VmaImage> dumped = task.vmas().stream().filter(v -> v.kind().isVdsoBlock()).toList();
        if (dumped.isEmpty()) {
            return;
        }
        if (now.size() != dumped.size()) {
            throw new RestoreException("the vDSO block here (" + describe(now) + ") differs from the dumped one: "
                    + "restore on a machine with the same kernel");
        }
        // park first so no move lands on an area not moved yet, then place at the dumped addresses
        long parking = boot.vdsoParking();
        long[] parked = new long[now.size()];
        for (int i = 0; i < now.size(); i++) {
            MapsEntry m = now.get(i);
            VmaImage d = dumped.get(i);
            if (!m.path().equals(pathOf(d.kind())) || m.size() != d.end() - d.start()) {
                throw new RestoreException("the vDSO block here (" + describe(now) + ") differs from the dumped one: "
                        + "restore on a machine with the same kernel");
            }
            parked[i] = main.call("mremap(" + m.path() + ")", SyscallNr.MREMAP, m.start(), m.size(), m.size(),
                    MREMAP_MAYMOVE | MREMAP_FIXED, parking);
            parking += m.size();
        }
        for (int i = 0; i < now.size(); i++) {
            VmaImage d = dumped.get(i);
            main.call("mremap(" + pathOf(d.kind()) + ")", SyscallNr.MREMAP, parked[i], d.end() - d.start(),
                    d.end() - d.start(), MREMAP_MAYMOVE | MREMAP_FIXED, d.start());
        }
    }

    private static String pathOf(VmaKind k) {
        return switch (k) {
            case VDSO -> "[vdso]";
            case VVAR -> "[vvar]";
            case VVAR_VCLOCK -> "[vvar_vclock]";
            default -> "";
        };
    }

    private static String describe(List<MapsEntry> areas) {
        return String.join(", ", areas.stream().map(m -> m.path() + " " + m.pages() + " pages").toList());
    }

    private void mapVma(VmaImage v, SharedMemoryHub sharedMemory) {
        long len = v.end() - v.start();
        // mappings whose pages cryo writes get PROT_WRITE until then; shared files keep theirs
        int prot = v.kind() == VmaKind.FILE_SHARED ? v.prot() : v.prot() | PROT_WRITE;
        int flags = (v.flags() & (VmaImage.MAP_SHARED | VmaImage.MAP_PRIVATE)) | MAP_FIXED;
        if ((v.flags() & VmaImage.MAP_GROWSDOWN) != 0) {
            flags |= MAP_GROWSDOWN;
        }
        if (v.prot() == 0) {
            flags |= MAP_NORESERVE;
        }
        if (v.kind() == VmaKind.SHARED_ANON) {
            long fd = openRemote(sharedMemory.path(v.file().ino()), O_RDWR | O_CLOEXEC);
            try {
                main.call("mmap(shared memory)", SyscallNr.MMAP, v.start(), len, prot, flags, fd, v.offset());
            } finally {
                main.call("close", SyscallNr.CLOSE, fd);
            }
            return;
        }
        if (v.file() == null) {
            main.call("mmap(0x" + Long.toHexString(v.start()) + ")", SyscallNr.MMAP, v.start(), len, prot,
                    flags | MAP_ANONYMOUS, -1, 0);
            return;
        }
        int mode = v.kind() == VmaKind.FILE_SHARED && (v.prot() & PROT_WRITE) != 0 ? O_RDWR : O_RDONLY;
        long fd = openRemote(v.file().path(), mode | O_CLOEXEC);
        try {
            main.call("mmap(" + v.file().path() + ")", SyscallNr.MMAP, v.start(), len, prot, flags, fd, v.offset());
        } finally {
            main.call("close", SyscallNr.CLOSE, fd);
        }
    }

    private long openRemote(String path, int flags) {
        Sys.write(pid, boot.data(), RemoteWriter.cString(path));
        return main.call("open(" + path + ")", SyscallNr.OPENAT, -100, boot.data(), flags, 0);
    }

    /** Final protections, once the page writers are done. */
    public void protectMemory() {
        for (VmaImage v : task.vmas()) {
            if (v.kind().isVdsoBlock() || v.kind() == VmaKind.VSYSCALL) {
                continue;
            }
            if (v.kind() != VmaKind.FILE_SHARED && (v.prot() & PROT_WRITE) == 0) {
                main.call("mprotect", SyscallNr.MPROTECT, v.start(), v.end() - v.start(), v.prot());
            }
        }
    }

    // ---- FILES ---------------------------------------------------------------------------------

    /**
     * Closes the stub's fds and recreates every dumped fd at its number through its kind's handler;
     * kinds that refer to other fds (epoll) come last.
     */
    public void restoreFiles(PipeHub pipes) {
        main.call("close_range", SyscallNr.CLOSE_RANGE, 0, 0xffffffffL, 0);
        FdHandler.RestoreContext ctx = new FdHandler.RestoreContext() {
            @Override
            public long open(String path, int flags) {
                return openRemote(path, flags);
            }

            @Override
            public long call(String name, int nr, long... args) {
                return main.call(name, nr, args);
            }

            @Override
            public long put(byte[] data) {
                if (data.length > BootstrapArea.DATA_SIZE) {
                    throw new IllegalArgumentException(data.length + " bytes do not fit the bootstrap data area");
                }
                Sys.write(pid, boot.data(), data);
                return boot.data();
            }

            @Override
            public String pipePath(long pipeId, boolean readEnd) {
                return pipes.path(pipeId, readEnd);
            }
        };
        List<FdImage> ordered = new ArrayList<>(task.fds());
        ordered.sort(java.util.Comparator.comparing(fd -> FdHandlers.of(fd.desc()).restoresLast()));
        for (FdImage fd : ordered) {
            long tmp = FdHandlers.of(fd.desc()).restore(fd, ctx);
            if (tmp != fd.fd()) {
                main.call("dup3", SyscallNr.DUP3, tmp, fd.fd(), fd.flags() & O_CLOEXEC);
                main.call("close", SyscallNr.CLOSE, tmp);
            }
        }
    }

    // ---- PROCESS STATE -------------------------------------------------------------------------

    public void restoreProcessState() {
        Sys.write(pid, boot.data(), RemoteWriter.cString(task.cwd()));
        main.call("chdir(" + task.cwd() + ")", SyscallNr.CHDIR, boot.data());
        if (!task.root().equals("/")) {
            // cwd and root are both paths as cryo sees them: chdir first, then chroot
            Sys.write(pid, boot.data(), RemoteWriter.cString(task.root()));
            main.call("chroot(" + task.root() + ")", SyscallNr.CHROOT, boot.data());
        }
        main.call("umask", SyscallNr.UMASK, task.umask());
        if (task.personality() != 0) {
            main.call("personality", SyscallNr.PERSONALITY, task.personality());
        }
        for (SigAction a : task.sigactions()) {
            if (a.signal() == Signals.SIGKILL || a.signal() == Signals.SIGSTOP) {
                continue;
            }
            Sys.write(pid, boot.data(), new RemoteWriter(32).longs(a.handler(), a.flags(), a.restorer(), a.mask()).toBytes());
            main.call("rt_sigaction(" + Signals.name(a.signal()) + ")", SyscallNr.RT_SIGACTION, a.signal(), boot.data(), 0, 8);
        }
        for (Rlimit r : task.rlimits()) {
            Sys.setRlimit(pid, r.resource(), r.soft(), r.hard());
        }
        setMm(task.mm());
        // a session or group led from outside the tree (a shell job's) cannot be joined: the task
        // stays in cryo's, as with criu --shell-job
        if (task.ids().sid() == pid.value() && ProcFs.stat(pid).session() != pid.value()) {
            main.call("setsid", SyscallNr.SETSID);
        }
        if (treePids.contains(task.ids().pgid()) && ProcFs.stat(pid).pgrp() != task.ids().pgid()) {
            main.call("setpgid", SyscallNr.SETPGID, 0, task.ids().pgid());
        }
    }

    /** PR_SET_MM_MAP: the kernel's view of code, data, brk, stack, args, env, auxv and exe. */
    private void setMm(MmImage mm) {
        // the kernel refuses (EBUSY) to replace an exe that is still mapped: when the task runs
        // the stub's own program, the exe link is already right and stays as it is (-1)
        long exeFd = sameFile(task.exe().path(), "/proc/" + pid + "/exe") ? -1
                : openRemote(task.exe().path(), O_RDONLY | O_CLOEXEC);
        try {
            long auxvAt = boot.data() + 128;
            byte[] map = new RemoteWriter(104).longs(mm.startCode(), mm.endCode(), mm.startData(), mm.endData(),
                    mm.startBrk(), mm.brk(), mm.startStack(), mm.argStart(), mm.argEnd(), mm.envStart(), mm.envEnd(),
                    auxvAt).ints(mm.auxv().length * 8, (int) exeFd).toBytes();
            Sys.write(pid, boot.data(), map);
            Sys.write(pid, auxvAt, new RemoteWriter(mm.auxv().length * 8).longs(mm.auxv()).toBytes());
            main.call("prctl(PR_SET_MM_MAP)", SyscallNr.PRCTL, PR_SET_MM, PR_SET_MM_MAP, boot.data(), 104, 0);
        } finally {
            if (exeFd >= 0) {
                main.call("close", SyscallNr.CLOSE, exeFd);
            }
        }
    }

    private static boolean sameFile(String a, String b) {
        try {
            return java.nio.file.Files.isSameFile(java.nio.file.Path.of(a), java.nio.file.Path.of(b));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    // ---- THREADS -------------------------------------------------------------------------------

    /** Creates every other thread with its exact tid; each starts traced and stopped. */
    public void createThreads() {
        for (ThreadImage t : task.threads()) {
            if (t.tid() == pid.value()) {
                continue;
            }
            long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
            byte[] args = new RemoteWriter(96).longs(flags, 0, 0, 0, 0, 0, 0, 0, boot.data() + 88, 1, 0)
                    .ints(t.tid()).toBytes();
            Sys.write(pid, boot.data(), args);
            long r = main.raw(SyscallNr.CLONE3, boot.data(), 88);
            List<Integer> born = tracer.takeNewTracees();
            if (Injector.isError(r)) {
                throw (int) -r == Errno.EEXIST ? new RestoreException("tid " + t.tid() + " is in use")
                        : new SyscallException("clone3(thread " + t.tid() + ") in pid " + pid, (int) -r);
            }
            if (r != t.tid() || !born.contains(t.tid())) {
                throw new RestoreException("asked for tid " + t.tid() + " and got " + r);
            }
            tracer.waitForStop(t.tid());
        }
    }

    /** Per-thread kernel state that only the thread itself can set. */
    public void restoreThreadState() {
        for (ThreadImage t : task.threads()) {
            Injector inj = t.tid() == pid.value() ? main : new Injector(tracer, pid, t.tid(), boot.gadget());
            if (t.rseqAddress() != 0) {
                inj.call("rseq", SyscallNr.RSEQ, t.rseqAddress(), t.rseqLength(), 0, t.rseqSignature());
            }
            if (t.robustListHead() != 0) {
                inj.call("set_robust_list", SyscallNr.SET_ROBUST_LIST, t.robustListHead(), t.robustListLength());
            }
            inj.call("set_tid_address", SyscallNr.SET_TID_ADDRESS, t.clearChildTid());
            if (t.altStackSp() != 0 || t.altStackSize() != 0) {
                Sys.write(pid, boot.data(), new RemoteWriter(24).longs(t.altStackSp()).ints(t.altStackFlags(), 0)
                        .longs(t.altStackSize()).toBytes());
                inj.call("sigaltstack", SyscallNr.SIGALTSTACK, boot.data(), 0);
            }
            Sys.write(pid, boot.data(), RemoteWriter.cString(t.name()));
            inj.call("prctl(PR_SET_NAME)", SyscallNr.PRCTL, PR_SET_NAME, boot.data());
            if (t.pdeathSignal() != 0) {
                inj.call("prctl(PR_SET_PDEATHSIG)", SyscallNr.PRCTL, PR_SET_PDEATHSIG, t.pdeathSignal());
            }
            tracer.setSigmask(t.tid(), t.sigmask());
            for (byte[] info : t.pendingSignals()) {
                queue(inj, t.tid(), info);
            }
            restoreCredentials(inj);
        }
        for (byte[] info : task.sharedPendingSignals()) {
            Sys.write(pid, boot.data(), info);
            main.call("rt_sigqueueinfo", 129, pid.value(), signo(info), boot.data());
        }
    }

    /**
     * Groups, gids, then uids (which drop privilege, so last). The kernel keeps credentials per
     * thread (glibc's setxid broadcast is what makes them look per-process), so each thread gets
     * its own calls. Nothing to do for root, which the stub already is.
     */
    private void restoreCredentials(Injector inj) {
        Creds c = task.creds();
        boolean root = c.uids().stream().allMatch(u -> u == 0) && c.gids().stream().allMatch(g -> g == 0)
                && c.groups().isEmpty();
        if (root) {
            return;
        }
        Sys.write(pid, boot.data(), new RemoteWriter(4 * c.groups().size() + 4)
                .ints(c.groups().stream().mapToInt(Integer::intValue).toArray()).toBytes());
        inj.call("setgroups", SETGROUPS, c.groups().size(), boot.data());
        inj.call("setresgid", SETRESGID, c.gids().get(0), c.gids().get(1), c.gids().get(2));
        inj.call("setresuid", SETRESUID, c.uids().get(0), c.uids().get(1), c.uids().get(2));
    }

    private static final int SETRESUID = 117, SETRESGID = 119, SETGROUPS = 116;

    private void queue(Injector inj, int tid, byte[] info) {
        Sys.write(pid, boot.data(), info);
        inj.call("rt_tgsigqueueinfo", SyscallNr.RT_TGSIGQUEUEINFO, pid.value(), tid, signo(info), boot.data());
    }

    private static int signo(byte[] info) {
        return (info[0] & 0xff) | (info[1] & 0xff) << 8 | (info[2] & 0xff) << 16 | (info[3] & 0xff) << 24;
    }

    /**
     * Unmaps the bootstrap (the main thread's last injected call: at its exit stop the int3 is never
     * fetched) and installs every thread's dumped registers, with syscall restarts done by hand.
     */
    public void installRegisters() {
        main.call("munmap(bootstrap)", SyscallNr.MUNMAP, boot.address(), BootstrapArea.CODE_AND_DATA);
        for (ThreadImage t : task.threads()) {
            tracer.setXstate(t.tid(), t.xstate());
            tracer.setRegisters(t.tid(), resumeFrame(new Registers(t.regs())));
        }
    }

    /** The frame a thread resumes with: a syscall interrupted by the dump runs again, as the kernel would. */
    static Registers resumeFrame(Registers r) {
        long rax = r.rax();
        if (r.origRax() >= 0 && (rax == -ERESTARTSYS || rax == -ERESTARTNOINTR || rax == -ERESTARTNOHAND
                || rax == -ERESTART_RESTARTBLOCK)) {
            r = r.with(Registers.RAX, r.origRax()).with(Registers.RIP, r.rip() - 2);
        }
        // orig_rax = -1: at detach the kernel must not apply its own restart logic on top
        return r.with(Registers.ORIG_RAX, -1);
    }

    public List<Integer> tids() {
        List<Integer> out = new ArrayList<>();
        task.threads().forEach(t -> out.add(t.tid()));
        return out;
    }

    /** All threads go at once (the supervisor calls this for every task at the same barrier). */
    public void resume() {
        for (int tid : tids()) {
            tracer.detach(pid.value(), tid);
        }
    }

    /**
     * Failure path: nothing half-restored may survive — neither this task nor the children it
     * forked (they may not have a tracer of their own yet).
     */
    public void kill() {
        List<Integer> all = new ArrayList<>(forked);
        all.add(0, pid.value());
        for (int p : all) {
            try {
                Sys.kill(Pid.of(p), Signals.SIGKILL);
            } catch (KernelException ignored) {
                // already gone
            }
        }
        for (int tid : new ArrayList<>(tracer.tracees())) {
            tracer.forget(tid);
        }
    }
}
