package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;

import java.util.Map;

/**
 * A namespace a task entered with setns that another task of the tree is in (zdtm's netns_sub: a child
 * back in its grandparent's net namespace; tempfs_subns: a child forked before its parent unshared a
 * mount namespace, left in the one above). A fork puts a task in its parent's namespaces, so the restore
 * has it join the other task's once forked, before it forks its own children (they were in it too).
 * That task must be an ancestor: a restore makes a task's namespaces (mounts, lo, names, SysV objects)
 * before its descendants are forked, and there is no such order with any other task. Kinds: net, mnt,
 * uts, ipc, which setns joins as they are; pid (only the children's), user and cgroup are refused.
 */
public final class Entered {
    private Entered() {}

    /** Refuses task {@code p} in {@code kind} namespace {@code link} of task {@code owner} when a restore cannot join it. */
    static void check(Pid p, String kind, String link, String whose, int owner, Map<Integer, Integer> ppidOf) {
        String head = "pid " + p + ": its " + kind + " namespace (" + link + ") is neither " + whose + " nor one it made:"
                + " it is pid " + owner + "'s, entered with setns";
        if ((Clone.namespaceFlag(kind) & NamespaceImage.ENTERABLE) == 0) {
            throw new DumpException(head + "; a " + kind + " namespace entered so is not supported yet (net, mnt, uts and"
                    + " ipc are)");
        }
        if (!isAncestor(owner, p.value(), ppidOf)) {
            throw new DumpException(head + ", and pid " + owner + " is not its ancestor: a restore makes a task's"
                    + " namespaces before its descendants fork, in no order with other tasks; not supported yet");
        }
    }

    private static boolean isAncestor(int owner, int pid, Map<Integer, Integer> ppidOf) {
        Integer up = ppidOf.get(pid);
        for (int hops = 0; up != null && hops <= ppidOf.size(); hops++) {
            if (up == owner) {
                return true;
            }
            up = ppidOf.get(up);
        }
        return false;
    }

    /**
     * Task {@code t} joins the namespaces it had entered: cryo opens /proc/OWNER/ns/KIND of the ancestor, made
     * again already, and the task takes that fd (its own view may have no /proc).
     */
    static void join(TaskContext t, Map<Integer, Integer> entered) {
        entered.forEach((flag, owner) -> {
            String kind = Clone.describeNamespaces(flag);
            String path = "/proc/" + owner + "/ns/" + kind;
            long fd;
            try (dev.cryo.kernel.Fd ns = dev.cryo.kernel.Sys.open(path, Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
                fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), ns.value());
            } catch (KernelException e) {
                throw new RestoreException("pid " + t.pid() + ": the " + kind + " namespace of pid " + owner + ", which it"
                        + " had entered, cannot be opened: " + e.getMessage());
            }
            try {
                t.call("setns(pid " + owner + "'s " + kind + " namespace)", SyscallNr.SETNS, fd, flag);
            } finally {
                t.call("close", SyscallNr.CLOSE, fd);
            }
        });
    }
}
