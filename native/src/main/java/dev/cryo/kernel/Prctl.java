package dev.cryo.kernel;

/** prctl(2) options and the capability/securebits constants cryo reads and restores. */
public final class Prctl {
    private Prctl() {}

    public static final int PR_SET_PDEATHSIG = 1, PR_GET_PDEATHSIG = 2, PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4,
            PR_SET_NAME = 15, PR_GET_SECCOMP = 21, PR_SET_SECCOMP = 22, PR_CAPBSET_DROP = 24,
            PR_GET_SECUREBITS = 27, PR_SET_SECUREBITS = 28, PR_SET_MM = 35, PR_SET_CHILD_SUBREAPER = 36,
            PR_GET_CHILD_SUBREAPER = 37, PR_SET_NO_NEW_PRIVS = 38, PR_GET_TID_ADDRESS = 40, PR_SET_THP_DISABLE = 41, PR_CAP_AMBIENT = 47;

    public static final int PR_CAP_AMBIENT_RAISE = 2, PR_CAP_AMBIENT_CLEAR_ALL = 4;

    /** personality(2)'s flag that an exec reads to lay the address space out without randomization (setarch -R). */
    public static final int ADDR_NO_RANDOMIZE = 0x0040000;

    /**
     * Per-thread switches a fork keeps and an exec (cpuid, tsc) resets: rdtsc faulting (PR_SET_TSC with
     * PR_TSC_SIGSEGV), the machine-check kill policy (PR_MCE_KILL_GET answers LATE 0, EARLY 1 or DEFAULT 2
     * when none was set), and cpuid faulting (arch_prctl ARCH_GET_CPUID answers 0 when cpuid faults).
     */
    public static final int PR_GET_TSC = 25, PR_SET_TSC = 26, PR_TSC_SIGSEGV = 2, PR_MCE_KILL = 33,
            PR_MCE_KILL_GET = 34, PR_MCE_KILL_SET = 1, PR_MCE_KILL_DEFAULT = 2, ARCH_GET_CPUID = 0x1011,
            ARCH_SET_CPUID = 0x1012;

    /** Memory-deny-write-execute of the mm (Linux 6.3+): PR_MDWE_REFUSE_EXEC_GAIN 1, PR_MDWE_NO_INHERIT 2. */
    public static final int PR_SET_MDWE = 65, PR_GET_MDWE = 66;
    /** Read back by the tests' state comparator: keep-capabilities, THP off for the mm, I/O flusher. */
    public static final int PR_GET_KEEPCAPS = 7, PR_GET_THP_DISABLE = 42, PR_GET_IO_FLUSHER = 58;
    /** KSM for the whole address space, present and future mappings (Linux 6.4+). */
    public static final int PR_SET_MEMORY_MERGE = 67, PR_GET_MEMORY_MERGE = 68;

    /** mlockall(2) flags: the lock every future mapping of the mm gets (its default flags), and only as it faults in. */
    public static final int MCL_FUTURE = 2, MCL_ONFAULT = 4;

    /** securebits: SECURE_NO_SETUID_FIXUP keeps the capability sets across a uid change. */
    public static final int SECBIT_NO_SETUID_FIXUP = 1 << 2;

    /** capset(2) header version taking two 32-bit words per set. */
    public static final int LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    /** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
    public static int capLastCap() {
        String text = dev.cryo.kernel.proc.ProcFs.text("/proc/sys/kernel/cap_last_cap").trim();
        return Integer.parseInt(text);
    }
}
