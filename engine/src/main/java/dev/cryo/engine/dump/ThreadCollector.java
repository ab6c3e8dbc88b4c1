package dev.cryo.engine.dump;

import dev.cryo.engine.memory.NumaPolicies;
import dev.cryo.engine.model.SleepImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadSecurity;
import dev.cryo.engine.model.ThreadTraps;
import dev.cryo.kernel.Prctl;
import dev.cryo.engine.timing.SchedHandler;
import dev.cryo.engine.timing.SleepHandler;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.SyscallBatch;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.RseqConfig;
import dev.cryo.kernel.ptrace.Tracer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Everything of one stopped thread: registers as they were when it stopped (taken before any
 * injection), xstate, mask, rseq, robust list, and — by injecting into the thread itself, since
 * they are per-thread — the clear-child-tid address, the sigaltstack, the security state and the
 * fault switches (cpuid, rdtsc, machine-check policy) and its NUMA memory policy.
 */
final class ThreadCollector {
    private static final int PR_GET_TID_ADDRESS = 40, PR_GET_PDEATHSIG = 2;

    private ThreadCollector() {}

    /**
     * {@code ioUringThreads} gets {@code tid} when the thread has an io_uring context (it used
     * io_uring once: it may hold registered ring slots, {@link dev.cryo.engine.files.IoUringRingFds}).
     */
    static ThreadImage collect(RemoteTask task, int tid, SecurityCollector securityCollector,
                               java.util.Set<Integer> ioUringThreads) {
        return collect(task, tid, securityCollector, ioUringThreads, null);
    }

    /**
     * Calls of another reader run at the end of this thread's batch (one ptrace round trip for both),
     * their outputs from {@link #RIDER_OUTPUT} bytes into the batch's output area on. Left out when the
     * thread cannot take a batch: the rider is then not run ({@link #results} never called).
     */
    interface Rider {
        java.util.List<SyscallBatch.Call> calls();

        /** How many bytes its calls write from its offset on. */
        int outputBytes();

        /** Its calls' results, in order, and its outputs (from its offset); {@code pid} for its errors. */
        void results(long[] results, ByteBuffer output, int pid);
    }

    /** Where a rider's outputs start: past this thread's own (64 bytes). */
    static final int RIDER_OUTPUT = 64;
    /** The most calls a rider may add: past this thread's own (10). */
    static final int RIDER_CALLS = RemoteTask.BATCH_CALLS - 16;
    /** Where the thread's NUMA policy is read to: its mode, then its nodes ({@link NumaPolicies#READ_BYTES}). */
    private static final int POLICY_AT = 48;

