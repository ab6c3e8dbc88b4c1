package dev.cryo.engine.model;

/**
 * A NUMA memory policy (mm/mempolicy.c), as get_mempolicy returns it: {@code mode} is the MPOL_* mode with its
 * flags (MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING), {@code nodes} its nodes as the program
 * gave them (bit n: node n; cryo reads the first 64). A thread's own (set_mempolicy: numactl --interleave, inherited
 * by every thread it makes) or a memory area's own (mbind: OpenBLAS makes each of its buffers MPOL_PREFERRED with no
 * node, which is "local"; a JVM's -XX:+UseNUMA). The home node (set_mempolicy_home_node) is not read: get_mempolicy
 * does not tell it.
 */
public record MemPolicy(int mode, long nodes) {
    public static final int MPOL_DEFAULT = 0, MPOL_PREFERRED = 1, MPOL_BIND = 2, MPOL_INTERLEAVE = 3, MPOL_LOCAL = 4,
            MPOL_PREFERRED_MANY = 5, MPOL_WEIGHTED_INTERLEAVE = 6;
    public static final int MPOL_F_NUMA_BALANCING = 1 << 13, MPOL_F_RELATIVE_NODES = 1 << 14, MPOL_F_STATIC_NODES = 1 << 15;
    public static final int MODE_FLAGS = MPOL_F_NUMA_BALANCING | MPOL_F_RELATIVE_NODES | MPOL_F_STATIC_NODES;
    /** get_mempolicy's flag: the policy of the area at the address, not the thread's. */
    public static final int MPOL_F_ADDR = 1 << 1;
    /** Node bits get_mempolicy is asked for (its maxnode) and set_mempolicy and mbind given (theirs, one more). */
    public static final int NODE_BITS = 64;
    private static final String[] NAMES = {"default", "prefer", "bind", "interleave", "local", "prefer (many)",
            "weighted interleave"};
    /** None of its own: a thread's allocates on the node it runs on, an area follows its thread's. */
    public static final MemPolicy DEFAULT = new MemPolicy(MPOL_DEFAULT, 0);

    public MemPolicy {
        if ((mode & ~MODE_FLAGS) >= NAMES.length || (mode & ~MODE_FLAGS) < 0) {
            throw new IllegalArgumentException("MemPolicy.mode " + (mode & ~MODE_FLAGS) + " is no MPOL_* mode");
        }
    }

    public boolean isDefault() {
        return mode == MPOL_DEFAULT;
    }

    /**
     * Whether its nodes are the program's as it gave them, which the kernel keeps whatever nodes the host has
     * (MPOL_F_STATIC_NODES: interleave=static:0-1 holds on a host of node 0 alone; MPOL_F_RELATIVE_NODES: relative to
     * the nodes the task may use); else they are nodes the host had, with memory.
     */
    public boolean nodesAsGiven() {
        return (mode & (MPOL_F_RELATIVE_NODES | MPOL_F_STATIC_NODES)) != 0;
    }

    /** As numa_maps words it (mpol_to_str): "interleave=static:0-1", "bind:0", "local". */
    public String text() {
        StringBuilder b = new StringBuilder(NAMES[mode & ~MODE_FLAGS]);
        int flags = mode & MODE_FLAGS;
        if (flags != 0) {
            b.append('=');
            b.append((flags & MPOL_F_STATIC_NODES) != 0 ? "static" : (flags & MPOL_F_RELATIVE_NODES) != 0 ? "relative" : "");
            if ((flags & MPOL_F_NUMA_BALANCING) != 0) {
                b.append(Integer.bitCount(flags) > 1 ? "|" : "").append("balancing");
            }
        }
        if (nodes != 0) {
            b.append(':').append(nodeList(nodes));
        }
        return b.toString();
    }

    /** Nodes as ranges: "0-1,4". */
    public static String nodeList(long nodes) {
        StringBuilder b = new StringBuilder();
        for (int n = 0; n < NODE_BITS; n++) {
            if ((nodes & 1L << n) != 0) {
                int last = n;
                while (last + 1 < NODE_BITS && (nodes & 1L << (last + 1)) != 0) {
                    last++;
                }
                b.append(b.length() > 0 ? "," : "").append(n).append(last > n ? "-" + last : "");
                n = last;
            }
        }
        return b.toString();
    }

    /** A memory area's own policy, over [start, end). */
    public record Area(long start, long end, MemPolicy policy) {
        public Area {
            java.util.Objects.requireNonNull(policy, "policy");
            if (end <= start) {
                throw new IllegalArgumentException("MemPolicy.Area [0x" + Long.toHexString(start) + ", 0x"
                        + Long.toHexString(end) + ") is empty");
            }
        }
    }
}
