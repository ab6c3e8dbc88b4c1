package dev.cryo.engine.restore.stage;

import dev.cryo.engine.memory.NumaPolicies;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadTraps;
import dev.cryo.kernel.Prctl;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

/**
 * Per-thread kernel state that only the thread itself can set: rseq, robust list, clear-child-tid,
 * alternate signal stack, name, fault switches ({@link ThreadTraps}), a NUMA memory policy other than the main thread's. (The parent-death signal is
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
            boolean main = th.tid() == t.pid().value();
            // the name and the alternate stack, which the calls read: the main thread's stashed beside
            // what is queued, another's put (which runs the queue first: the main thread's calls before it)
            byte[] data = java.util.Arrays.copyOf(RemoteWriter.cString(th.name()), POLICY_AT + 8);
            java.nio.ByteBuffer.wrap(data, ALT_STACK_AT, 24).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .putLong(th.altStackSp()).putInt(th.altStackFlags()).putInt(0).putLong(th.altStackSize());
            boolean ownPolicy = !main && NumaPolicies.differsFromMain(t, th); // the main thread's: NumaPolicies, before the clones
            if (ownPolicy) {
                System.arraycopy(NumaPolicies.nodeBytes(th.mempolicy()), 0, data, POLICY_AT, 8);
            }
            long name = main ? t.stash(data) : t.put(data);
            long altStack = th.altStackSp() != 0 || th.altStackSize() != 0 ? name + ALT_STACK_AT : 0;
            Calls calls;
            if (main) { // queued: with the process's state and credentials in one batch (4-6 calls were 8-12 round trips)
                calls = t::later;
            } else {
                Injector inj = t.injector(th.tid());
                calls = inj::call;
            }
            if (th.rseqAddress() != 0) {
                calls.call("rseq", SyscallNr.RSEQ, th.rseqAddress(), th.rseqLength(), 0, th.rseqSignature());
            }
            if (th.robustListHead() != 0 || th.robustListLength() != 0) { // a null head with a length: none (the stub's goes)
                calls.call("set_robust_list", SyscallNr.SET_ROBUST_LIST, th.robustListHead(), th.robustListLength());
            }
            calls.call("set_tid_address", SyscallNr.SET_TID_ADDRESS, th.clearChildTid());
            if (altStack != 0) {
                calls.call("sigaltstack", SyscallNr.SIGALTSTACK, altStack, 0);
            }
            calls.call("prctl(PR_SET_NAME)", SyscallNr.PRCTL, PR_SET_NAME, name);
            traps(calls, th.traps());
            if (ownPolicy) {
                dev.cryo.kernel.ptrace.SyscallBatch.Call set = NumaPolicies.setCall(th, name + POLICY_AT);
                calls.call("set_mempolicy(" + th.mempolicy().text() + ")", set.nr(), set.args());
            }
        }
    }

    /** Where a thread's alternate stack goes, past its name (PR_SET_NAME reads 16 bytes). */
    private static final int ALT_STACK_AT = 64;
    /** Where a thread's NUMA policy nodes go, past its alternate stack. */
    private static final int POLICY_AT = ALT_STACK_AT + 24;

    /** A call in one thread: queued for the main thread's batch, or injected at once in another. */
    private interface Calls {
        void call(String name, int nr, long... args);
    }

    /**
     * The fault switches, set in each thread itself once every thread exists (a clone would copy them
     * from the thread cryo injects it into); none of cryo's later injections runs cpuid or rdtsc.
     */
    private static void traps(Calls calls, ThreadTraps traps) {
        if (traps.mceKill() != Prctl.PR_MCE_KILL_DEFAULT) {
            calls.call("prctl(PR_MCE_KILL)", SyscallNr.PRCTL, Prctl.PR_MCE_KILL, Prctl.PR_MCE_KILL_SET, traps.mceKill(), 0, 0);
        }
        if (traps.tscFaults()) {
            calls.call("prctl(PR_SET_TSC, PR_TSC_SIGSEGV)", SyscallNr.PRCTL, Prctl.PR_SET_TSC, Prctl.PR_TSC_SIGSEGV);
        }
        if (traps.cpuidFaults()) {
            calls.call("arch_prctl(ARCH_SET_CPUID, 0)", SyscallNr.ARCH_PRCTL, Prctl.ARCH_SET_CPUID, 0);
        }
    }
}
