package dev.cryo.engine.model;

/**
 * A task of the tree that has exited and that its parent has not reaped yet. It has no memory,
 * threads or files left, only what its parent's wait() will report: {@code status} is the wait
 * status as /proc/PID/stat's exit_code shows it (exit code in bits 8-15, or the killing signal in
 * bits 0-6), {@code exitSignal} the signal its death sends the parent (SIGCHLD unless cloned
 * otherwise), {@code uid} its real uid (waitid's si_uid). A zombie keeps its signal mask and
 * handlers until it is reaped ({@code blocked}, {@code ignored}, {@code caught}: the SigBlk, SigIgn
 * and SigCgt bit sets of /proc/PID/status; handler addresses mean nothing once it cannot run).
 * {@code execed}: it ran a program of its own after its fork (stat's PF_FORKNOEXEC is clear).
 * {@code creds}, {@code noNewPrivs} and {@code rlimits}: what /proc still shows of it (a container's
 * zombie has the container's reduced capabilities and limits); null and empty in images of version
 * 1, which kept its real uid only. {@code seccompMode} and {@code seccompFilters}: the seccomp mode and
 * the number of filters its status shows (a container's zombie ran under the container's filters);
 * what the filters did means nothing once it cannot run, and ptrace cannot read them from a zombie.
 * 0 in images before version 3. {@code nice}, {@code policy} and {@code rtPriority}: its scheduling as /proc/PID/stat
 * still shows it (a niced batch worker's zombie reads nice 19, SCHED_BATCH); {@code policy} -1 in images before
 * version 4, which kept none (it came back with its parent's).
 */
public record ZombieImage(TaskIds ids, String comm, int uid, int exitSignal, int status, long blocked,
                          long ignored, long caught, boolean execed, Creds creds, boolean noNewPrivs,
                          java.util.List<Rlimit> rlimits, int seccompMode, int seccompFilters, int nice, int policy,
                          int rtPriority) {
    public ZombieImage {
        rlimits = java.util.List.copyOf(rlimits);
    }

    public ZombieImage(TaskIds ids, String comm, int uid, int exitSignal, int status, long blocked, long ignored,
                       long caught, boolean execed, Creds creds, boolean noNewPrivs, java.util.List<Rlimit> rlimits,
                       int seccompMode, int seccompFilters) {
        this(ids, comm, uid, exitSignal, status, blocked, ignored, caught, execed, creds, noNewPrivs, rlimits, seccompMode,
                seccompFilters, 0, -1, 0);
    }

    public ZombieImage(TaskIds ids, String comm, int uid, int exitSignal, int status, long blocked, long ignored,
                       long caught, boolean execed, Creds creds, boolean noNewPrivs, java.util.List<Rlimit> rlimits) {
        this(ids, comm, uid, exitSignal, status, blocked, ignored, caught, execed, creds, noNewPrivs, rlimits, 0, 0);
    }

    public ZombieImage(TaskIds ids, String comm, int uid, int exitSignal, int status, long blocked, long ignored,
                       long caught, boolean execed) {
        this(ids, comm, uid, exitSignal, status, blocked, ignored, caught, execed, null, false, java.util.List.of());
    }

    public int pid() {
        return ids.pid();
    }

    /** True when it called exit(); false when a signal killed it. */
    public boolean exited() {
        return (status & 0x7f) == 0;
    }

    public int exitCode() {
        return (status >> 8) & 0xff;
    }

    public int termSignal() {
        return status & 0x7f;
    }

    /** The core-dump bit of a signal death. */
    public boolean dumpedCore() {
        return (status & 0x80) != 0;
    }
}
