package dev.cryo.engine.ipc;

import com.sun.jna.Memory;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SemUndoList;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.SysvIpc;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A process's SEM_UNDO adjustments on SysV semaphores: what the kernel adds back to each semaphore
 * when the process exits (a lock taken with SEM_UNDO is given back if its holder dies). They were
 * dropped, so a restored holder's exit gave nothing back (zdtm-like sem_undo: 3 left, 5 expected).
 * No file shows them: the dump reads the task's undo list with cryo's BPF iterator
 * ({@link SemUndoList}), leaving the task as it was; the list is its threads' (glibc's
 * pthread_create passes CLONE_SYSVSEM; a JVM has one), as the restored threads' is (ThreadCreation
 * passes it too). The restore has the restored task make each again by a semop that adds and takes
 * the amount, one of the two with SEM_UNDO (the value ends where it was). The sets are the host's or,
 * in an ipc namespace of the tree's own, the ones its restore made again with their ids.
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
    private static final int SEM_UNDO = 0x1000, GETVAL = 12;

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
     * DUMP: the adjustments of frozen task {@code pid} (threads {@code tids}), read without changing it.
     * Refused where the list cannot be carried whole: threads that do not share one list, a list another
     * process shares, more sets or semaphores than the iterator reads, no iterator (no BTF, no bpf()) while
     * the namespace has semaphore sets (every process that made a thread has a list, mostly empty).
     */
    public static SemUndo dump(Pid pid, List<Integer> tids) {
        int reader = ExitedLeaders.reader(pid.value());
        String ns = Namespaces.link(Integer.toString(reader), "ipc");
        if (ns == null) {
            return NONE; // no ipc namespace: an exiting task, which exit_sem has let go of its list
        }
        for (int tid : tids) {
            if (tid != reader && !ns.equals(Namespaces.link(reader + "/task/" + tid, "ipc"))) {
                continue; // an ipc namespace of its own (unshare(CLONE_NEWIPC) unshares the list too): empty, or refused
                          // (ThreadNsReader), and made again with a list of its own
            }
            if (tid != reader && !Sys.shareResource(Pid.of(reader), Pid.of(tid), Sys.KCMP_SYSVSEM)) {
                throw new DumpException("pid " + pid + " thread " + tid + " does not share the SEM_UNDO list of thread "
                        + reader + " (it unshared CLONE_SYSVSEM, or was cloned without it): a restore gives the threads"
                        + " of a process one list; not supported");
            }
        }
        if (Boolean.TRUE.equals(hasNoList(pid))) {
            return NONE;
        }
        Map<Integer, Integer> sizes = new HashMap<>();
        for (SysvIpc.Entry e : hostIpc(ns) ? SysvIpc.list("sem")
                : Namespaces.inside(Pid.of(reader), "ipc", () -> SysvIpc.list("sem"))) {
            sizes.put(e.id(), (int) e.size());
        }
        if (sizes.isEmpty()) {
            return NONE; // no set, so no adjustment (removing a set drops it from every list): no BPF read to pay
        }
        SemUndoList list;
        try {
            list = SemUndoList.of(reader);
        } catch (SemUndoList.TooMany e) {
            throw new DumpException("pid " + pid + ": " + e.getMessage() + "; its SEM_UNDO adjustments cannot all be"
                    + " carried", e);
        } catch (RuntimeException e) {
            throw new DumpException("pid " + pid + " has a SEM_UNDO list (a semop with SEM_UNDO or a thread made one)"
                    + " and its ipc namespace has semaphore sets (" + sizes.keySet().stream().sorted().map(String::valueOf)
                    .collect(java.util.stream.Collectors.joining(", ")) + "): no file shows the adjustments, and the BPF"
                    + " iterator cryo reads them with cannot run here: " + e.getMessage() + "; they would be lost", e);
        }
        if (list.tasks() > tids.size()) {
            throw new DumpException("pid " + pid + " shares its SEM_UNDO list with " + sharers(pid, list.tasks() - tids.size())
                    + " (cloned with CLONE_SYSVSEM but not as a thread): a restore gives each process a list of its own,"
                    + " whose exits would each give back what they took together; not supported");
        }
        List<Adjustment> found = new ArrayList<>();
        for (SemUndoList.Undo u : list.undos()) {
            Integer n = sizes.get(u.semid());
            if (n == null) {
                continue; // removed meanwhile (semid -1): exit_sem skips such a set too
            }
            if (n > SemUndoList.MAX_SEMS) {
                throw new DumpException("pid " + pid + " has SEM_UNDO adjustments on semaphore set " + u.semid() + " of "
                        + n + " semaphores, more than the " + SemUndoList.MAX_SEMS + " cryo's BPF iterator reads; not supported");
            }
            for (int i = 0; i < n; i++) {
                if (u.unread(i)) {
                    throw new DumpException("pid " + pid + ": the SEM_UNDO adjustment of semaphore " + i + " of set "
                            + u.semid() + " could not be read (a read of kernel memory faulted); dump again");
                }
                if (u.semadj()[i] != 0) {
                    found.add(new Adjustment(u.semid(), i, u.semadj()[i]));
                }
            }
        }
        return new SemUndo(found);
    }

    /** "pid M" for the processes other than {@code pid} that share its list, or how many cryo did not find. */
    private static String sharers(Pid pid, int count) {
        List<String> found = new ArrayList<>();
        try (java.util.stream.Stream<java.nio.file.Path> procs = java.nio.file.Files.list(java.nio.file.Path.of("/proc"))) {
            for (java.nio.file.Path p : (Iterable<java.nio.file.Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit) || name.equals(Integer.toString(pid.value()))) {
                    continue;
                }
                try {
                    if (Sys.shareResource(pid, Pid.of(Integer.parseInt(name)), Sys.KCMP_SYSVSEM)) {
                        found.add("pid " + name);
                    }
                } catch (KernelException gone) {
                    // exited meanwhile
                }
            }
        } catch (java.io.IOException e) {
            // named by their number below
        }
        return found.isEmpty() ? count + " other task(s)" : String.join(", ", found);
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

    /**
     * RESTORE: the task {@code call}s one semop of two operations per adjustment, which leaves the value as
     * it is and the adjustment on its list: the positive amount first (it cannot block), one of them with
     * SEM_UNDO. A set of the host's namespace removed since is skipped (the task's exit would have skipped it).
     */
    public void restore(int pid, java.util.function.Function<byte[], Long> put, Call call) {
        if (adjustments.isEmpty()) {
            return;
        }
        java.util.Set<Integer> sets = null;
        if (hostIpc(Namespaces.link(Integer.toString(pid), "ipc"))) {
            sets = new java.util.HashSet<>();
            for (SysvIpc.Entry e : SysvIpc.list("sem")) {
                sets.add(e.id());
            }
        }
        for (Adjustment a : adjustments) {
            if (sets != null && !sets.contains(a.set())) {
                continue;
            }
            giveBack(a, put, call);
            if (sets != null) {
                GIVEN.computeIfAbsent(pid, k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(a);
            }
        }
    }

    /** The largest value of a semaphore (SEMVMX): an operation past it fails (ERANGE). */
    private static final int SEMVMX = 32767;

    /**
     * One adjustment made again by semops that leave the semaphore's value as it is: each adds and takes away the
     * same amount, the one with SEM_UNDO being the opposite of the adjustment. Adding first cannot block, but fails
     * past SEMVMX (ERANGE: a task that had added 17,200 with SEM_UNDO to a semaphore it holds at 17,200, stress-ng's
     * sem-sysv), so where the value has no room above it takes away first, and where neither way has room for the
     * whole amount it goes in steps of the room there is.
     */
    private static void giveBack(Adjustment a, java.util.function.Function<byte[], Long> put, Call call) {
        int n = Math.abs(a.value());
        long value = call.call("semctl(" + a.set() + ", sem " + a.sem() + ", GETVAL)", SyscallNr.SEMCTL, a.set(), a.sem(),
                GETVAL, 0);
        boolean addFirst = value + n <= SEMVMX || SEMVMX - value >= value;
        long room = addFirst ? SEMVMX - value : value;
        if (room <= 0) {
            throw new dev.cryo.engine.restore.RestoreException("semaphore " + a.sem() + " of set " + a.set() + " is at "
                    + value + ": no room to give back its SEM_UNDO adjustment of " + a.value());
        }
        for (int left = n; left > 0; ) {
            int step = (int) Math.min(left, room);
            int add = a.value() < 0 ? SEM_UNDO : 0, take = a.value() > 0 ? SEM_UNDO : 0;
            long at = put.apply(addFirst ? sembufs(a.sem(), step, add, -step, take) : sembufs(a.sem(), -step, take, step, add));
            call.call("semop(" + a.set() + ", sem " + a.sem() + ": " + (addFirst ? "+" + step + " then -" : "-" + step
                    + " then +") + step + ", SEM_UNDO on the " + ((a.value() > 0) == addFirst ? "second" : "first") + ")",
                    SyscallNr.SEMOP, a.set(), at, 2);
            left -= step;
        }
    }

    /**
     * Adjustments made again in restored tasks on the host's semaphores, by pid, while their restore runs:
     * if it fails, the kill of those tasks applies them (exit_sem) to semaphores the image still holds.
     */
    private static final Map<Integer, List<Adjustment>> GIVEN = new java.util.concurrent.ConcurrentHashMap<>();

    /** The restore of {@code pids} starts, or ended with them running: nothing to take back from them. */
    public static void forget(java.util.Collection<Integer> pids) {
        pids.forEach(GIVEN::remove);
    }

    /** Whether each of {@code pids} given adjustments has exited (gone or a zombie: exit_sem has run). */
    public static boolean exited(java.util.Collection<Integer> pids) {
        for (int pid : pids) {
            if (GIVEN.containsKey(pid)) {
                try {
                    String st = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/stat"));
                    if (st.charAt(st.lastIndexOf(')') + 2) != 'Z') {
                        return false;
                    }
                } catch (java.io.IOException gone) {
                    // reaped
                }
            }
        }
        return true;
    }

    /**
     * After a failed restore's tasks {@code pids} exited: takes from the host's semaphores what their exits
     * gave back (a lock the image holds is taken again); returns what could not be, named.
     */
    public static List<String> takeBack(java.util.Collection<Integer> pids) {
        List<String> problems = new ArrayList<>();
        for (int pid : pids) {
            List<Adjustment> given = GIVEN.remove(pid);
            for (Adjustment a : given == null ? List.<Adjustment>of() : given) {
                String what = "semaphore " + a.sem() + " of SysV set " + a.set();
                try {
                    if (a.value() < 0 && Sys.call(() -> "semctl(" + a.set() + ", " + a.sem() + ", GETVAL)", SyscallNr.SEMCTL,
                            a.set(), a.sem(), GETVAL, 0) == 0) {
                        // the exit took |value| but stops at 0: how much it took is unknown
                        problems.add(what + " may have lost up to " + -a.value() + " to the exit of the restored pid "
                                + pid + " (its SEM_UNDO adjustment)");
                        continue;
                    }
                    SysvIpc.semAdd(a.set(), a.sem(), -a.value());
                } catch (KernelException e) {
                    problems.add(what + " got " + a.value() + " from the exit of the restored pid " + pid + " (its SEM_UNDO"
                            + " adjustment), which could not be taken back: " + e.getMessage());
                }
            }
        }
        return problems;
    }

    /** Whether ipc namespace {@code ns} (a /proc/PID/ns/ipc link) is cryo's, the host's. */
    private static boolean hostIpc(String ns) {
        return ns != null && ns.equals(Namespaces.link("self", "ipc"));
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

    /** Two struct sembuf (sem_num, sem_op, sem_flg) on one semaphore, neither waiting. */
    private static byte[] sembufs(int sem, int op1, int flags1, int op2, int flags2) {
        Memory b = new Memory(12);
        b.setShort(0, (short) sem);
        b.setShort(2, (short) op1);
        b.setShort(4, (short) (flags1 | SysvIpc.IPC_NOWAIT));
        b.setShort(6, (short) sem);
        b.setShort(8, (short) op2);
        b.setShort(10, (short) (flags2 | SysvIpc.IPC_NOWAIT));
        return b.getByteArray(0, 12);
    }
}
