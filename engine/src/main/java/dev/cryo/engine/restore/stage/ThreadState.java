package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadTraps;
import dev.cryo.kernel.Prctl;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;
import dev.cryo.engine.restore.BootstrapArea;

import java.util.ArrayList;
import java.util.List;

/**
 * Per-thread kernel state that only the thread itself can set: rseq, robust list, clear-child-tid,
 * alternate signal stack, name, fault switches ({@link ThreadTraps}). (The parent-death signal is
 * reset by a credential change: {@link CredentialResetFlags} sets it after {@link Credentials}. The
 * signal mask goes in with the registers, {@link RegisterInstall}: until then every signal stays
 * blocked, so none that arrives while the task is built stops an injected call and loses its siginfo.)
 */
public final class ThreadState implements StateStage {
    private static final int PR_SET_NAME = 15;

    @Override
    public String name() {
        return "thread state";
    }

    @Override
    public void run(TaskContext t) {
        for (ThreadImage th : t.task().threads()) {
            // the altstack struct at the start of the bootstrap data area, the name after it, the batch after that
            long altStack = t.put(new RemoteWriter(24).longs(th.altStackSp()).ints(th.altStackFlags(), 0)
                    .longs(th.altStackSize()).toBytes());
            long name = t.put(NAME_AT, RemoteWriter.cString(th.name()));
            List<String> names = new ArrayList<>();
            List<SyscallBatch.Call> calls = new ArrayList<>();
            if (th.rseqAddress() != 0) {
                add(names, calls, "rseq", SyscallNr.RSEQ, th.rseqAddress(), th.rseqLength(), 0, th.rseqSignature());
            }
            if (th.robustListHead() != 0) {
                add(names, calls, "set_robust_list", SyscallNr.SET_ROBUST_LIST, th.robustListHead(), th.robustListLength());
            }
            add(names, calls, "set_tid_address", SyscallNr.SET_TID_ADDRESS, th.clearChildTid());
            if (th.altStackSp() != 0 || th.altStackSize() != 0) {
                add(names, calls, "sigaltstack", SyscallNr.SIGALTSTACK, altStack, 0);
            }
            add(names, calls, "prctl(PR_SET_NAME)", SyscallNr.PRCTL, PR_SET_NAME, name);
            traps(names, calls, th.traps());
            // the main thread's in one batch: one ptrace round trip instead of two per call
            if (th.tid() != t.pid().value() || !t.inOneBatch(BATCH_AT, BootstrapArea.DATA_SIZE, calls, names::get)) {
                Injector inj = t.injector(th.tid());
                for (int i = 0; i < calls.size(); i++) {
                    inj.call(names.get(i), calls.get(i).nr(), calls.get(i).args());
                }
            }
        }
    }

    /** Where the thread's name goes in the bootstrap data area (after the altstack struct), and the batch. */
    private static final long NAME_AT = 32, BATCH_AT = 64;

    private static void add(List<String> names, List<SyscallBatch.Call> calls, String name, int nr, long... args) {
        names.add(name);
        calls.add(new SyscallBatch.Call(nr, args));
    }

    /**
     * The fault switches, set in each thread itself once every thread exists (a clone would copy them
     * from the thread cryo injects it into); none of cryo's later injections runs cpuid or rdtsc.
     */
    private static void traps(List<String> names, List<SyscallBatch.Call> calls, ThreadTraps traps) {
        if (traps.mceKill() != Prctl.PR_MCE_KILL_DEFAULT) {
            add(names, calls, "prctl(PR_MCE_KILL)", SyscallNr.PRCTL, Prctl.PR_MCE_KILL, Prctl.PR_MCE_KILL_SET, traps.mceKill(), 0, 0);
        }
        if (traps.tscFaults()) {
            add(names, calls, "prctl(PR_SET_TSC, PR_TSC_SIGSEGV)", SyscallNr.PRCTL, Prctl.PR_SET_TSC, Prctl.PR_TSC_SIGSEGV);
        }
        if (traps.cpuidFaults()) {
            add(names, calls, "arch_prctl(ARCH_SET_CPUID, 0)", SyscallNr.ARCH_PRCTL, Prctl.ARCH_SET_CPUID, 0);
        }
    }
}
