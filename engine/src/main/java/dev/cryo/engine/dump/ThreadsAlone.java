package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The namespaces one thread made or entered for itself that a restore cannot make again, refused by name before
 * the freeze: a restore makes every thread in its process's namespaces (setns or unshare of ipc, mnt, cgroup, or a
 * pid or time namespace for its children, in one thread, as Go programs do on a locked OS thread), so it came back
 * in its process's, silently. Carried ({@link ThreadNsReader}): a uts namespace the thread made for itself alone,
 * a net namespace bound on the host (ip netns add's, entered by its path, as Go's netns libraries do), and a net
 * namespace it made alone and bound nowhere (Go's netns.New()), a cgroup namespace and an empty ipc namespace it made
 * alone; a uts, cgroup or ipc namespace, or a net namespace bound nowhere, that another task of the tree or the host is in, or shared by
 * two threads, is refused. A cwd, root and umask ({@link ThreadFsReader}) and an fd table ({@link ThreadFilesReader}) of its
 * own are read, or refused, from the frozen task. One pass over each process's threads: the task list once, the
 * main thread's links once.
 */
final class ThreadsAlone {
    private ThreadsAlone() {}

    /** The namespaces a thread alone may change (not user, nor time: the kernel wants a single thread for them). */
    private static final List<String> KINDS = List.of("net", "uts", "ipc", "mnt", "cgroup", "pid_for_children",
            "time_for_children");

    /** Refuses what a thread of the live processes {@code live} unshared alone that a restore would not make. */
    static void check(List<Pid> live) {
        Map<String, Map<String, String>> owners = new HashMap<>();
        for (String kind : MADE_AGAIN) {
            owners.put(kind, owners(live, kind));
        }
        live.forEach(p -> check(p, owners));
    }

    /** The kinds a thread's own namespace of is made again (net: when bound nowhere), if no other task is in it. */
    private static final List<String> MADE_AGAIN = List.of("uts", "net", "cgroup", "ipc");

    /** Whose each namespace of {@code kind} is so far: a process's of {@code live}, the host's (then threads' own). */
    private static Map<String, String> owners(List<Pid> live, String kind) {
        Map<String, String> owners = new HashMap<>();
        for (Pid p : live) {
            String link = Namespaces.link(p.toString(), kind);
            if (link != null) {
                owners.putIfAbsent(link, "pid " + p + "'s");
            }
        }
        String host = Namespaces.link("1", kind);
        owners.put(host != null ? host : Namespaces.link("self", kind), "the host's");
        return owners;
    }

    /**
     * A process whose main thread has exited (pthread_exit in main) shows no links at its pid: its threads are
     * compared with its first live one, whose namespaces are the process's (NamespaceScan refuses them when not its
     * parent's), and any that differs is refused: a thread's own namespaces are read through the main thread's.
     */
    private static void exitedLeader(Pid p, List<Pid> threads) {
        Map<String, String> first = null;
        Pid firstTid = null;
        for (Pid t : threads) {
            if (t.equals(p)) {
                continue;
            }
            Map<String, String> links = new HashMap<>();
            for (String kind : KINDS) {
                links.put(kind, Namespaces.link(p + "/task/" + t, kind));
            }
            if (links.get("net") == null) {
                continue; // gone, or exiting
            }
            if (first == null) {
                first = links;
                firstTid = t;
                continue;
            }
            for (String kind : KINDS) {
                String theirs = links.get(kind), ours = first.get(kind);
                if (theirs != null && ours != null && !theirs.equals(ours)) {
                    throw new DumpException("pid " + p + " thread " + t + ": its " + kind + " namespace (" + theirs
                            + ") is not its process's (" + ours + ", thread " + firstTid + "'s), whose main thread has"
                            + " exited; a namespace of one thread of such a process is not supported yet");
                }
            }
        }
    }

    private static void check(Pid p, Map<String, Map<String, String>> owners) {
        List<Pid> threads;
        try {
            threads = ProcFs.tasks(p);
        } catch (KernelException e) {
            return; // gone
        }
        if (threads.size() < 2) {
            return;
        }
        Map<String, String> main = new HashMap<>();
        for (String kind : KINDS) {
            main.put(kind, Namespaces.link(p.toString(), kind));
        }
        String pid = Namespaces.link(p.toString(), "pid");
        if (main.get("net") == null) { // its pid link stays: the pid, not the nsproxy it let go of
            exitedLeader(p, threads);
            return;
        }
        for (Pid t : threads) {
            if (t.equals(p)) {
                continue;
            }
            for (String kind : KINDS) {
                String theirs = Namespaces.link(p + "/task/" + t, kind), ours = main.get(kind);
                if (kind.equals("pid_for_children") && ours != null && !ours.equals(pid)) {
                    continue; // the main thread unshared it beside threads: NamespaceScan refuses it, saying why the kernel cannot
                }
                if (theirs == null || ours == null || theirs.equals(ours)) { // null: gone, or a zombie leader
                    continue;
                }
                if (kind.equals("net") && !dev.cryo.engine.namespaces.NetNamespaceScan.boundAt(theirs).isEmpty()) {
                    continue; // joined again where it is bound
                }
                if (MADE_AGAIN.contains(kind)) {
                    String whose = owners.get(kind).putIfAbsent(theirs, "thread " + t + "'s");
                    if (whose == null) {
                        continue; // its own: made again (what it holds is read frozen, ThreadNsReader)
                    }
                    throw new DumpException("pid " + p + " thread " + t + ": its " + kind + " namespace (" + theirs + ")"
                            + (kind.equals("net") ? ", bound nowhere on the host," : "") + " is " + whose + " too (entered"
                            + " with setns, or inherited from the thread that made it); a restore makes a " + kind
                            + " namespace for one thread alone: not supported yet");
                }
                throw new DumpException("pid " + p + " thread " + t + ": its " + kind + " namespace (" + theirs
                        + ") is not its process's (" + ours + "); a namespace of one thread (setns or unshare in"
                        + " that thread alone) is not supported yet");
            }
        }
    }
}
