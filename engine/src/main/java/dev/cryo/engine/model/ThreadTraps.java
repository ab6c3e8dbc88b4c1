package dev.cryo.engine.model;

import dev.cryo.kernel.Prctl;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per-thread switches that change what an instruction or a hardware fault does to the thread, all
 * kept by a fork and invisible in /proc: cpuid faulting ({@code arch_prctl(ARCH_SET_CPUID, 0)}, a
 * sandbox emulating cpuid), rdtsc faulting ({@code PR_SET_TSC}), and the machine-check kill policy
 * ({@code PR_MCE_KILL}: {@link Prctl#PR_MCE_KILL_DEFAULT} when never set), and syscall user dispatch
 * (PR_SET_SYSCALL_USER_DISPATCH, Wine's: {@code sudMode} 0 when off; the selector byte's address, the
 * range whose syscalls never trap). Images before ThreadImage version 2 had none of them set, before 3
 * no syscall user dispatch.
 */
public record ThreadTraps(boolean cpuidFaults, boolean tscFaults, int mceKill, long sudMode, long sudSelector,
                          long sudOffset, long sudLength) {
    public static final ThreadTraps NONE = new ThreadTraps(false, false, Prctl.PR_MCE_KILL_DEFAULT);

    public ThreadTraps(boolean cpuidFaults, boolean tscFaults, int mceKill) {
        this(cpuidFaults, tscFaults, mceKill, 0, 0, 0, 0);
    }

    public ThreadTraps {
        if (mceKill < 0 || mceKill > Prctl.PR_MCE_KILL_DEFAULT) {
            throw new IllegalArgumentException("ThreadTraps.mceKill " + mceKill + " is not 0, 1 or 2");
        }
    }

    /** For {@code cryo show}: only what differs from a new thread's. */
    public Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        if (cpuidFaults) {
            m.put("cpuidFaults", true);
        }
        if (tscFaults) {
            m.put("tscFaults", true);
        }
        if (mceKill != Prctl.PR_MCE_KILL_DEFAULT) {
            m.put("mceKill", mceKill == 1 ? "early" : "late");
        }
        if (sudMode != 0) {
            m.put("syscallUserDispatch", "selector 0x" + Long.toHexString(sudSelector) + ", allowed 0x"
                    + Long.toHexString(sudOffset) + "+" + sudLength);
        }
        return m;
    }
}
