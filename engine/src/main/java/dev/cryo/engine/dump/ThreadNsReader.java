package dev.cryo.engine.dump;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadNs;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;

import java.util.List;

/**
 * The dump half of the namespaces a thread made or entered alone ({@link ThreadNs}), read from the frozen task:
 * the host and domain names of a uts namespace of its own, the host path of the net namespace it entered
 * ({@code ip netns add}'s), or whether lo is up in a net namespace it made and bound nowhere (one holding more is
 * refused here), a cgroup namespace of its own (rooted where its process is, or refused here) and an ipc namespace
 * of its own (empty, or refused here). What else a thread holds alone is refused before the freeze ({@link ThreadsAlone}).
 */
final class ThreadNsReader {
    private ThreadNsReader() {}

    /**
     * A cgroup namespace a thread made alone is made again where its process is placed: the thread must still be at
     * its root, in its process's cgroups (not in cgroups of its own, a v2 threaded subtree's).
     */
    private static void cgroupRootedAtItsProcess(Pid pid, Pid t, String link) {
        dev.cryo.engine.namespaces.NamespaceScan.checkAtCgroupRoot(t);
        if (!dev.cryo.kernel.proc.ProcFs.text("/proc/" + pid + "/task/" + t + "/cgroup")
                .equals(dev.cryo.kernel.proc.ProcFs.text("/proc/" + pid + "/cgroup"))) {
            throw new dev.cryo.engine.DumpException("pid " + pid + " thread " + t + ": its cgroup namespace (" + link
                    + ") is rooted in cgroups other than its process's; a restore makes a thread's own cgroup namespace in"
                    + " its process's cgroups: not supported yet");
        }
    }

    /** Sets the namespaces of each of {@code threads} that is in a uts, net, cgroup or ipc namespace its process is not in. */
    static void addOwnNamespaces(Pid pid, List<ThreadImage> threads) {
        if (threads.size() < 2) {
            return;
        }
        String uts = Namespaces.link(pid.toString(), "uts"), net = Namespaces.link(pid.toString(), "net"),
                cgroup = Namespaces.link(pid.toString(), "cgroup"), ipc = Namespaces.link(pid.toString(), "ipc");
        for (int i = 0; i < threads.size(); i++) {
            Pid t = Pid.of(threads.get(i).tid());
            String dir = pid + "/task/" + t, theirUts = Namespaces.link(dir, "uts"), theirNet = Namespaces.link(dir, "net");
            boolean ownUts = uts != null && theirUts != null && !theirUts.equals(uts);
            boolean ownNet = net != null && theirNet != null && !theirNet.equals(net);
            String theirCgroup = Namespaces.link(dir, "cgroup");
            boolean ownCgroup = cgroup != null && theirCgroup != null && !theirCgroup.equals(cgroup);
            String theirIpc = Namespaces.link(dir, "ipc");
            boolean ownIpc = ipc != null && theirIpc != null && !theirIpc.equals(ipc);
            if (t.equals(pid) || !ownUts && !ownNet && !ownCgroup && !ownIpc) {
                continue;
            }
            if (ownIpc) {
                dev.cryo.engine.namespaces.IpcScan.requireEmpty(t, theirIpc, "pid " + pid + " thread " + t);
            }
            if (ownCgroup) {
                cgroupRootedAtItsProcess(pid, t, theirCgroup);
            }
            String[] names = ownUts ? Namespaces.inside(t, "uts", Namespaces::utsNames) : new String[2];
            String boundAt = ownNet ? dev.cryo.engine.namespaces.NetNamespaceScan.boundAt(theirNet) : null;
            boolean made = boundAt != null && boundAt.isEmpty(); // its own (ThreadsAlone refused one another task is in)
            boolean loUp = made && dev.cryo.engine.namespaces.NetNamespaceScan.loopbackOnly(t, theirNet,
                    "pid " + pid + " thread " + t);
            threads.set(i, threads.get(i).withNs(new ThreadNs(names[0], names[1], made ? null : boundAt, made, loUp, ownCgroup, ownIpc)));
        }
    }
}
