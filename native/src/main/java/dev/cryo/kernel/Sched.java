package dev.cryo.kernel;

import com.sun.jna.Memory;

/**
 * Scheduling state of one thread, read and set from outside (the kernel keeps it per thread and
 * lets a privileged process act on any tid): sched_getattr/sched_setattr, CPU affinity and I/O
 * priority.
 */
public final class Sched {
    private Sched() {}

    public static final int SCHED_OTHER = 0, SCHED_FIFO = 1, SCHED_RR = 2, SCHED_BATCH = 3, SCHED_IDLE = 5,
            SCHED_DEADLINE = 6;
    public static final long FLAG_RESET_ON_FORK = 0x01, FLAG_RECLAIM = 0x02, FLAG_DL_OVERRUN = 0x04,
            FLAG_UTIL_CLAMP_MIN = 0x20, FLAG_UTIL_CLAMP_MAX = 0x40;
    /** What sched_getattr reports and sched_setattr takes back as they are. */
    public static final long CARRIED_FLAGS = FLAG_RESET_ON_FORK | FLAG_RECLAIM | FLAG_DL_OVERRUN;
    public static final int UCLAMP_MAX = 1024;
    /** struct sched_attr up to sched_util_max (SCHED_ATTR_SIZE_VER1). */
    static final int ATTR_SIZE = 56;
    private static final int IOPRIO_WHO_PROCESS = 1;

    /** struct sched_attr; {@code nice} is the thread's own nice value (per thread on Linux). */
    public record Attr(int policy, long flags, int nice, int priority, long runtime, long deadline, long period,
                       int utilMin, int utilMax) {
        public boolean fair() {
            return Sched.fair(policy);
        }

        /** Whether sched_setattr sets the nice value too: SCHED_IDLE and the others leave it as it is. */
        public boolean takesNice() {
            return policy == SCHED_OTHER || policy == SCHED_BATCH;
        }

        /** Set clamps; a kernel without uclamp reports both as 0, the default range is 0-1024. */
        public boolean hasUtilClamp() {
            return utilMin != 0 || (utilMax != 0 && utilMax != UCLAMP_MAX);
        }

        public static String policyName(int policy) {
            return switch (policy) {
                case SCHED_OTHER -> "SCHED_OTHER";
                case SCHED_FIFO -> "SCHED_FIFO";
                case SCHED_RR -> "SCHED_RR";
                case SCHED_BATCH -> "SCHED_BATCH";
                case SCHED_IDLE -> "SCHED_IDLE";
                case SCHED_DEADLINE -> "SCHED_DEADLINE";
                default -> "policy " + policy;
            };
        }
    }

    /** Whether {@code policy} is one of the fair scheduler's (the others run first). */
    public static boolean fair(int policy) {
        return policy == SCHED_OTHER || policy == SCHED_BATCH || policy == SCHED_IDLE;
    }

    public static Attr getattr(int tid) {
        Memory m = new Memory(ATTR_SIZE);
        m.clear();
        Sys.call(() -> "sched_getattr(tid " + tid + ")", SyscallNr.SCHED_GETATTR, tid, Sys.address(m), ATTR_SIZE, 0);
        return new Attr(m.getInt(4), m.getLong(8), m.getInt(16), m.getInt(20), m.getLong(24), m.getLong(32),
                m.getLong(40), m.getInt(48), m.getInt(52));
    }

    /** Sets everything in {@code a}; utilization clamps only when they differ from the defaults. */
    public static void setattr(int tid, Attr a) {
        Memory m = new Memory(ATTR_SIZE);
        m.clear();
        long flags = a.flags() & CARRIED_FLAGS;
        if (a.hasUtilClamp()) {
            flags |= FLAG_UTIL_CLAMP_MIN | FLAG_UTIL_CLAMP_MAX;
        }
        m.setInt(0, ATTR_SIZE);
        m.setInt(4, a.policy());
        m.setLong(8, flags);
        m.setInt(16, a.nice());
        m.setInt(20, a.priority());
        m.setLong(24, a.runtime());
        m.setLong(32, a.deadline());
        m.setLong(40, a.period());
        m.setInt(48, a.utilMin());
        m.setInt(52, a.utilMax());
        Sys.call(() -> "sched_setattr(tid " + tid + ", " + Attr.policyName(a.policy()) + " priority " + a.priority()
                + " nice " + a.nice() + ")", SyscallNr.SCHED_SETATTR, tid, Sys.address(m), 0, 0);
    }

