package dev.cryo.engine.model.codec;

/**
 * Bounds on every length in the model records, checked on write (so we never produce an image
 * we would refuse) and on read (so a damaged length never makes us allocate).
 */
public final class ModelLimits {
    private ModelLimits() {}

    public static final int TEXT = 64 << 10;
    /** PATH_MAX. */
    public static final int PATH = 4096;
    public static final int XSTATE = 64 << 10;
    /** user_regs_struct has 27 words on x86_64; headroom for other layouts. */
    public static final int REGS = 64;
    public static final int AUXV_WORDS = 1024;
    /** real, effective, saved, filesystem. */
    public static final int IDS = 4;
    /** NGROUPS_MAX. */
    public static final int GROUPS = 65536;
    /** RLIM_NLIMITS is 16. */
    public static final int RLIMITS = 64;
    /** _NSIG is 64. */
    public static final int SIGACTIONS = 64;
    public static final int THREADS = 1 << 16;
    /** vm.max_map_count defaults to 65530 but may be raised. */
    public static final int VMAS = 1 << 20;
    /** fs.nr_open's ceiling. */
    public static final int FDS = 1 << 20;
    /** pid_max's ceiling (PID_MAX_LIMIT). */
    public static final int PIDS = 1 << 22;
    public static final int PENDING_SIGNALS = 1 << 16;
    public static final int PIPE_DATA = 16 << 20;
    /** A ghost file's contents inside its task's record: a bigger one's travel apart (GhostData). */
    public static final int GHOST_FILE = 16 << 20;
    public static final int GHOST_FILES = 1 << 16;
    /** Longs of a ghost file's data extents ({start, end} pairs): at most one per page of cryo.dump.ghost-limit's 1 GiB. */
    public static final int GHOST_EXTENTS = (1 << 30) / 4096 * 2 + 2;
    /** sizeof(siginfo_t): PTRACE_PEEKSIGINFO hands out exactly this much per signal. */
    public static final int SIGINFO = 128;
    /** A task's seccomp filters: MAX_INSNS_PER_PATH (32768 instructions) bounds a chain; per thread. */
    public static final int SECCOMP_FILTERS = 1 << 16;
    /** BPF_MAXINSNS sock_filter instructions of 8 bytes. */
    public static final int SECCOMP_PROGRAM = 4096 * 8;
    /** ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF. */
    public static final int ITIMERS = 3;
    /** RLIMIT_SIGPENDING bounds them in practice; the id space is an int. */
    public static final int POSIX_TIMERS = 1 << 20;
    /** NR_CPUS is at most 8192 (128 words); headroom. */
    public static final int CPU_MASK_WORDS = 1024;
}
