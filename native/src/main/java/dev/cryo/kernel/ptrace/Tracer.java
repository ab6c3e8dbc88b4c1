package dev.cryo.kernel.ptrace;

import com.sun.jna.Memory;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.WaitStatus;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Owns a set of traced threads from one OS thread. The kernel accepts ptrace requests only from
 * the thread that seized the tracee, so every method checks it runs there and fails loudly if not
 * (the alternative is a confusing ESRCH).
 *
 * <p>A dump keeps signals that arrive while it holds a thread in the kernel's queue, with all they
 * say ({@link #keepSignalsQueued}). Signal-delivery stops that happen anyway (a signal of the same
 * number as a batch's own, a thread not kept so) are suppressed and remembered per thread with their
 * siginfo, then queued again at {@link #detach}: none is ever dropped.
 */
public final class Tracer implements AutoCloseable {
    private static final int XSTATE_BUFFER = 1 << 14;
    /** More held signals than this means a signal storm: give up rather than spin. */
    private static final int MAX_HELD_SIGNALS = 4096;

    private final Thread owner = Thread.currentThread();
    private final Map<Integer, List<Held>> heldSignals = new LinkedHashMap<>();
    /** The masks of threads whose signals {@link #keepSignalsQueued} blocks, as the threads set them. */
    private final Map<Integer, Long> ownMasks = new LinkedHashMap<>();
    private final Memory iov = new Memory(16);
    private final Memory regsBuf = new Memory(Registers.SIZE);
    private final Memory xstateBuf = new Memory(XSTATE_BUFFER);
    private final Memory word = new Memory(8);
    private final Memory rseqBuf = new Memory(32);
    private final List<Integer> newTracees = new ArrayList<>();
    private long roundTrips;

    private void checkThread() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("ptrace called from thread " + Thread.currentThread().getName()
                    + " but the tracees belong to " + owner.getName());
        }
    }

    public Set<Integer> tracees() {
        return Collections.unmodifiableSet(heldSignals.keySet());
    }

    /**
     * PTRACE_SEIZE then PTRACE_INTERRUPT; call {@link #waitForStop} next. TRACESYSGOOD is always on:
     * without it a syscall stop cannot be told from a real SIGTRAP.
     */
    public void seizeAndInterrupt(int tid, int options) {
        checkThread();
        Ptrace.request(Ptrace.SEIZE, tid, 0, options | Ptrace.O_TRACESYSGOOD);
        heldSignals.put(tid, new ArrayList<>());
        Ptrace.request(Ptrace.INTERRUPT, tid, 0, 0);
    }

    /** Adopts a thread that became traced by inheritance (PTRACE_O_TRACECLONE) and is stopped. */
    public void adopt(int tid) {
        checkThread();
        heldSignals.putIfAbsent(tid, new ArrayList<>());
    }

    /**
     * Waits until {@code tid} sits in an event stop (after an interrupt or a clone), suppressing and
     * remembering any signal-delivery stop on the way.
     */
    public WaitStatus waitForStop(int tid) {
        return waitForStop(tid, Long.MAX_VALUE);
    }

    /**
     * Like {@link #waitForStop(int)} but gives up after {@code timeoutNanos}: a thread in
     * uninterruptible sleep (a vfork parent, a hung NFS read) cannot stop. It stays seized; it is
     * released when this tracer's thread ends.
     */
    public WaitStatus waitForStop(int tid, long timeoutNanos) {
        checkThread();
        long deadline = timeoutNanos == Long.MAX_VALUE ? Long.MAX_VALUE : System.nanoTime() + timeoutNanos;
        long pause = 20_000;
        while (true) {
            WaitStatus st = deadline == Long.MAX_VALUE ? waitTid(tid, "waiting for it to stop", 0)
                    : waitTid(tid, "waiting for it to stop", Sys.WNOHANG);
            if (st == null) {
                if (System.nanoTime() > deadline) {
                    throw new KernelException("tid " + tid + " did not stop within "
                            + timeoutNanos / 1_000_000 + " ms (" + stateOf(tid) + ")");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(pause);
                pause = Math.min(pause * 2, 2_000_000);
                continue;
            }
            if (st.event() != 0) {
                if (st.isEventStop() && isJobStop(st.stopSignal())) {
                    // a group-stop: the process was stopped (job control), and once let go it must be
                    // again. Held as the signal that stopped it (its parent's waitid reports that one,
                    // SIGTSTP for a ^Z): a dump carries it as pending. A detach needs not give it back:
                    // the kernel puts a thread of a stopped process back in its stop as it lets it go
                    // (sent again, it would stay queued in the stopped task). Held once: the next
                    // interrupt of a stopped thread reports the same stop again.
                    List<Held> held = heldSignals.computeIfAbsent(tid, k -> new ArrayList<>());
                    if (held.stream().noneMatch(Held::groupStop)) {
                        held.add(new Held(st.stopSignal(), null, true));
                    }
                }
                return st;
            }
            // a signal dequeued before the interrupt took effect: deliver it, as it would have been a
            // moment earlier (a handler's frame is set up, and the interrupt stops the thread at
            // its first instruction); held, it would come back later without its siginfo
            Ptrace.request(Ptrace.CONT, tid, 0, st.stopSignal());
        }
    }

    /**
     * Keeps signals sent to a seized thread in the kernel's queue, with their siginfo (a timer's
     * cookie, a sigqueue value, a child's exit status), for as long as cryo holds it: whenever the
     * thread runs injected code, every signal is blocked (PTRACE_SETSIGMASK, as CRIU's parasite
     * does), and its own mask is back at every stop. Without it a signal would stop the injected
     * code and be held, and queued again later behind signals sent after it (and by number only
     * when the kernel refuses cryo its siginfo: a child's exit status). Should cryo die while the thread
     * runs its code, the way back (return pad, sigreturn route) puts the mask back too.
     */
    public void keepSignalsQueued(int tid) {
        checkThread();
        if (!ownMasks.containsKey(tid)) {
            ownMasks.put(tid, getSigmask(tid));
        }
    }

    /** Before resuming injected code: every signal blocked for a thread whose signals stay queued. */
    private void blockForRun(int tid) {
        if (ownMasks.containsKey(tid)) {
            setSigmask(tid, -1L);
        }
    }

    /** At the stop that ends injected code: the thread's own mask back (a thread gone needs none). */
    private void unblockAfterRun(int tid) {
        Long own = ownMasks.get(tid);
        if (own != null) {
            word.setLong(0, own);
            Ptrace.tryRequest(Ptrace.SETSIGMASK, tid, 8, Sys.address(word));
        }
    }

    private static boolean isJobStop(int sig) {
        return sig == Signals.SIGSTOP || sig == Signals.SIGTSTP || sig == Signals.SIGTTIN || sig == Signals.SIGTTOU;
    }

    private static String stateOf(int tid) {
        try {
            char state = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(tid)).state();
            return state == 'D' ? "it is in uninterruptible sleep, state D" : "state " + state;
        } catch (KernelException e) {
            return "it is gone";
        }
    }

    /**
     * A signal that arrived while the thread was held, with its siginfo read in the delivery stop
     * (null where it could not be): a dump that ends the tree carries held signals as pending
     * ones, with what they said (a timer's id, a child's pid).
     */
    public record Held(int signal, byte[] siginfo, boolean groupStop) {
        Held(int signal, byte[] siginfo) {
            this(signal, siginfo, false);
        }
    }

    private void hold(int tid, int sig) {
        List<Held> held = heldSignals.computeIfAbsent(tid, k -> new ArrayList<>());
        if (held.size() >= MAX_HELD_SIGNALS) {
            throw new KernelException("tid " + tid + " keeps receiving signals (" + Signals.name(sig)
                    + " and " + held.size() + " more) while held by cryo");
        }
        byte[] info = null;
        if (Ptrace.tryRequest(Ptrace.GETSIGINFO, tid, 0, Sys.address(siginfoBuf)) == 0) {
            info = siginfoBuf.getByteArray(0, Ptrace.SIGINFO_SIZE);
        }
        held.add(new Held(sig, info));
    }

    private final Memory siginfoBuf = new Memory(Ptrace.SIGINFO_SIZE);

    /**
     * Gives the thread {@code sig} as it is let go, as if it had arrived while held: a restore gives
     * back a job-control stop this way, since queued it would wait behind the mask that blocks
     * everything while the task is built (only SIGSTOP passes).
     */
    public void giveOnRelease(int tid, int sig) {
        checkThread();
        heldSignals.computeIfAbsent(tid, k -> new ArrayList<>()).add(new Held(sig, null));
    }

    /** Signals that arrived while the thread was held, in arrival order. */
    public List<Held> heldSignals(int tid) {
        return List.copyOf(heldSignals.getOrDefault(tid, List.of()));
    }

    private WaitStatus waitTid(int tid, String while_) {
        return waitTid(tid, while_, 0);
    }

    private WaitStatus waitTid(int tid, String while_, int flags) {
        WaitStatus st;
        try {
            st = Sys.wait4(tid, flags);
            if (st == null) {
                return null;
            }
        } catch (SyscallException e) {
            if (e.is(Errno.ECHILD)) {
                heldSignals.remove(tid);
                ownMasks.remove(tid);
                throw new TraceeGoneException(tid, while_, null);
            }
            throw e;
        }
        if (st.gone()) {
            heldSignals.remove(tid);
            ownMasks.remove(tid);
            throw new TraceeGoneException(tid, while_, st);
        }
        return st;
    }

    /**
     * Resumes with PTRACE_SYSCALL until the next syscall stop (entry or exit), holding any signal
     * that shows up on the way.
     */
    public void toNextSyscallStop(int tid) {
        checkThread();
        roundTrips++;
        blockForRun(tid);
        try {
            runToSyscallStop(tid);
        } finally {
            unblockAfterRun(tid);
        }
    }

    private void runToSyscallStop(int tid) {
        Ptrace.request(Ptrace.SYSCALL, tid, 0, 0);
        while (true) {
            WaitStatus st = waitTid(tid, "running an injected syscall");
            if (st.isSyscallStop()) {
                return;
            }
            if (st.event() == 0) {
                hold(tid, st.stopSignal());
            } else if (st.event() == Ptrace.EVENT_FORK || st.event() == Ptrace.EVENT_VFORK
                    || st.event() == Ptrace.EVENT_CLONE) {
                // an injected fork/clone: the child is traced already (TRACEFORK/TRACECLONE)
                int child = (int) getEventMessage(tid);
                heldSignals.putIfAbsent(child, new ArrayList<>());
                newTracees.add(child);
            } else if (st.isEventStop() && st.stopSignal() != Signals.SIGTRAP) {
                // group-stop of a seized task: its SIGSTOP was already held at delivery
            } else if (st.event() != Ptrace.EVENT_STOP) {
                throw new KernelException("tid " + tid + " reported unexpected " + st + " during syscall injection");
            }
            Ptrace.request(Ptrace.SYSCALL, tid, 0, 0);
        }
    }

    /**
     * Times a thread was resumed and waited for until its next stop, for injected code (each syscall
     * injected one by one costs two): the frozen window of a small process is mostly these waits.
     */
    public long roundTrips() {
        return roundTrips;
    }

    /**
     * Resumes with PTRACE_CONT until the thread stops for {@code signal} that it sent to itself
     * (tgkill) from {@code atRip}: the end of a {@link SyscallBatch}. That signal is cryo's own and
     * is discarded (the thread is resumed later with no signal); any other signal on the way is held
     * as usual.
     */
    public void continueToOwnSignal(int tgid, int tid, int signal, long atRip) {
        checkThread();
        roundTrips++;
        blockForRun(tid);
        try {
            Ptrace.request(Ptrace.CONT, tid, 0, 0);
            while (true) {
                WaitStatus st = waitTid(tid, "running injected syscalls");
                if (st.event() == 0 && st.stopSignal() == signal && ownSignal(tgid, tid, atRip)) {
                    return;
                }
                if (st.event() == 0 && st.stopSignal() != WaitStatus.SYSCALL_TRAP) {
                    hold(tid, st.stopSignal());
                } else if (!st.isEventStop()) { // an interrupt or a group-stop: not ours, go on
                    throw new KernelException("tid " + tid + " reported unexpected " + st + " running injected syscalls");
                }
                Ptrace.request(Ptrace.CONT, tid, 0, 0);
            }
        } finally {
            unblockAfterRun(tid);
        }
    }

    /** The stop is at the batch's end and its siginfo says the thread sent it itself (SI_TKILL). */
    private boolean ownSignal(int tgid, int tid, long atRip) {
        if (getRegisters(tid).rip() != atRip
                || Ptrace.tryRequest(Ptrace.GETSIGINFO, tid, 0, Sys.address(siginfoBuf)) != 0) {
            return false;
        }
        if (siginfoBuf.getInt(8) == SI_USER && siginfoBuf.getInt(16) == 0 && siginfoBuf.getInt(20) == 0) {
            // the kernel's form of a signal it had no room to queue the siginfo of (the target's user at its
            // RLIMIT_SIGPENDING: stress-ng's sigfd stressor floods it): ours, at the batch's end; taken for
            // another, it let the thread run on past the batch while cryo waited for good
            return true;
        }
        if (siginfoBuf.getInt(8) != SI_TKILL) {
            return false;
        }
        int sender = siginfoBuf.getInt(16); // as the thread sees it: inside a pid namespace, its pid there
        return sender == tgid || sender == nsTgids.computeIfAbsent(tgid, Tracer::nsTgid);
    }

    /**
     * Each tracee's pid in its own pid namespace, read once: a /proc status read and parse cost a
     * batch inside a namespace 0.2-2 ms under load, more than the round trip it ends.
     */
    private final java.util.Map<Integer, Integer> nsTgids = new java.util.HashMap<>();

    /** The pid {@code tgid} has inside its own pid namespace (itself outside any), -1 if unknown. */
    private static int nsTgid(int tgid) {
        try {
            List<Integer> ns = dev.cryo.kernel.proc.ProcFs.status(dev.cryo.kernel.Pid.of(tgid)).nsTgid();
            return ns.isEmpty() ? -1 : ns.get(ns.size() - 1);
        } catch (KernelException e) {
            return -1;
        }
    }

    private static final int SI_TKILL = -6, SI_USER = 0;

    /** Children created by injected fork/clone calls since the last call; wait for their first stop. */
    public List<Integer> takeNewTracees() {
        List<Integer> out = List.copyOf(newTracees);
        newTracees.clear();
        return out;
    }

    public Registers getRegisters(int tid) {
        checkThread();
        setIov(regsBuf, Registers.SIZE);
        Ptrace.request(Ptrace.GETREGSET, tid, Ptrace.NT_PRSTATUS, Sys.address(iov));
        return new Registers(regsBuf.getLongArray(0, Registers.WORDS));
    }

    public void setRegisters(int tid, Registers regs) {
        checkThread();
        regsBuf.write(0, regs.words(), 0, Registers.WORDS);
        setIov(regsBuf, Registers.SIZE);
        Ptrace.request(Ptrace.SETREGSET, tid, Ptrace.NT_PRSTATUS, Sys.address(iov));
    }

    /** The XSAVE area, at the size the kernel reports for this CPU. */
    public byte[] getXstate(int tid) {
        checkThread();
        setIov(xstateBuf, XSTATE_BUFFER);
        Ptrace.request(Ptrace.GETREGSET, tid, Ptrace.NT_X86_XSTATE, Sys.address(iov));
        int len = (int) iov.getLong(8);
        return xstateBuf.getByteArray(0, len);
    }

    public void setXstate(int tid, byte[] xstate) {
        checkThread();
        if (xstate.length > XSTATE_BUFFER) {
            throw new IllegalArgumentException("xstate of " + xstate.length + " bytes exceeds " + XSTATE_BUFFER);
        }
        xstateBuf.write(0, xstate, 0, xstate.length);
        setIov(xstateBuf, xstate.length);
        Ptrace.request(Ptrace.SETREGSET, tid, Ptrace.NT_X86_XSTATE, Sys.address(iov));
    }

    /** The thread's signal mask: its own, also while {@link #keepSignalsQueued} blocks everything. */
    public long getSigmask(int tid) {
        checkThread();
        Long own = ownMasks.get(tid);
        if (own != null) {
            return own;
        }
        Ptrace.request(Ptrace.GETSIGMASK, tid, 8, Sys.address(word));
        return word.getLong(0);
    }

    public void setSigmask(int tid, long mask) {
        checkThread();
        word.setLong(0, mask);
        Ptrace.request(Ptrace.SETSIGMASK, tid, 8, Sys.address(word));
    }

    /**
     * The thread's syscall user dispatch (PR_SET_SYSCALL_USER_DISPATCH): {mode, selector address, allowed
     * range's offset, its length}; mode 0 when off (and on a kernel before 6.3, which has no such request).
     */
    public long[] getSyscallUserDispatch(int tid) {
        checkThread();
        sudBuf.clear();
        if (Ptrace.tryRequest(Ptrace.GET_SYSCALL_USER_DISPATCH, tid, 32, Sys.address(sudBuf)) < 0) {
            return new long[4];
        }
        return new long[] {sudBuf.getLong(0), sudBuf.getLong(8), sudBuf.getLong(16), sudBuf.getLong(24)};
    }

    /** Sets it back; once it is on, a syscall injected outside the range traps when the selector says block. */
    public void setSyscallUserDispatch(int tid, long mode, long selector, long offset, long len) {
        checkThread();
        sudBuf.setLong(0, mode);
        sudBuf.setLong(8, selector);
        sudBuf.setLong(16, offset);
        sudBuf.setLong(24, len);
        Ptrace.request(Ptrace.SET_SYSCALL_USER_DISPATCH, tid, 32, Sys.address(sudBuf));
    }

    private final Memory sudBuf = new Memory(32);

    public RseqConfig getRseq(int tid) {
        checkThread();
        rseqBuf.clear();
        Ptrace.request(Ptrace.GET_RSEQ_CONFIGURATION, tid, 24, Sys.address(rseqBuf));
        return new RseqConfig(rseqBuf.getLong(0), rseqBuf.getInt(8), rseqBuf.getInt(12), rseqBuf.getInt(16));
    }

    /**
     * The {@code index}-th seccomp filter of the thread counting from the first one it installed (0:
     * the kernel's get_nth_filter walks back from the newest), as its sock_filter array; null past the
     * newest. Needs CAP_SYS_ADMIN.
     */
    public byte[] seccompFilter(int tid, int index) {
        checkThread();
        long n = Ptrace.tryRequest(Ptrace.SECCOMP_GET_FILTER, tid, index, 0);
        if (n == -Errno.ENOENT) {
            return null;
        }
        if (n < 0) {
            throw new SyscallException("ptrace(PTRACE_SECCOMP_GET_FILTER, pid " + tid + ", filter " + index + ")",
                    (int) -n);
        }
        Memory buf = new Memory(Math.max(1, n) * dev.cryo.kernel.Seccomp.INSN_SIZE);
        long got = Ptrace.request(Ptrace.SECCOMP_GET_FILTER, tid, index, Sys.address(buf));
        return buf.getByteArray(0, (int) got * dev.cryo.kernel.Seccomp.INSN_SIZE);
    }

    /** The flags the kernel reports for that filter (only SECCOMP_FILTER_FLAG_LOG is reported). */
    public long seccompFilterFlags(int tid, int index) {
        checkThread();
        Memory md = new Memory(16);
        md.setLong(0, index);
        md.setLong(8, 0);
        Ptrace.request(Ptrace.SECCOMP_GET_METADATA, tid, 16, Sys.address(md));
        return md.getLong(8);
    }

    public long getEventMessage(int tid) {
        checkThread();
        Ptrace.request(Ptrace.GETEVENTMSG, tid, 0, Sys.address(word));
        return word.getLong(0);
    }

    /** Pending signals without dequeuing them: the thread's own queue, or the process-wide one. */
    public List<byte[]> peekSiginfo(int tid, boolean shared) {
        checkThread();
        List<byte[]> out = new ArrayList<>();
        Memory args = new Memory(16);
        Memory buf = new Memory(Ptrace.SIGINFO_SIZE * 32L);
        while (true) {
            args.setLong(0, out.size());
            args.setInt(8, shared ? Ptrace.PEEKSIGINFO_SHARED : 0);
            args.setInt(12, 32);
            long n = Ptrace.request(Ptrace.PEEKSIGINFO, tid, Sys.address(args), Sys.address(buf));
            for (int i = 0; i < n; i++) {
                out.add(buf.getByteArray((long) i * Ptrace.SIGINFO_SIZE, Ptrace.SIGINFO_SIZE));
            }
            if (n < 32) {
                return out;
            }
        }
    }

    /**
     * The signals pending for the stopped {@code tid}, in its own queue or its process's, one bit
     * per signal as /proc's SigPnd | ShdPnd (PTRACE_PEEKSIGINFO on both queues): what a syscall
     * batch needs to pick its stop signal, without reading and parsing /proc (at load 23, 56-120
     * µs median and 216-414 µs mean a status read, 6-10 µs and 7-25 µs these peeks). A signal queued without its siginfo (the sender's queue limit
     * reached) is not seen: taken for a batch's stop signal, it stops the batch first and is held
     * as any signal met while cryo runs code, and the batch ends on its own signal after it.
     */
    public long pendingSignals(int tid) {
        checkThread();
        long bits = 0;
        for (int flags : new int[] {0, Ptrace.PEEKSIGINFO_SHARED}) {
            long from = 0;
            while (true) {
                peekArgs.setLong(0, from);
                peekArgs.setInt(8, flags);
                peekArgs.setInt(12, PEEK_BATCH);
                long n = Ptrace.request(Ptrace.PEEKSIGINFO, tid, Sys.address(peekArgs), Sys.address(peekBuf));
                for (int i = 0; i < n; i++) {
                    int sig = peekBuf.getInt((long) i * Ptrace.SIGINFO_SIZE);
                    if (sig >= 1 && sig <= 64) {
                        bits |= 1L << (sig - 1);
                    }
                }
                if (n < PEEK_BATCH) {
                    break;
                }
                from += n;
            }
        }
        return bits;
    }

    private static final int PEEK_BATCH = 8;
    private final Memory peekArgs = new Memory(16);
    private final Memory peekBuf = new Memory((long) Ptrace.SIGINFO_SIZE * PEEK_BATCH);

    /** PTRACE_INTERRUPT: leaves the thread with a trap pending, so its next interruptible wait returns at once. */
    public void interrupt(int tid) {
        checkThread();
        Ptrace.request(Ptrace.INTERRUPT, tid, 0, 0);
    }

    public void setOptions(int tid, int options) {
        checkThread();
        Ptrace.request(Ptrace.SETOPTIONS, tid, 0, options);
    }

    public void cont(int tid, int signal) {
        checkThread();
        Ptrace.request(Ptrace.CONT, tid, 0, signal);
    }

    /**
     * Lets the thread go, handing back held signals: they are queued again first, in the order they
     * came, so they are pending as if cryo had never been there. None rides on the detach: from an
     * event stop the kernel ignores a signal given there, and from a syscall stop it sends it by
     * number only.
     */
    public void detach(int tgid, int tid) {
        checkThread();
        List<Held> held = toGiveBack(tid);
        if (!held.isEmpty()) {
            giveBack(tgid, tid, held);
            heldSignals.get(tid).removeAll(held);
        }
        Ptrace.request(Ptrace.DETACH, tid, 0, 0);
        heldSignals.remove(tid);
        ownMasks.remove(tid);
    }

    /**
     * Lets every thread {@code tids} of process {@code tgid} go ({@link #detach}). A thread no longer in its stop
     * once another thread of the process was let go (ESRCH) was killed meanwhile: SIGKILL wakes a traced thread,
     * sent by its own process once that thread ran (exit_group), or by another process of the tree being resumed (a
     * parent whose timer ran out while frozen, stress-ng's, kills its workers at once). A process killed before any
     * of its threads was let go is a failure, as before (killed from outside). Such threads are reaped here, as their tracer must (a
     * traced thread left a zombie keeps its whole process from being reaped), or let go at a stop they reach;
     * the first ESRCH is thrown if they neither end nor stop within a second (not threads being killed).
     */
    public void detachAll(int tgid, List<Integer> tids) {
        java.util.Map<Integer, SyscallException> killed = new java.util.LinkedHashMap<>();
        boolean running = false; // a thread of the process let go: what happens to the others may be its doing
        for (int tid : tids) {
            try {
                detach(tgid, tid);
                running = true;
            } catch (SyscallException e) {
                if (!e.is(Errno.ESRCH) || !running) { // killed before any of it ran: from outside, a failure
                    throw e;
                }
                heldSignals.remove(tid);
                ownMasks.remove(tid);
                killed.put(tid, e);
            }
        }
        long deadline = System.nanoTime() + 1_000_000_000L;
        List<Integer> left = new ArrayList<>(killed.keySet());
        java.util.Collections.reverse(left); // the leader last: it is reported only once its threads are reaped
        while (!left.isEmpty()) {
            for (java.util.Iterator<Integer> it = left.iterator(); it.hasNext(); ) {
                int tid = it.next();
                WaitStatus st;
                try {
                    st = Sys.wait4(tid, Sys.WNOHANG);
                } catch (SyscallException gone) {
                    if (!gone.is(Errno.ECHILD)) {
                        throw gone;
                    }
                    it.remove(); // reaped already
                    continue;
                }
                if (st != null && st.gone()) {
                    it.remove();
                } else if (st != null) { // an exit stop (PTRACE_O_TRACEEXIT), or another: let go from there
                    Ptrace.request(Ptrace.DETACH, tid, 0, 0);
                    it.remove();
                }
            }
            if (left.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw killed.get(left.get(0));
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }

    /** The signals held for a thread that it must get back: a group stop it is put back in by the kernel. */
    private List<Held> toGiveBack(int tid) {
        return heldSignals.getOrDefault(tid, List.of()).stream().filter(h -> !h.groupStop()).toList();
    }

    /**
     * Queues signals to a thread again: with the siginfo read at their delivery stop where the kernel
     * lets cryo send it (a sigqueue value, a timer's cookie), else by number (tgkill). A thread that
     * is gone needs them no more.
     */
    private static void giveBack(int tgid, int tid, List<Held> signals) {
        for (Held h : signals) {
            if (h.siginfo() != null && Sys.tgsigqueueinfo(Pid.of(tgid), Pid.of(tid), h.signal(), h.siginfo()) == 0) {
                continue;
            }
            try {
                Sys.tgkill(Pid.of(tgid), Pid.of(tid), h.signal());
            } catch (KernelException gone) {
                return;
            }
        }
    }

    /** Forgets a thread that is gone (killed on purpose). */
    public void forget(int tid) {
        heldSignals.remove(tid);
        ownMasks.remove(tid);
    }

    private void setIov(Memory buf, long len) {
        iov.setLong(0, Sys.address(buf));
        iov.setLong(8, len);
    }

    /**
     * Detaches whatever is still held, giving back the signals held for it (re-sent before the
     * detach, so they are pending when it runs); errors are ignored since the threads may be gone.
     */
    @Override
    public void close() {
        if (Thread.currentThread() != owner) {
            return;
        }
        for (int tid : List.copyOf(heldSignals.keySet())) {
            List<Held> held = toGiveBack(tid);
            if (!held.isEmpty()) {
                try {
                    giveBack(dev.cryo.kernel.proc.ProcFs.status(Pid.of(tid)).tgid(), tid, held);
                } catch (KernelException gone) {
                    // no /proc entry: the thread is gone, and its signals with it
                }
            }
            try {
                Ptrace.request(Ptrace.DETACH, tid, 0, 0);
            } catch (SyscallException ignored) {
                // already gone
            }
        }
        heldSignals.clear();
        ownMasks.clear();
    }
}
