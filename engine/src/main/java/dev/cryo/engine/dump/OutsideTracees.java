package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A task of the tree that traces a process outside it (`gdb -p`, `strace -p` run in the tree):
 * a ptrace attachment is not carried. The kernel lets the tracee go when the dump kills its
 * tracer, and the restored tracer (or, with --leave-running, the image's copy of it) would go on
 * believing it holds a tracee it does not. Refused before the seize, naming both, while the tree
 * runs. A tracee inside the tree is refused at its seize instead (cryo cannot seize a traced task).
 * The tree is looked at running, and again once it is frozen ({@link #lookAgain}): a tracer that
 * attached between the first look and the seize fails the dump before its image is committed.
 */
public final class OutsideTracees {
    private OutsideTracees() {}

    public static void check(List<Pid> tree) {
        Map<Integer, Pid> tracers = new HashMap<>(); // every thread of the tree: ptrace is per thread
        for (Pid p : tree) {
            tracers.put(p.value(), p);
            try {
                ProcFs.tasks(p).forEach(t -> tracers.put(t.value(), p));
            } catch (KernelException gone) {
                // exited meanwhile: the seize finds out
            }
        }
        for (int pid : ProcFs.pids()) {
            if (tracers.containsKey(pid)) {
                continue;
            }
            String status = status(pid + "");
            refuse(tracers, pid, pid, field(status, "\nTracerPid:\t"));
            if (field(status, "\nThreads:\t") < 2) {
                continue; // most processes: their one thread's status is the process's
            }
            List<Pid> threads;
            try {
                threads = ProcFs.tasks(Pid.of(pid));
            } catch (KernelException gone) {
                continue;
            }
            for (Pid tid : threads) { // a tracer may hold one thread of a process, not the others
                if (tid.value() != pid) {
                    refuse(tracers, pid, tid.value(), field(status(pid + "/task/" + tid.value()), "\nTracerPid:\t"));
                }
            }
        }
    }

    /**
     * The same look at the frozen tree, on a thread of its own beside the collect (a walk of every
     * process of the host, 7-9 ms here, kept out of the frozen window's path): no task of the tree
     * can attach any more. Completes with the refusal's text, or null.
     */
    public static java.util.concurrent.CompletableFuture<String> lookAgain(List<Pid> frozenTree) {
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                check(frozenTree);
                return null;
            } catch (DumpException e) {
                return e.getMessage() + " (it attached while the dump was starting)";
            }
        });
    }

    private static void refuse(Map<Integer, Pid> tracers, int pid, int tid, int tracer) {
        Pid holder = tracers.get(tracer);
        if (holder != null) {
            throw new DumpException("pid " + holder + " (" + comm(holder) + ") traces "
                    + (tid == pid ? "" : "thread " + tid + " of ") + "pid " + pid + " (" + comm(Pid.of(pid))
                    + "), which is not in the tree" + (tracer == holder.value() ? "" : " (from its thread " + tracer + ")")
                    + ": a ptrace attachment is not carried (the restored tracer would believe it still holds"
                    + " it); detach first (gdb's detach, or end the strace)");
        }
    }

    /** /proc/{@code path}/status, empty when it is gone. */
    private static String status(String path) {
        try {
            return ProcFs.text("/proc/" + path + "/status");
        } catch (KernelException gone) {
            return "";
        }
    }

    /** A number field of a status text, 0 when absent (status is parsed only that far: every process of the host is read). */
    private static int field(String status, String key) {
        int at = status.indexOf(key);
        if (at < 0) {
            return 0;
        }
        int from = at + key.length();
        int end = status.indexOf('\n', from);
        return Integer.parseInt(status.substring(from, end < 0 ? status.length() : end).trim());
    }

    private static String comm(Pid p) {
        try {
            return ProcFs.stat(p).comm();
        } catch (KernelException gone) {
            return "?";
        }
    }
}