    /** As above, {@code rider}'s calls (null: none) in this thread's batch. */
    static ThreadImage collect(RemoteTask task, int tid, SecurityCollector securityCollector,
                               java.util.Set<Integer> ioUringThreads, Rider rider) {
        Tracer tracer = task.tracer();
        byte[] xstate = tracer.getXstate(tid);
        long sigmask = tracer.getSigmask(tid);
        RseqConfig rseq = tracer.getRseq(tid);
        long[] robust = Sys.getRobustList(tid);
        Registers regs;
        long clearChildTid;
        long[] altStack;
        int pdeathSignal;
        ThreadSecurity security;
        SleepImage sleep;
        ThreadTraps traps;
        dev.cryo.engine.model.MemPolicy mempolicy;
        try (Injector inj = task.injector(tid)) {
            regs = inj.savedRegisters();
            // three reads into the output area and the securebits: one batch (one round trip) where
            // the thread takes it
            long out = task.batchOutput();
            java.util.List<SyscallBatch.Call> calls = new java.util.ArrayList<>(java.util.List.of(
                    new SyscallBatch.Call(SyscallNr.PRCTL, PR_GET_TID_ADDRESS, out),
                    new SyscallBatch.Call(SyscallNr.SIGALTSTACK, 0, out + 8),
                    new SyscallBatch.Call(SyscallNr.PRCTL, PR_GET_PDEATHSIG, out + 32),
                    new SyscallBatch.Call(SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_GET_SECUREBITS),
                    new SyscallBatch.Call(SyscallNr.ARCH_PRCTL, Prctl.ARCH_GET_CPUID, 0),
                    new SyscallBatch.Call(SyscallNr.PRCTL, Prctl.PR_GET_TSC, out + 40),
                    new SyscallBatch.Call(SyscallNr.PRCTL, Prctl.PR_MCE_KILL_GET, 0, 0, 0, 0),
                    dev.cryo.engine.files.IoUringRingFds.contextProbe(),
                    dev.cryo.engine.keyrings.Keyrings.ID_CALLS.get(0),
                    NumaPolicies.threadCall(out + POLICY_AT)));
            int own = calls.size();
            if (rider != null) {
                calls.addAll(rider.calls());
            }
            long[] r = task.batch(inj, calls);
            ByteBuffer b;
            Integer securebits = null;
            if (r != null) {
                String[] names = {"prctl(PR_GET_TID_ADDRESS)", "sigaltstack", "prctl(PR_GET_PDEATHSIG)",
                        "prctl(PR_GET_SECUREBITS)", "arch_prctl(ARCH_GET_CPUID)", "prctl(PR_GET_TSC)",
                        "prctl(PR_MCE_KILL_GET)"};
                if (dev.cryo.engine.files.IoUringRingFds.hasContext(r[7])) {
                    ioUringThreads.add(tid);
                }
                for (int i = 0; i < names.length; i++) {
                    if (Injector.isError(r[i])) {
                        throw new SyscallException(names[i] + " in pid " + task.pid() + " tid " + tid, (int) -r[i]);
                    }
                }
                refuseThreadKeyring(task, tid, r[8]);
                b = le(task.readBatchOutput(rider == null ? RIDER_OUTPUT : RIDER_OUTPUT + rider.outputBytes()));
                mempolicy = NumaPolicies.thread(r[9], b, POLICY_AT, "pid " + task.pid() + " tid " + tid);
                if (rider != null) {
                    rider.results(java.util.Arrays.copyOfRange(r, own, r.length),
                            b.duplicate().position(RIDER_OUTPUT).slice().order(ByteOrder.LITTLE_ENDIAN), task.pid().value());
                }
                securebits = (int) r[3];
                traps = new ThreadTraps(r[4] == 0, b.getInt(40) == Prctl.PR_TSC_SIGSEGV, (int) r[6]);
            } else {
                long s = task.scratch();
                inj.call("prctl(PR_GET_TID_ADDRESS)", SyscallNr.PRCTL, PR_GET_TID_ADDRESS, s);
                inj.call("sigaltstack", SyscallNr.SIGALTSTACK, 0, s + 8);
                inj.call("prctl(PR_GET_PDEATHSIG)", SyscallNr.PRCTL, PR_GET_PDEATHSIG, s + 32);
                long cpuid = inj.call("arch_prctl(ARCH_GET_CPUID)", SyscallNr.ARCH_PRCTL, Prctl.ARCH_GET_CPUID, 0);
                inj.call("prctl(PR_GET_TSC)", SyscallNr.PRCTL, Prctl.PR_GET_TSC, s + 40);
                long mce = inj.call("prctl(PR_MCE_KILL_GET)", SyscallNr.PRCTL, Prctl.PR_MCE_KILL_GET, 0, 0, 0, 0);
                SyscallBatch.Call probe = dev.cryo.engine.files.IoUringRingFds.contextProbe();
                if (dev.cryo.engine.files.IoUringRingFds.hasContext(inj.raw(probe.nr(), probe.args()))) {
                    ioUringThreads.add(tid);
                }
                SyscallBatch.Call keyring = dev.cryo.engine.keyrings.Keyrings.ID_CALLS.get(0);
                refuseThreadKeyring(task, tid, inj.raw(keyring.nr(), keyring.args()));
                SyscallBatch.Call policy = NumaPolicies.threadCall(s + POLICY_AT);
                long policyRead = inj.raw(policy.nr(), policy.args());
                b = le(task.readScratch(RIDER_OUTPUT));
                mempolicy = NumaPolicies.thread(policyRead, b, POLICY_AT, "pid " + task.pid() + " tid " + tid);
                traps = new ThreadTraps(cpuid == 0, b.getInt(40) == Prctl.PR_TSC_SIGSEGV, (int) mce);
            }
            clearChildTid = b.getLong(0);
            altStack = new long[]{b.getLong(8), b.getInt(16), b.getLong(24)};
            pdeathSignal = b.getInt(32);
            security = securebits != null ? securityCollector.thread(tid, securebits) : securityCollector.thread(inj, tid);
            sleep = SleepHandler.dump(task.pid(), regs, inj); // last: it may leave a ptrace trap pending
        }
        long[] sud = tracer.getSyscallUserDispatch(tid);
        traps = new ThreadTraps(traps.cpuidFaults(), traps.tscFaults(), traps.mceKill(), sud[0], sud[1], sud[2], sud[3]);
        String name = ProcFs.stat(task.pid(), Pid.of(tid)).comm();
        return new ThreadImage(tid, regs.words(), xstate, sigmask, rseq.address(), rseq.size(), rseq.signature(),
                robust[0], robust[1], clearChildTid, altStack[0], (int) altStack[1], altStack[2], java.util.List.of(), name,
                pdeathSignal, security, sched(task, tid), sleep, traps).withMempolicy(mempolicy);
    }

    /** As it was before cryo lifted it for the injections, if it did ({@link InjectionPriority}). */
    private static dev.cryo.engine.model.SchedImage sched(RemoteTask task, int tid) {
        dev.cryo.engine.model.SchedImage before = task.schedBefore(tid);
        return before != null ? before : SchedHandler.dump(task.pid(), tid);
    }

    static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * A thread keyring of a thread but the main one ({@code id}: what asking for it gave) is refused by name:
     * only the main thread's is carried (Keyrings), and the restored thread would be without it.
     */
    private static void refuseThreadKeyring(RemoteTask task, int tid, long id) {
        if (tid != task.pid().value() && !Injector.isError(id)) {
            throw new dev.cryo.engine.DumpException("pid " + task.pid() + " tid " + tid + ": its thread keyring (key "
                    + id + ") is not carried: only the main thread's is");
        }
    }
}
