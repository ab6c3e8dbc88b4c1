package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.dump.RemoteTask;
import dev.cryo.engine.model.MemPolicy;
import dev.cryo.engine.model.MmImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * NUMA memory policies ({@link MemPolicy}), a thread's (set_mempolicy) and a memory area's (mbind). Dumped with
 * get_mempolicy in the task: the thread's in its own batch ({@link #threadCall}), each area's with MPOL_F_ADDR (riding
 * in the main thread's batch where they fit, no round trip of their own: {@link AreaReads}), which
 * answers the area's own policy (for shared memory, the object's at that address: shmem keeps it on its inode) and
 * never the thread's it falls back to, as numa_maps does. Restored: the areas' by mbind once mapped, before their
 * pages are written; the main thread's by set_mempolicy before the other threads are cloned (they inherit it), and
 * another thread's in itself where it differs.
 */
public final class NumaPolicies {
    private NumaPolicies() {}

    /** Bytes get_mempolicy writes for one policy: its mode (an int, padded), then its nodes. */
    public static final int READ_BYTES = 16;
    /** Areas asked about in one batch: the batch's table (142 calls) and output area (4 KiB) hold this many. */
    private static final int AREAS_PER_BATCH = 140;
    private static volatile Long hostNodes;

    /** get_mempolicy for the calling thread's own policy, its mode and nodes written at {@code out}. */
    public static SyscallBatch.Call threadCall(long out) {
        return new SyscallBatch.Call(SyscallNr.GET_MEMPOLICY, out, out + 8, MemPolicy.NODE_BITS, 0, 0);
    }

    /** The thread's policy from {@link #threadCall}'s {@code result} and its output at {@code at} of {@code b}. */
    public static MemPolicy thread(long result, ByteBuffer b, int at, String who) {
        if (result == -Errno.ENOSYS) {
            return MemPolicy.DEFAULT; // a kernel without NUMA: no policy there
        }
        check(result, who, "its own");
        return policy(b.getInt(at), b.getLong(at + 8), who);
    }

    /**
     * get_mempolicy with MPOL_F_ADDR for each area of a task but those the kernel provides, their outputs from an
     * address on ({@link #READ_BYTES} each): a batch of their own ({@link #areas}) or riding in another's.
     */
    public static final class AreaReads {
        private final List<VmaImage> asked;

        private AreaReads(List<VmaImage> asked) {
            this.asked = asked;
        }

        public static AreaReads of(List<VmaImage> vmas) {
            return new AreaReads(vmas.stream().filter(v -> !v.kind().kernelProvided()).toList());
        }

        public List<SyscallBatch.Call> calls(long out) {
            List<SyscallBatch.Call> calls = new ArrayList<>(asked.size());
            for (int i = 0; i < asked.size(); i++) {
                calls.add(areaCall(out + (long) i * READ_BYTES, asked.get(i).start()));
            }
            return calls;
        }

        public int count() {
            return asked.size();
        }

        public int outputBytes() {
            return asked.size() * READ_BYTES;
        }

        /** The areas with a policy of their own, from the calls' {@code results} and their outputs in {@code b}. */
        public List<MemPolicy.Area> results(long[] results, ByteBuffer b, String who) {
            List<MemPolicy.Area> out = new ArrayList<>();
            for (int i = 0; i < asked.size(); i++) {
                VmaImage v = asked.get(i);
                if (results[i] == -Errno.ENOSYS) {
                    return List.of(); // a kernel without NUMA
                }
                check(results[i], who, "its memory area at 0x" + Long.toHexString(v.start()) + "'s");
                MemPolicy p = policy(b.getInt(i * READ_BYTES), b.getLong(i * READ_BYTES + 8), who);
                if (!p.isDefault()) {
                    out.add(new MemPolicy.Area(v.start(), v.end(), p));
                }
            }
            return out;
        }

        /** Those of {@code from} to {@code to}. */
        public AreaReads part(int from, int to) {
            return new AreaReads(asked.subList(from, to));
        }
    }

