package dev.cryo.engine.ipc;

import com.sun.jna.Memory;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.SysvIpc;
import dev.cryo.kernel.ptrace.Injector;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A process's SEM_UNDO adjustments on the host's SysV semaphores: what the kernel adds back to each
 * semaphore when the process exits (a lock taken with SEM_UNDO is given back if its holder dies).
 * They were dropped, so a restored holder's exit gave nothing back (zdtm-like sem_undo: 3 left, 5
 * expected). The kernel shows them nowhere, but unshare(CLONE_SYSVSEM) applies them as an exit
 * would: run in the frozen task, the values it changes are its adjustments; the task then takes
 * them again by a semop with SEM_UNDO of the opposite amount (the value ends where it was). The
 * restore gives the restored task the same: cryo adds each amount, the task takes it back with
 * SEM_UNDO. Only for a single-threaded task of cryo's own ipc namespace: threads share one list,
 * which an unshare in one of them only lets go of, and a namespace of the tree's own gets its sets
 * made again, without adjustments.
 */
public record SemUndo(List<Adjustment> adjustments) {
    /** What the kernel adds to semaphore {@code sem} of set {@code set} at the task's exit. */
    public record Adjustment(int set, int sem, int value) {}

    public static final SemUndo NONE = new SemUndo(List.of());

    public SemUndo {
        adjustments = List.copyOf(adjustments);
    }

    /** zdtmf42's range: 4200-4249. */
    public static final int RECORD_ID = 4200;
    private static final int MAX = 1 << 16;
    private static final int CLONE_SYSVSEM = 0x40000, SEM_UNDO = 0x1000;

