package dev.cryo.engine.model;

import java.util.List;

/**
 * One thread: registers (user_regs_struct words), the XSAVE area at the kernel's size, signal
 * mask, rseq, robust list, clear-child-tid, sigaltstack, signals pending for it alone, its name
 * (comm, per thread), its parent-death signal, its security state, its scheduling state, and the
 * relative sleep it was in when dumped ({@code sleep}, null when none), its fault switches
 * ({@link ThreadTraps}), its own cwd, root and umask ({@code fs}, null when it shares its process's), and the
 * namespaces it made or entered alone ({@code ns}, null when it is in its process's), and its own fd table
 * ({@code files}, null when it shares its process's), and its NUMA memory policy ({@code mempolicy}: set_mempolicy,
 * {@link MemPolicy#DEFAULT} when none; null where it was not read: images before ThreadImage version 11).
 */
public record ThreadImage(int tid, long[] regs, byte[] xstate, long sigmask, long rseqAddress, int rseqLength,
                          int rseqSignature, long robustListHead, long robustListLength, long clearChildTid,
                          long altStackSp, int altStackFlags, long altStackSize, List<byte[]> pendingSignals,
                          String name, int pdeathSignal, ThreadSecurity security,
                          SchedImage sched, SleepImage sleep, ThreadTraps traps, ThreadFs fs,
                          ThreadNs ns, ThreadFdTable files, MemPolicy mempolicy) {
    public ThreadImage {
        regs = regs.clone();
        xstate = xstate.clone();
        pendingSignals = List.copyOf(pendingSignals);
        java.util.Objects.requireNonNull(security, "security");
        traps = traps == null ? ThreadTraps.NONE : traps;
    }

    /** A thread whose NUMA memory policy was not read. */
    public ThreadImage(int tid, long[] regs, byte[] xstate, long sigmask, long rseqAddress, int rseqLength,
                       int rseqSignature, long robustListHead, long robustListLength, long clearChildTid,
                       long altStackSp, int altStackFlags, long altStackSize, List<byte[]> pendingSignals,
                       String name, int pdeathSignal, ThreadSecurity security,
                       SchedImage sched, SleepImage sleep, ThreadTraps traps, ThreadFs fs,
                       ThreadNs ns, ThreadFdTable files) {
        this(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead, robustListLength,
                clearChildTid, altStackSp, altStackFlags, altStackSize, pendingSignals, name, pdeathSignal, security,
                sched, sleep, traps, fs, ns, files, null);
    }

    /** A thread sharing its process's cwd, root and umask. */
    public ThreadImage(int tid, long[] regs, byte[] xstate, long sigmask, long rseqAddress, int rseqLength,
                       int rseqSignature, long robustListHead, long robustListLength, long clearChildTid,
                       long altStackSp, int altStackFlags, long altStackSize, List<byte[]> pendingSignals,
                       String name, int pdeathSignal, ThreadSecurity security, SchedImage sched, SleepImage sleep,
                       ThreadTraps traps) {
        this(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead, robustListLength,
                clearChildTid, altStackSp, altStackFlags, altStackSize, pendingSignals, name, pdeathSignal, security,
                sched, sleep, traps, null, null, null, null);
    }

    /** A thread with no fault switch set. */
    public ThreadImage(int tid, long[] regs, byte[] xstate, long sigmask, long rseqAddress, int rseqLength,
                       int rseqSignature, long robustListHead, long robustListLength, long clearChildTid,
                       long altStackSp, int altStackFlags, long altStackSize, List<byte[]> pendingSignals,
                       String name, int pdeathSignal, ThreadSecurity security, SchedImage sched, SleepImage sleep) {
        this(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead, robustListLength,
                clearChildTid, altStackSp, altStackFlags, altStackSize, pendingSignals, name, pdeathSignal, security,
                sched, sleep, ThreadTraps.NONE);
    }

    public ThreadImage withPendingSignals(List<byte[]> pending) {
        return new ThreadImage(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead,
                robustListLength, clearChildTid, altStackSp, altStackFlags, altStackSize, pending, name, pdeathSignal,
                security, sched, sleep, traps, fs, ns, files, mempolicy);
    }

    public ThreadImage withPdeathSignal(int signal) {
        return new ThreadImage(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead,
                robustListLength, clearChildTid, altStackSp, altStackFlags, altStackSize, pendingSignals, name, signal,
                security, sched, sleep, traps, fs, ns, files, mempolicy);
    }

    public ThreadImage withFs(ThreadFs own) {
        return new ThreadImage(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead,
                robustListLength, clearChildTid, altStackSp, altStackFlags, altStackSize, pendingSignals, name,
                pdeathSignal, security, sched, sleep, traps, own, ns, files, mempolicy);
    }

    public ThreadImage withNs(ThreadNs own) {
        return new ThreadImage(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead,
                robustListLength, clearChildTid, altStackSp, altStackFlags, altStackSize, pendingSignals, name,
                pdeathSignal, security, sched, sleep, traps, fs, own, files, mempolicy);
    }

    public ThreadImage withFiles(ThreadFdTable own) {
        return new ThreadImage(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead,
                robustListLength, clearChildTid, altStackSp, altStackFlags, altStackSize, pendingSignals, name,
                pdeathSignal, security, sched, sleep, traps, fs, ns, own, mempolicy);
    }

    public ThreadImage withMempolicy(MemPolicy own) {
        return new ThreadImage(tid, regs, xstate, sigmask, rseqAddress, rseqLength, rseqSignature, robustListHead,
                robustListLength, clearChildTid, altStackSp, altStackFlags, altStackSize, pendingSignals, name,
                pdeathSignal, security, sched, sleep, traps, fs, ns, files, own);
    }
}