    /** sched_setscheduler's flag for {@link #FLAG_RESET_ON_FORK}, or-ed into the policy. */
    private static final int POLICY_RESET_ON_FORK = 0x40000000;

    /**
     * sched_setscheduler(tid, policy, {priority}): the policy alone. Unlike sched_setattr it keeps
     * what the thread had of the rest: its nice value and a time slice it chose itself (the kernel
     * passes both on), and its utilization clamps.
     */
    public static void setScheduler(int tid, int policy, int priority, boolean resetOnFork) {
        Memory m = new Memory(8);
        m.setInt(0, priority);
        Sys.call(() -> "sched_setscheduler(tid " + tid + ", " + Attr.policyName(policy) + (resetOnFork ? "|RESET_ON_FORK" : "")
                        + " priority " + priority + ")", SyscallNr.SCHED_SETSCHEDULER, tid,
                policy | (resetOnFork ? POLICY_RESET_ON_FORK : 0), Sys.address(m), 0);
    }

    private static final int GETPRIORITY = 140, SETPRIORITY = 141, PRIO_PROCESS = 0;

    /** setpriority(PRIO_PROCESS, tid, nice): one thread's nice value (per thread on Linux). */
    public static void setNice(int tid, int nice) {
        Sys.call(() -> "setpriority(tid " + tid + ", nice " + nice + ")", SETPRIORITY, PRIO_PROCESS, tid, nice, 0);
    }

    /**
     * The thread's nice value. sched_getattr reports it only under a fair policy, but the kernel
     * keeps it under the others too, for when the thread goes back.
     */
    public static int getNice(int tid) {
        long r = Sys.call(() -> "getpriority(tid " + tid + ")", GETPRIORITY, PRIO_PROCESS, tid, 0, 0);
        return 20 - (int) r; // the raw syscall returns 20 - nice, never negative
    }

    /** The CPU mask as 64-bit words, as long as the kernel's cpumask. */
    public static long[] getAffinity(int tid) {
        Memory m = new Memory(1024);
        m.clear();
        long n = Sys.call(() -> "sched_getaffinity(tid " + tid + ")", SyscallNr.SCHED_GETAFFINITY, tid, 1024,
                Sys.address(m), 0);
        return m.getLongArray(0, (int) Math.max(1, n / 8));
    }

    public static void setAffinity(int tid, long[] mask) {
        Memory m = new Memory(mask.length * 8L);
        m.write(0, mask, 0, mask.length);
        Sys.call(() -> "sched_setaffinity(tid " + tid + ", " + cpuList(mask) + ")", SyscallNr.SCHED_SETAFFINITY, tid,
                mask.length * 8L, Sys.address(m), 0);
    }

    /** ioprio_get(IOPRIO_WHO_PROCESS, tid): (class << 13) | data; 0 when none was ever set. */
    public static int ioprioGet(int tid) {
        return (int) Sys.call(() -> "ioprio_get(tid " + tid + ")", SyscallNr.IOPRIO_GET, IOPRIO_WHO_PROCESS, tid, 0, 0);
    }

    public static void ioprioSet(int tid, int ioprio) {
        Sys.call(() -> "ioprio_set(tid " + tid + ", class " + (ioprio >> 13) + " level " + (ioprio & 0x1fff) + ")",
                SyscallNr.IOPRIO_SET, IOPRIO_WHO_PROCESS, tid, ioprio, 0);
    }

    /** "0-3,6" */
    public static String cpuList(long[] mask) {
        StringBuilder b = new StringBuilder();
        int n = mask.length * 64;
        for (int cpu = 0; cpu < n; cpu++) {
            if (!isSet(mask, cpu)) {
                continue;
            }
            int end = cpu;
            while (end + 1 < n && isSet(mask, end + 1)) {
                end++;
            }
            if (b.length() > 0) {
                b.append(',');
            }
            b.append(cpu);
            if (end > cpu) {
                b.append('-').append(end);
            }
            cpu = end;
        }
        return b.length() == 0 ? "none" : b.toString();
    }

    private static boolean isSet(long[] mask, int cpu) {
        return (mask[cpu / 64] >>> (cpu % 64) & 1) != 0;
    }
}