    public static final RecordCodec<SemUndo> CODEC = RecordCodec.of(SemUndo.class, RECORD_ID, 1, (out, u) -> {
        out.writeVarInt(u.adjustments().size(), true);
        for (Adjustment a : u.adjustments()) {
            out.writeVarInt(a.set(), true);
            out.writeVarInt(a.sem(), true);
            out.writeVarInt(a.value(), false);
        }
    }, (in, version) -> {
        int n = ModelFields.readCount(in, "SemUndo", MAX, "adjustments");
        List<Adjustment> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(new Adjustment(in.readVarInt(true), in.readVarInt(true), in.readVarInt(false)));
        }
        return new SemUndo(list);
    });

    /**
     * DUMP: the adjustments of frozen task {@code pid} (its main thread injected through {@code inj},
     * {@code scratch} a page of it cryo may write), left in place. Tasks are measured one at a time:
     * the values of every set are read around each unshare.
     */
    public static SemUndo dump(Pid pid, int threads, Injector inj, long scratch) {
        String ours = Namespaces.link("self", "ipc");
        if (ours == null || !ours.equals(Namespaces.link(Integer.toString(pid.value()), "ipc"))) {
            return NONE;
        }
        Boolean none = hasNoList(pid);
        if (Boolean.TRUE.equals(none)) {
            return NONE;
        }
        if (threads > 1) {
            // its threads share the list (glibc's pthread_create passes CLONE_SYSVSEM; a JVM has one): an unshare
            // in one thread would only let go of it. Left uncarried, as before (README)
            return NONE;
        }
        synchronized (SemUndo.class) {
            Map<Integer, int[]> before = values();
            inj.call("unshare(CLONE_SYSVSEM)", SyscallNr.UNSHARE, CLONE_SYSVSEM);
            Map<Integer, int[]> after = values();
            List<Adjustment> found = new ArrayList<>();
            List<String> others = new ArrayList<>();
            for (Map.Entry<Integer, int[]> e : before.entrySet()) {
                int[] now = after.get(e.getKey());
                if (now == null || now.length != e.getValue().length) {
                    continue; // removed meanwhile: exit_sem skips such a set too
                }
                int[] pids = null;
                for (int i = 0; i < now.length; i++) {
                    if (now[i] == e.getValue()[i]) {
                        continue;
                    }
                    pids = pids != null ? pids : SysvIpc.semPids(e.getKey(), now.length);
                    if (pids[i] != pid.value()) {
                        others.add("semaphore " + i + " of set " + e.getKey() + " (by pid " + pids[i] + ")");
                    }
                    found.add(new Adjustment(e.getKey(), i, now[i] - e.getValue()[i]));
                }
            }
            takeAgain(inj, pid, scratch, found);
            if (!others.isEmpty()) {
                throw new DumpException("pid " + pid + ": its SEM_UNDO adjustments could not be told apart: "
                        + String.join(", ", others) + " changed while they were read; dump again");
            }
            return new SemUndo(found);
        }
    }

    /** kthreadd, a kernel thread: it has no undo list (cryo's own JVM has one); null where cryo's pid 2 is another task. */
    private static final Pid NO_LIST = kthreadd();

    private static Pid kthreadd() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/2/comm")).strip().equals("kthreadd")
                    ? Pid.of(2) : null;
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /** Whether the task has no SEM_UNDO list at all (kcmp KCMP_SYSVSEM with a task that has none); null: cannot tell. */
    private static Boolean hasNoList(Pid pid) {
        if (NO_LIST == null) {
            return null;
        }
        try {
            return Sys.shareResource(NO_LIST, pid, Sys.KCMP_SYSVSEM);
        } catch (KernelException e) {
            return null;
        }
    }

    /** The task takes each adjustment again: a semop with SEM_UNDO of the opposite amount. */
    private static void takeAgain(Injector inj, Pid pid, long scratch, List<Adjustment> list) {
        for (Adjustment a : list) {
            Sys.write(pid, scratch, sembuf(a.sem(), -a.value()));
            inj.call("semop(" + a.set() + ", sem " + a.sem() + ", " + -a.value() + ", SEM_UNDO)", SyscallNr.SEMOP,
                    a.set(), scratch, 1);
        }
    }

    /** RESTORE: cryo adds each amount, then the task {@code call}s a semop that takes it back with SEM_UNDO. */
    public void restore(int pid, java.util.function.Function<byte[], Long> put, Call call) {
        for (Adjustment a : adjustments) {
            try {
                SysvIpc.semAdd(a.set(), a.sem(), a.value());
            } catch (KernelException gone) {
                continue; // the set was removed since: the task's exit would have skipped it too
            }
            long at = put.apply(sembuf(a.sem(), -a.value()));
            call.call("semop(" + a.set() + ", sem " + a.sem() + ", " + -a.value() + ", SEM_UNDO)", SyscallNr.SEMOP,
                    a.set(), at, 1);
        }
    }

    /** An injected call in the restored task. */
    public interface Call {
        long call(String name, int nr, long... args);
    }

    /** SHOW. */
    public List<Map<String, Object>> json() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Adjustment a : adjustments) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("set", a.set());
            m.put("semaphore", a.sem());
            m.put("adjustment", a.value());
            out.add(m);
        }
        return out;
    }

    private static byte[] sembuf(int sem, int op) { // struct sembuf: sem_num, sem_op, sem_flg
        Memory b = new Memory(6);
        b.setShort(0, (short) sem);
        b.setShort(2, (short) op);
        b.setShort(4, (short) (SEM_UNDO | SysvIpc.IPC_NOWAIT));
        return b.getByteArray(0, 6);
    }

    /** The values of every semaphore set of the host's ipc namespace. */
    private static Map<Integer, int[]> values() {
        Map<Integer, int[]> out = new HashMap<>();
        for (SysvIpc.Entry e : SysvIpc.list("sem")) {
            try {
                out.put(e.id(), SysvIpc.semValues(e.id(), (int) e.size()));
            } catch (KernelException gone) {
                // removed meanwhile, or not readable by cryo
            }
        }
        return out;
    }
}
