package dev.cryo.engine.model;

/**
 * The mm fields PR_SET_MM_MAP needs, the exact brk, and the auxiliary vector; and two flags of the
 * address space a program sets: transparent huge pages turned off (PR_SET_THP_DISABLE, MariaDB
 * does) and the coredump filter; and the membarrier(2) registrations of the address space (the
 * MEMBARRIER_CMD_REGISTER_* bits MEMBARRIER_CMD_GET_REGISTRATIONS returns): a program that registered
 * for private expedited barriers gets EPERM from them in a new mm that did not (liburcu aborts: knotd);
 * and its memory-deny-write-execute flags (PR_SET_MDWE: a hardened service's W^X, which cannot be undone);
 * and whether KSM merges all of its memory, present and future (PR_SET_MEMORY_MERGE, {@code mergeAny});
 * and the lock every future mapping gets ({@code mlockFuture}: the MCL_FUTURE and MCL_ONFAULT bits of an
 * mlockall, 0 when none; chronyd -m, ntpd, corosync lock themselves so); and the memory areas with a NUMA policy
 * of their own ({@code areaPolicies}, mbind; none in images before MmImage version 3).
 */
public record MmImage(long startCode, long endCode, long startData, long endData, long startBrk, long brk,
                      long startStack, long argStart, long argEnd, long envStart, long envEnd, long[] auxv,
                      boolean thpDisabled, long coredumpFilter, int membarrier, int mdwe,
                      boolean mergeAny, int mlockFuture, java.util.List<MemPolicy.Area> areaPolicies) {
    /** The default coredump filter (anonymous private and shared memory, ELF headers, private huge pages). */
    public static final long DEFAULT_COREDUMP_FILTER = 0x33;

    public MmImage {
        auxv = auxv.clone();
        areaPolicies = java.util.List.copyOf(areaPolicies);
    }

    /** No area with a NUMA policy of its own. */
    public MmImage(long startCode, long endCode, long startData, long endData, long startBrk, long brk,
                   long startStack, long argStart, long argEnd, long envStart, long envEnd, long[] auxv,
                   boolean thpDisabled, long coredumpFilter, int membarrier, int mdwe, boolean mergeAny, int mlockFuture) {
        this(startCode, endCode, startData, endData, startBrk, brk, startStack, argStart, argEnd, envStart, envEnd, auxv,
                thpDisabled, coredumpFilter, membarrier, mdwe, mergeAny, mlockFuture, java.util.List.of());
    }

    public MmImage(long startCode, long endCode, long startData, long endData, long startBrk, long brk,
                   long startStack, long argStart, long argEnd, long envStart, long envEnd, long[] auxv) {
        this(startCode, endCode, startData, endData, startBrk, brk, startStack, argStart, argEnd, envStart, envEnd, auxv,
                false, DEFAULT_COREDUMP_FILTER, 0, 0, false, 0);
    }
}
