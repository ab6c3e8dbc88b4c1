package dev.cryo.engine.dump;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcStat;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

/** Why a task of the tree has not stopped for the seize, as far as /proc can tell, for the timeout's message. */
public final class SeizeDelay {
    private SeizeDelay() {}

    /** One clause per pid, e.g. "pid 12 waits for its vfork child to exec or exit". */
    public static String explain(Collection<Pid> pids) {
        return pids.stream().map(SeizeDelay::explain).collect(Collectors.joining("; "));
    }

    static String explain(Pid pid) {
        char state;
        try {
            state = ProcFs.stat(pid).state();
        } catch (KernelException e) {
            return "pid " + pid + " is gone";
        }
        if (state == 't') {
            return "pid " + pid + " has stopped by now: late, not stuck (a loaded machine; a longer --timeout gives it time)";
        }
        if (state != 'D') {
            return borrowsParentMemory(pid) ? "pid " + pid + " is the vfork child " + parentOf(pid)
                    + " waits for (it has not exec'd nor exited yet)" : "pid " + pid + " (state " + state + ")";
        }
        String wchan = wchan(Path.of(pid.procDir(), "wchan"));
        if (isVforkWait(wchan)) {
            return vforkWait(pid);
        }
        return "pid " + pid + " is in uninterruptible sleep" + (wchan.isEmpty() ? "" : " in " + wchan)
                + " (a stopped NFS server, a hung device or a frozen cgroup keeps it there)";
    }

    /**
     * "in uninterruptible sleep in WCHAN" while thread {@code tid} of {@code pid} is in state D, else null:
     * no ptrace request stops it before it wakes, so the seize's wait samples it to say why it ran out.
     */
    static String uninterruptibleSleep(Pid pid, Pid tid) {
        try {
            if (ProcFs.stat(pid, tid).state() != 'D') {
                return null;
            }
        } catch (KernelException e) {
            return null;
        }
        String wchan = wchan(Path.of(pid.procDir(), "task", tid.toString(), "wchan"));
        return "in uninterruptible sleep" + (wchan.isEmpty() ? "" : " in " + wchan);
    }

    /** "in uninterruptible sleep in WCHAN", else "state S" or "gone": where thread {@code tid} of {@code pid} is now. */
    public static String stateOf(Pid pid, Pid tid) {
        String sleep = uninterruptibleSleep(pid, tid);
        return sleep != null ? sleep : stateNow(pid, tid);
    }

    /** "state R" for a thread at this instant, "gone" once it exited. */
    static String stateNow(Pid pid, Pid tid) {
        try {
            return "state " + ProcFs.stat(pid, tid).state();
        } catch (KernelException e) {
            return "gone";
        }
    }

    /**
     * The refusal's clause for a process that waits for its vfork child, naming the child: the kernel
     * sleeps the parent killable only, so no ptrace request stops it before the child execs or exits.
     */
    public static String vforkWait(Pid pid) {
        return "pid " + pid + " waits for its vfork child to exec or exit (" + vforkChildOf(pid)
                + " shares its memory; dump again once it has)";
    }

    /**
     * The refusal for vfork child {@code child} not exec'd by the seize's deadline: its parent's wait, named as
     * {@link #vforkWait} names it. Whichever of the two tasks' seizes gives up first, the user reads the same cause
     * (session 51's CI read the child's "did not stop within the seize timeout (state t)" instead).
     */
    public static String vforkWaitFor(Pid child) {
        try {
            return vforkWait(Pid.of(ProcFs.stat(child).ppid()));
        } catch (KernelException gone) {
            return "pid " + child + " is a vfork child that did not exec or exit within the seize timeout";
        }
    }

    private static String parentOf(Pid child) {
        try {
            return "pid " + ProcFs.stat(child).ppid();
        } catch (KernelException gone) {
            return "its parent";
        }
    }

    /** "pid C (comm)", the child of {@code pid} that still runs in its memory, or "the child" once it is gone. */
    private static String vforkChildOf(Pid pid) {
        try {
            for (Pid c : ProcFs.children(pid)) {
                if (borrowsParentMemory(c)) {
                    return "pid " + c + " (" + ProcFs.stat(c).comm() + ")";
                }
            }
        } catch (KernelException gone) {
            // the parent or the child exited meanwhile
        }
        return "the child";
    }

    /**
     * True while thread {@code tid} of {@code pid} sleeps in vfork until its child execs or exits.
     * Such a thread cannot stop for a tracer, and once the dump holds the child (it is in the tree)
     * it never will: waiting out the seize timeout could only end in the same refusal.
     */
    public static boolean inVforkWait(Pid pid, Pid tid) {
        try {
            if (ProcFs.stat(pid, tid).state() != 'D') {
                return false;
            }
        } catch (KernelException e) {
            return false;
        }
        return isVforkWait(wchan(Path.of(pid.procDir(), "task", tid.toString(), "wchan")));
    }

    /**
     * True for a vfork child that has not exec'd yet: it still runs in its parent's memory (kcmp
     * KCMP_VM) and has not exec'd since its fork (PF_FORKNOEXEC).
     */
    public static boolean borrowsParentMemory(Pid pid) {
        try {
            ProcStat st = ProcFs.stat(pid);
            if ((st.flags() & ProcStat.PF_FORKNOEXEC) == 0 || st.state() == 'Z' || st.state() == 'X' || st.ppid() <= 0) {
                return false;
            }
            return Sys.shareResource(pid, Pid.of(st.ppid()), Sys.KCMP_VM);
        } catch (KernelException e) {
            return false; // gone, or a parent outside cryo's reach
        }
    }

    /** True when a vfork child of thread {@code tid} of {@code pid} is held by a tracer: the thread cannot stop. */
    public static boolean vforkChildHeld(Pid pid, Pid tid) {
        return vforkChild(pid, tid, true);
    }

    /** True while thread {@code tid} of {@code pid} has a vfork child that has not exec'd or exited, held or not. */
    public static boolean hasVforkChild(Pid pid, Pid tid) {
        return vforkChild(pid, tid, false);
    }

    private static boolean vforkChild(Pid pid, Pid tid, boolean held) {
        List<Pid> children;
        try {
            children = ProcFs.children(pid, tid);
        } catch (KernelException e) {
            return false;
        }
        for (Pid c : children) {
            try {
                if (borrowsParentMemory(c) && (!held || ProcFs.status(c).tracerPid() != 0)) {
                    return true;
                }
            } catch (KernelException gone) {
                // exited meanwhile
            }
        }
        return false;
    }

    // the parent sleeps in kernel_clone (wait_for_vfork_done when not inlined) until the child lets the memory go
    private static boolean isVforkWait(String wchan) {
        return wchan.equals("kernel_clone") || wchan.equals("wait_for_vfork_done");
    }

    private static String wchan(Path file) {
        try {
            String w = Files.readString(file).trim();
            return w.equals("0") ? "" : w;
        } catch (IOException e) {
            return "";
        }
    }
}
