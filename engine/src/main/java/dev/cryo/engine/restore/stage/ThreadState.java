package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadTraps;
import dev.cryo.kernel.Prctl;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

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
            Injector inj = t.injector(th.tid());
            if (th.rseqAddress() != 0) {
                inj.call("rseq", SyscallNr.RSEQ, th.rseqAddress(), th.rseqLength(), 0, th.rseqSignature());
            }
            if (th.robustListHead() != 0) {
                inj.call("set_robust_list", SyscallNr.SET_ROBUST_LIST, th.robustListHead(), th.robustListLength());
            }
            inj.call("set_tid_address", SyscallNr.SET_TID_ADDRESS, th.clearChildTid());
            if (th.altStackSp() != 0 || th.altStackSize() != 0) {
                long at = t.put(new RemoteWriter(24).longs(th.altStackSp()).ints(th.altStackFlags(), 0)
                        .longs(th.altStackSize()).toBytes());
                inj.call("sigaltstack", SyscallNr.SIGALTSTACK, at, 0);
            }
            inj.call("prctl(PR_SET_NAME)", SyscallNr.PRCTL, PR_SET_NAME, t.putString(th.name()));
            traps(inj, th.traps());
        }
    }

    /**
     * The fault switches, set in each thread itself once every thread exists (a clone would copy them
     * from the thread cryo injects it into); none of cryo's later injections runs cpuid or rdtsc.
     */
    private static void traps(Injector inj, ThreadTraps traps) {
        if (traps.mceKill() != Prctl.PR_MCE_KILL_DEFAULT) {
            inj.call("prctl(PR_MCE_KILL)", SyscallNr.PRCTL, Prctl.PR_MCE_KILL, Prctl.PR_MCE_KILL_SET, traps.mceKill(), 0, 0);
        }
        if (traps.tscFaults()) {
            inj.call("prctl(PR_SET_TSC, PR_TSC_SIGSEGV)", SyscallNr.PRCTL, Prctl.PR_SET_TSC, Prctl.PR_TSC_SIGSEGV);
        }
        if (traps.cpuidFaults()) {
            inj.call("arch_prctl(ARCH_SET_CPUID, 0)", SyscallNr.ARCH_PRCTL, Prctl.ARCH_SET_CPUID, 0);
        }
    }
}
