package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcStatus;
import dev.cryo.kernel.ptrace.SyscallBatch;

import java.util.List;

/**
 * A task confined by a Landlock domain (landlock_restrict_self): the kernel shows the domain nowhere and
 * no call reads it back, so cryo cannot carry it, and the restored task would run unconfined. It is seen
 * through Landlock's ptrace hook: a task in a domain may not even read-access a process outside it, so
 * kcmp(itself, W, KCMP_VM), injected, is EPERM from inside a domain and allowed otherwise, where W is a
 * process nothing else forbids it to read-access: cryo itself when the task has CAP_SYS_PTRACE in cryo's
 * user namespace and sees cryo's pid, else a witness cryo starts with the task's ids in its namespaces
 * ({@link LandlockWitnesses}). Another LSM labelling the task (AppArmor, SELinux) could deny the same way:
 * there the answer is not conclusive (README).
 */
final class LandlockDomain {
    private LandlockDomain() {}

    private static final int CAP_SYS_PTRACE = 19;
    private static final long CRYO = ProcessHandle.current().pid();

    /**
     * The process a task's probe read-accesses ({@code pid}) and the task itself ({@code self}), as the
     * task's pid namespace numbers them, and whether the answer counts ({@code unknown}: why not).
     */
    record Witness(long self, long pid, boolean conclusive, String unknown) {}

    /** The witness for task {@code pid}: cryo, one of {@code witnesses} (null: none may be made), or none. */
    static Witness witness(int pid, ProcStatus status, LandlockWitnesses witnesses) {
        if (labelled(pid)) {
            return new Witness(pid, CRYO, false, "another LSM labels it");
        }
        if (cryoWitnesses(pid, status)) {
            return new Witness(pid, CRYO, true, null);
        }
        if (witnesses == null) {
            return new Witness(pid, CRYO, false, "no witness");
        }
        try {
            int witness = witnesses.of(pid, status);
            List<Integer> inside = status.nsPid(); // the task's own pid as it sees it
            return new Witness(inside.isEmpty() ? pid : inside.get(inside.size() - 1), witness, true, null);
        } catch (RuntimeException e) {
            return new Witness(pid, CRYO, false, e.getMessage());
        }
    }

    /** Whether cryo itself is a witness for the task: it may ptrace cryo by its credentials and sees cryo's pid. */
    static boolean cryoWitnesses(int pid, ProcStatus status) {
        String self = Long.toString(CRYO), task = Integer.toString(pid);
        return (status.capEff() & 1L << CAP_SYS_PTRACE) != 0 && same(self, task, "user") && same(self, task, "pid");
    }

    /** The injected call, in the task's main thread. */
    static SyscallBatch.Call probe(Witness w) {
        return new SyscallBatch.Call(SyscallNr.KCMP, w.self(), w.pid(), Sys.KCMP_VM, 0, 0);
    }

    /** {@link #probe}, where the thread cannot take a batch. */
    static long ask(dev.cryo.kernel.ptrace.Injector inj, Witness w) {
        SyscallBatch.Call c = probe(w);
        return inj.raw(c.nr(), c.args());
    }

    /** Refuses the task when {@code result} (of {@link #probe}) says it is in a domain and nothing else could have. */
    static void refuseIfConfined(String who, long result, Witness w) {
        if (result != -Errno.EPERM || !w.conclusive()) {
            return;
        }
        throw new DumpException(who + ": it is confined by a Landlock domain (landlock_restrict_self): the kernel"
                + " shows the domain's rules nowhere, so cryo cannot carry them, and the restored task would run"
                + " unconfined");
    }

    private static boolean same(String self, String task, String kind) {
        String mine = Namespaces.link(self, kind);
        return mine != null && mine.equals(Namespaces.link(task, kind));
    }

    /** Whether another LSM (AppArmor, SELinux, Smack) labels the task: its own denial looks the same. */
    private static boolean labelled(int pid) {
        try {
            String label = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/attr/current"))
                    .replace("\0", "").strip();
            return !label.isEmpty() && !label.equals("unconfined");
        } catch (java.io.IOException | RuntimeException none) { // EINVAL: no LSM keeps a label
            return false;
        }
    }
}