    /**
     * The areas of {@code all} with a policy of their own, asked in the task through {@code inj} (its main thread or
     * the one reading for it), in batches of {@link #AREAS_PER_BATCH}, or call by call where it takes no batch.
     */
    public static List<MemPolicy.Area> areas(RemoteTask task, Injector inj, AreaReads all, String who) {
        List<MemPolicy.Area> out = new ArrayList<>();
        for (int from = 0; from < all.count(); from += AREAS_PER_BATCH) {
            AreaReads part = all.part(from, Math.min(all.count(), from + AREAS_PER_BATCH));
            List<SyscallBatch.Call> calls = part.calls(task.batchOutput());
            long[] r = task.batch(inj, calls);
            ByteBuffer b;
            if (r != null) {
                b = le(task.readBatchOutput(part.outputBytes()));
            } else { // one at a time, each through the scratch page
                r = new long[calls.size()];
                b = ByteBuffer.allocate(part.outputBytes()).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < calls.size(); i++) {
                    SyscallBatch.Call c = areaCall(task.scratch(), part.asked.get(i).start());
                    r[i] = inj.raw(c.nr(), c.args());
                    b.put(i * READ_BYTES, task.readScratch(READ_BYTES));
                }
            }
            out.addAll(part.results(r, b, who));
        }
        return out;
    }

    private static SyscallBatch.Call areaCall(long out, long address) {
        return new SyscallBatch.Call(SyscallNr.GET_MEMPOLICY, out, out + 8, MemPolicy.NODE_BITS, address,
                MemPolicy.MPOL_F_ADDR);
    }

    private static void check(long result, String who, String whose) {
        if (result == -Errno.EINVAL) {
            throw new DumpException(who + ": " + whose + " NUMA memory policy cannot be read: get_mempolicy refuses"
                    + " " + MemPolicy.NODE_BITS + " nodes, so this host has more; not supported");
        }
        if (Injector.isError(result)) {
            throw new SyscallException("get_mempolicy (" + whose + ") in " + who, (int) -result);
        }
    }

    private static MemPolicy policy(int mode, long nodes, String who) {
        try {
            return new MemPolicy(mode, nodes);
        } catch (IllegalArgumentException e) {
            throw new DumpException(who + ": a NUMA memory policy of a mode cryo does not know (" + e.getMessage()
                    + "); not supported");
        }
    }

    /**
     * MEMORY, once every area is mapped and before its pages are written: mbind for each area with a policy of its own,
     * and the default again on an area kept from the parent's fork that had none (the fork gave it the parent's); then
     * the main thread's policy (the stub's was cryo's or its parent's), which the threads cloned later inherit.
     */
    public static void restoreProcess(TaskContext t, List<VmaImage> keptFromParent) {
        MmImage mm = t.task().mm();
        java.util.Set<Long> bound = new java.util.HashSet<>();
        for (MemPolicy.Area a : mm.areaPolicies()) {
            requireNodes(t, a.policy(), "its memory area 0x" + Long.toHexString(a.start()) + "-0x" + Long.toHexString(a.end()));
            long nodes = nodesAt(t, a.policy());
            t.later("mbind(0x" + Long.toHexString(a.start()) + ", " + a.policy().text() + ")", SyscallNr.MBIND,
                    a.start(), a.end() - a.start(), a.policy().mode(), nodes, nodes == 0 ? 0 : MemPolicy.NODE_BITS + 1, 0);
            bound.add(a.start());
        }
        for (VmaImage v : keptFromParent) {
            if (!bound.contains(v.start())) {
                t.later("mbind(0x" + Long.toHexString(v.start()) + ", default)", SyscallNr.MBIND, v.start(),
                        v.end() - v.start(), MemPolicy.MPOL_DEFAULT, 0, 0, 0);
            }
        }
        MemPolicy main = mainPolicy(t);
        if (main != null) {
            requireNodes(t, main, "its main thread");
            long nodes = nodesAt(t, main);
            t.later("set_mempolicy(" + main.text() + ")", SyscallNr.SET_MEMPOLICY, main.mode(), nodes,
                    nodes == 0 ? 0 : MemPolicy.NODE_BITS + 1);
        }
    }

    /**
     * THREADS' STATE: whether thread {@code th} (not the main one) sets its own policy ({@link #setCall}, its nodes
     * written by the caller: {@link #nodeBytes}), which differs from the main thread's it was cloned with.
     */
    public static boolean differsFromMain(TaskContext t, ThreadImage th) {
        MemPolicy own = th.mempolicy();
        if (own == null || own.equals(mainPolicy(t))) {
            return false;
        }
        requireNodes(t, own, "its thread " + th.tid());
        return true;
    }

    /** The set_mempolicy of thread {@code th}'s policy, its nodes read at {@code nodesAt}. */
    public static SyscallBatch.Call setCall(ThreadImage th, long nodesAt) {
        MemPolicy own = th.mempolicy();
        return own.nodes() == 0 ? new SyscallBatch.Call(SyscallNr.SET_MEMPOLICY, own.mode(), 0, 0)
                : new SyscallBatch.Call(SyscallNr.SET_MEMPOLICY, own.mode(), nodesAt, MemPolicy.NODE_BITS + 1);
    }

    /** A policy's nodes as set_mempolicy and mbind read them (8 bytes, little-endian). */
    public static byte[] nodeBytes(MemPolicy p) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(p.nodes()).array();
    }

    private static MemPolicy mainPolicy(TaskContext t) {
        return t.task().threads().stream().filter(th -> th.tid() == t.pid().value()).findFirst()
                .map(ThreadImage::mempolicy).orElse(null);
    }

    /** The policy's nodes written into the task (0: none to write). */
    private static long nodesAt(TaskContext t, MemPolicy p) {
        return p.nodes() == 0 ? 0 : t.stash(nodeBytes(p));
    }

    /**
     * A policy on nodes this host has no memory on (an image made on a host of more nodes) is refused before any call:
     * the kernel's EINVAL would not say which. Nodes the program gave with MPOL_F_STATIC_NODES or
     * MPOL_F_RELATIVE_NODES are kept as given on any host ({@link MemPolicy#nodesAsGiven}).
     */
    private static void requireNodes(TaskContext t, MemPolicy p, String whose) {
        long lacking = p.nodesAsGiven() ? 0 : p.nodes() & ~hostNodes();
        if (lacking != 0) {
            throw new RestoreException("pid " + t.pid() + ": " + whose + " has the NUMA memory policy " + p.text()
                    + ", on node(s) " + MemPolicy.nodeList(lacking) + ", which this host lacks (its nodes with memory: "
                    + MemPolicy.nodeList(hostNodes()) + ")");
        }
    }

    /** The nodes with memory here (/sys/devices/system/node/has_memory; node 0 alone on a kernel without NUMA). */
    static long hostNodes() {
        Long known = hostNodes;
        if (known == null) {
            known = 1L;
            try {
                known = parseNodes(java.nio.file.Files.readString(java.nio.file.Path.of("/sys/devices/system/node/has_memory")));
            } catch (java.io.IOException | RuntimeException noNuma) {
                // node 0 alone
            }
            hostNodes = known;
        }
        return known;
    }

    /** "0-1,4\n" → bits 0, 1 and 4 (nodes past the 64th left out). */
    static long parseNodes(String list) {
        long nodes = 0;
        for (String part : list.trim().split(",")) {
            if (part.isEmpty()) {
                continue;
            }
            String[] ends = part.split("-");
            int from = Integer.parseInt(ends[0]), to = Integer.parseInt(ends[ends.length - 1]);
            for (int n = from; n <= to && n < MemPolicy.NODE_BITS; n++) {
                nodes |= 1L << n;
            }
        }
        return nodes;
    }

    /** For {@code cryo show}: the areas with a policy of their own, "0x7f..-0x7f.. bind:0". */
    public static List<String> json(MmImage mm) {
        return mm.areaPolicies().stream().map(a -> "0x" + Long.toHexString(a.start()) + "-0x" + Long.toHexString(a.end())
                + " " + a.policy().text()).toList();
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }
}
