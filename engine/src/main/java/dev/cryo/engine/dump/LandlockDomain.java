package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcStatus;
import dev.cryo.kernel.ptrace.SyscallBatch;

/**
 * A task confined by a Landlock domain (landlock_restrict_self): the kernel shows the domain nowhere and
 * no call reads it back, so cryo cannot carry it, and the restored task would run unconfined. It is seen
 * through Landlock's ptrace hook: a task in a domain may not even read-access a process outside it, so
 * kcmp(itself, cryo, KCMP_VM), injected, is EPERM from inside a domain and allowed otherwise. That
 * answer is conclusive only where nothing else can deny it: the task may ptrace cryo by its credentials
 * (CAP_SYS_PTRACE in cryo's user namespace), sees cryo's pid (cryo's pid namespace), and no other LSM
 * labels it (AppArmor or SELinux deny the same way). Elsewhere cryo cannot tell (README).
 */
final class LandlockDomain {
    private LandlockDomain() {}

    private static final int CAP_SYS_PTRACE = 19;
    private static final long CRYO = ProcessHandle.current().pid();

    /** The injected call, in the task's main thread. */
    static SyscallBatch.Call probe(int pid) {
        return new SyscallBatch.Call(SyscallNr.KCMP, pid, CRYO, Sys.KCMP_VM, 0, 0);
    }

    /** {@link #probe}, where the thread cannot take a batch. */
    static long ask(dev.cryo.kernel.ptrace.Injector inj) {
        SyscallBatch.Call c = probe(inj.pid().value());
        return inj.raw(c.nr(), c.args());
    }

    /** Refuses the task when {@code result} (of {@link #probe}) says it is in a domain and nothing else could have. */
    static void refuseIfConfined(int pid, String who, long result, ProcStatus status) {
        if (result != -Errno.EPERM || !conclusive(pid, status)) {
            return;
        }
        throw new DumpException(who + ": it is confined by a Landlock domain (landlock_restrict_self): the kernel"
                + " shows the domain's rules nowhere, so cryo cannot carry them, and the restored task would run"
                + " unconfined");
    }

    private static boolean conclusive(int pid, ProcStatus status) {
        String self = Long.toString(CRYO), task = Integer.toString(pid);
        return (status.capEff() & 1L << CAP_SYS_PTRACE) != 0 && same(self, task, "user") && same(self, task, "pid")
                && !labelled(pid);
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
