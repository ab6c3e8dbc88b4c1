package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.ReturnPad;
import dev.cryo.kernel.ptrace.SyscallBatch;
import dev.cryo.kernel.ptrace.SigreturnRoute;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A seized process seen from its tracer thread: a scratch page mapped into it for syscall outputs,
 * followed by one {@link ReturnPad} per thread, the gadget its injected syscalls run through. If
 * cryo dies in the middle of an injection, the kernel lets the thread go where the injection left
 * it, and the pad takes it back to its own registers. The two injections that map and unmap the
 * area (a pad cannot unmap itself) go through the process's {@link SigreturnRoute}, which is as
 * safe; only a process without one (no C library's {@code __restore_rt}, a shadow stack) has them
 * run unprotected at a {@code syscall} of its vDSO. {@link #close} unmaps the area, leaving no
 * trace.
 */
public final class RemoteTask implements AutoCloseable {
    public static final long PAGE = 4096;

    private final Tracer tracer;
    private final Pid pid;
    private static final int PADS_PER_PAGE = (int) (PAGE / ReturnPad.SIZE);
    private static final int AREA_FLAGS = VmaImage.MAP_PRIVATE | VmaImage.MAP_ANONYMOUS;
    /** The kernel's gap below a stack no mapping may take (stack_guard_gap: 256 pages by default), and a margin. */
    private static final long STACK_GUARD_GAP = 512 * PAGE;
    /** Pages at the end of the area for a {@link SyscallBatch}: code, table and outputs. */
    public static final int BATCH_PAGES = 3;

    private final long gadget;
    private final SigreturnRoute route;
    private final List<MapsEntry> maps;
    private final long scratch;
    private final long length;
    private final boolean padded;
    private final Map<Integer, Long> pads = new HashMap<>();
    /** Each thread's /proc status, read once: its seccomp mode and the caught signals hold while it is seized. */
    private final Map<Integer, dev.cryo.kernel.proc.ProcStatus> statuses = new HashMap<>();
    private final Map<Integer, List<byte[]>> seccompFilters = new HashMap<>();
    /** Whether the process runs Go, read at its first batch (null: not yet). */
    private Boolean goRuntime;
    /** Its threads lifted for the injections ({@link #liftPriority}); null: not lifted. */
    private InjectionPriority priority;

    /** For a process whose threads cannot change while it is seized. */
    public RemoteTask(Tracer tracer, Pid pid, List<MapsEntry> maps) {
        this(tracer, pid, maps, ProcFs.tasks(pid).size());
    }

    public RemoteTask(Tracer tracer, Pid pid, List<MapsEntry> maps, int threads) {
        this.tracer = tracer;
        this.pid = pid;
        this.gadget = SyscallGadget.inVdso(pid, maps);
        this.route = SigreturnRoute.find(pid, maps);
        this.maps = maps;
        this.length = PAGE * (1 + (threads + PADS_PER_PAGE - 1) / PADS_PER_PAGE + BATCH_PAGES);
        long hint = apart(maps, length);
        try (Injector inj = unpadded(ExitedLeaders.reader(pid.value()))) {
            long at = inj.raw(SyscallNr.MMAP, hint, length, 7 /* RWX */, AREA_FLAGS, -1, 0);
            // a process denied write+execute mappings (PR_SET_MDWE, a seccomp filter) gets no pads: every
            // injection takes the sigreturn route, or is unprotected without one
            this.padded = !Injector.isError(at);
            long rw = padded ? at : inj.raw(SyscallNr.MMAP, hint, length, 3 /* RW */, AREA_FLAGS, -1, 0);
            if (Injector.isError(rw)) {
                throw noRoom(pid, maps, length, rw);
            }
            this.scratch = rw;
        }
    }

    /**
     * Why cryo's area could not be mapped in the task, in its terms: a task at its address-space limit (stress-ng's
     * rlimit stressor) failed the dump with a bare "mmap(0x7fcd0e172000, 20480, 3) in pid N: ENOMEM".
     * The mmap's error comes out whatever the read of the limits meets (a task gone meanwhile).
     */
    static DumpException noRoom(Pid pid, List<MapsEntry> maps, long length, long r) {
        String why = Injector.errorText(r);
        if (-r == dev.cryo.kernel.Errno.ENOMEM) {
            try {
                dev.cryo.kernel.proc.Limits.Limit as = ProcFs.limits(pid).get(dev.cryo.kernel.proc.Limits.RLIMIT_AS);
                long mapped = maps.stream().mapToLong(m -> m.end() - m.start()).sum();
                if (as != null && !as.softUnlimited() && mapped + length > as.soft()) {
                    why += ": it maps " + mapped + " bytes and its address-space limit (RLIMIT_AS) is " + as.soft()
                            + " bytes, leaving no room for cryo's " + length + " bytes; raise the limit (prlimit --as) to dump it";
                }
            } catch (RuntimeException e) {
                why += "; its limits could not be read: " + e.getMessage();
            }
        }
        return new DumpException("pid " + pid + ": cryo's working area could not be mapped in it (" + why + ")");
    }

    /**
     * Where the area goes with a free page on each side, so that it never merges with a program's area: mapped
     * where the kernel puts the next mapping, right below the task's lowest area, it merged into one alike
     * (varnish's rwx thread stacks — its compiled VCL asks for an executable stack —, SBCL's rwx MAP_NORESERVE
     * spaces), and a pre-copy's area mapped before the freeze was then "no longer mapped as it was" and mapped
     * again frozen, while observers of the frozen tree saw one area of both. A page above the highest mapping
     * under the stack and its guard gap: above mmap_base, where the kernel puts no mapping of its own choice.
     * 0 (the kernel's choice, as before) where there is no such room; the kernel also takes 0's way when the
     * place is taken since {@code maps} was read.
     */
    static long apart(List<MapsEntry> maps, long length) {
        MapsEntry stack = maps.stream().filter(MapsEntry::isStack).findFirst().orElse(null);
        if (stack == null) {
            return 0;
        }
        long below = maps.stream().filter(m -> m.end() <= stack.start()).mapToLong(MapsEntry::end).max().orElse(0);
        long at = below + PAGE;
        return below > 0 && at + length + PAGE <= stack.start() - STACK_GUARD_GAP ? at : 0;
    }

    public Pid pid() {
        return pid;
    }

    /** The address of a {@code syscall} instruction in the process's vDSO. */
    public long gadget() {
        return gadget;
    }

    public Tracer tracer() {
        return tracer;
    }

    public long scratch() {
        return scratch;
    }

    /** Bytes of the area from {@link #scratch}. */
    public long length() {
        return length;
    }

    /**
     * Forgets what was read of the threads while they were seized (status, seccomp filters): for an
     * area mapped while the task ran, seized again since (it may have added a filter meanwhile).
     */
    public void seizedAgain() {
        statuses.clear();
        seccompFilters.clear();
    }

    /** Whether the area has a return pad for each of {@code threads} threads. */
    public boolean fits(int threads) {
        return !padded || scratch + PAGE + (long) threads * ReturnPad.SIZE <= batchArea();
    }

    /** Whether {@code maps} lists the area as cryo mapped it: alone, not merged with a neighbour nor cut. */
    public boolean mappedAlone(List<MapsEntry> maps) {
        return maps.stream().anyMatch(m -> m.start() == scratch && m.end() == scratch + length && m.path().isEmpty()
                && m.read() && m.write() && m.exec() == padded && !m.shared());
    }

    /** Whether the whole area is still mapped in {@code maps}, alone or merged with a neighbour. */
    public boolean mappedWithin(List<MapsEntry> maps) {
        return maps.stream().anyMatch(m -> m.start() <= scratch && scratch + length <= m.end());
    }

    /**
     * An injector for one stopped thread of this task, running through the thread's return pad
     * (written before any register changes); close it to put the thread's registers back.
     */
    public Injector injector(int tid) {
        tid = ExitedLeaders.reader(tid); // an exited main thread's calls go to its stand-in
        if (!padded) {
            return unpadded(tid);
        }
        Injector inj = new Injector(tracer, pid, tid, gadget);
        Long pad = pads.get(tid);
        if (pad == null) {
            pad = scratch + PAGE + (long) pads.size() * ReturnPad.SIZE;
            if (pad + ReturnPad.SIZE > batchArea()) {
                throw new KernelException("pid " + pid + ": more threads than return pads (" + pads.size() + ")");
            }
            pads.put(tid, pad);
        }
        Sys.write(pid, pad, ReturnPad.build(inj.savedRegisters(), tracer.getSigmask(tid)));
        inj.gadget(pad);
        return inj;
    }

    /** The status of thread {@code tid} read while it was seized, for {@link #batch} not to read it again. */
    public void statusRead(int tid, dev.cryo.kernel.proc.ProcStatus status) {
        statuses.put(tid, status);
    }

    /** Start of the batch pages (executable only where the area has pads). */
    public long batchArea() {
        return scratch + length - BATCH_PAGES * PAGE;
    }

    /**
     * Runs {@code calls} in one ptrace round trip through a {@link SyscallBatch} in the thread of
     * {@code inj} (an injector of this task), with outputs at {@link #batchOutput}; null when the
     * thread cannot take a batch (no return pads, seccomp, no signal to stop it with): the caller
     * injects call by call then.
     */
    public long[] batch(Injector inj, List<SyscallBatch.Call> calls) {
        if (!padded || SyscallBatch.size(calls.size()) > BATCH_TABLE) {
            return null;
        }
        if (goRuntime == null) {
            goRuntime = dev.cryo.kernel.proc.GoRuntime.runs(pid);
        }
        dev.cryo.kernel.proc.ProcStatus status = statuses.computeIfAbsent(inj.tid(),
                tid -> ProcFs.status(pid, dev.cryo.kernel.Pid.of(tid)));
        int signal = SyscallBatch.stopSignal(status, tracer.getSigmask(inj.tid()), tracer.pendingSignals(inj.tid()),
                goRuntime, sig -> SyscallBatch.endsUnderFilters(filtersOf(inj.tid()), batchArea(),
                        innermost(status.nsTgid(), pid.value()), innermost(status.nsPid(), inj.tid()), sig, calls.size()));
        if (signal == 0) {
            return null;
        }
        return SyscallBatch.run(tracer, inj, batchArea(), calls, signal);
    }

    /** A thread's seccomp filters (empty when they cannot be read: no batch then), read at its first batch. */
    private List<byte[]> filtersOf(int tid) {
        try {
            return seccompPrograms(tid);
        } catch (dev.cryo.kernel.KernelException unreadable) {
            return List.of();
        }
    }

    /**
     * A seized thread's seccomp filter programs, oldest first (PTRACE_SECCOMP_GET_FILTER), read once: the
     * batch's judgement and the image's filter table take the same copy.
     */
    List<byte[]> seccompPrograms(int tid) {
        List<byte[]> read = seccompFilters.get(tid);
        if (read == null) {
            read = new java.util.ArrayList<>();
            for (byte[] p; (p = tracer.seccompFilter(tid, read.size())) != null; ) { // the kernel bounds a chain's length
                read.add(p);
            }
            seccompFilters.put(tid, read = List.copyOf(read));
        }
        return read;
    }

    /** The id as the thread sees it: the last of /proc's NStgid or NSpid ({@code fallback} without them). */
    private static int innermost(List<Integer> ids, int fallback) {
        return ids == null || ids.isEmpty() ? fallback : ids.get(ids.size() - 1);
    }

    /** Room for a batch's outputs (bytes from {@link #batchOutput}). */
    public static final int BATCH_OUTPUT_SIZE = (int) PAGE;
    /** The code and table take the pages before the outputs: the main thread's reads are some 70 calls. */
    private static final int BATCH_TABLE = (int) ((BATCH_PAGES - 1) * PAGE);
    /** The most calls a batch takes. */
    public static final int BATCH_CALLS = (BATCH_TABLE - SyscallBatch.CODE - 8) / SyscallBatch.ENTRY - 1;

    /** Where a batch's calls write what they return through pointers. */
    public long batchOutput() {
        return batchArea() + BATCH_TABLE;
    }

    public byte[] readBatchOutput(int len) {
        return Sys.read(pid, batchOutput(), len);
    }

    /**
     * An injector that needs no pad: through the sigreturn route when the process and the
     * thread's stack allow it, else at the vDSO's {@code syscall}, unprotected.
     */
    private Injector unpadded(int tid) {
        return unpadded(tracer, pid, tid, gadget, route, maps);
    }

    /** An injector for a seized thread of a process without cryo's area mapped (a few calls, no outputs). */
    public static Injector bareInjector(Tracer tracer, Pid pid, int tid, List<MapsEntry> maps) {
        return unpadded(tracer, pid, tid, SyscallGadget.inVdso(pid, maps), SigreturnRoute.find(pid, maps), maps);
    }

    /** What maps and unmaps the area of a seized process: for tests that let go of it mid-call. */
    public static Injector areaInjector(Tracer tracer, Pid pid, List<MapsEntry> maps) {
        MapsEntry vdso = maps.stream().filter(MapsEntry::isVdso).findFirst().orElseThrow();
        return unpadded(tracer, pid, pid.value(), SyscallGadget.find(pid, vdso.start(), vdso.end()),
                SigreturnRoute.find(pid, maps), maps);
    }

    private static Injector unpadded(Tracer tracer, Pid pid, int tid, long gadget, SigreturnRoute route,
                                     List<MapsEntry> maps) {
        Injector inj = new Injector(tracer, pid, ExitedLeaders.reader(tid), gadget);
        if (route != null) {
            route.arm(tracer, inj, maps);
        }
        return inj;
    }

    public byte[] readScratch(int len) {
        return Sys.read(pid, scratch, len);
    }

    @Override
    public void close() {
        try (Injector inj = unpadded(ExitedLeaders.reader(pid.value()))) {
            inj.call("munmap", SyscallNr.MUNMAP, scratch, length);
        } finally {
            putBackPriority();
        }
    }

    /** Holds {@code lifted} (null: none) until {@link #putBackPriority} or {@link #close}. */
    public void holdPriority(InjectionPriority lifted) {
        putBackPriority();
        priority = lifted;
    }

    /** The thread's scheduling state as it was before {@link #holdPriority its lift}; null when not lifted. */
    public dev.cryo.engine.model.SchedImage schedBefore(int tid) {
        return priority == null ? null : priority.before(tid);
    }

    /** How many of its threads are lifted now. */
    public int liftedThreads() {
        return priority == null ? 0 : priority.liftedThreads();
    }

    /** Puts the lifted threads back as they were; nothing when none is lifted. */
    public void putBackPriority() {
        InjectionPriority p = priority;
        priority = null;
        if (p != null) {
            p.putBack();
        }
    }
}
