package dev.cryo.engine.dump;

import dev.cryo.kernel.Sched;

import java.io.File;
import java.util.HashMap;
import java.util.Map;

/**
 * cryo's own threads at a higher priority while a dump holds a tree frozen
 * ({@code cryo.dump.freeze-nice}): the frozen round is a few page-table walks and ptrace round
 * trips, tens of milliseconds of work, and on a busy host its threads waited for a CPU many times
 * longer than they ran (a GiB's final scan took 25-35 ms of CPU and 150-250 ms of wall time at
 * load 13). Every thread of this process is raised (the work hops between actor, blocking and
 * pinned threads) and set back when the last frozen tree thaws; threads started meanwhile inherit
 * the raised value and are set back to the value the raising thread had. With autogroups on
 * (sched_autogroup_enabled, Debian's default) a thread's nice only ranks it within its session's
 * group, and the CPU is shared between groups first: the group of cryo's session
 * (/proc/self/autogroup) is raised too. Nothing happens when cryo may not raise its priority
 * (no CAP_SYS_NICE).
 *
 * <p>The frozen tasks' own groups ({@link #raiseGroupsOf}) are raised as well: every ptrace round
 * trip of the freeze waits for the tracee to be scheduled (a seize, an injected syscall), and a
 * tree started with setsid has an autogroup of its own at nice 0, which a loaded host served late
 * (a seize once took 92 ms). They are set back with cryo's own.
 */
public final class FreezePriority {
    private FreezePriority() {}

    private static int holders;
    private static int raisedTo;
    private static int baseline;
    private static Map<Integer, Integer> saved = Map.of();
    private static final java.nio.file.Path AUTOGROUP = java.nio.file.Path.of("/proc/self/autogroup");
    private static Integer groupWas; // the autogroup's nice before, when it was raised
    /** Other processes' autogroups raised meanwhile: group name → {pid of a member, nice before}. */
    private static final Map<String, int[]> groups = new HashMap<>();

    /** Raises every thread to {@code nice} (when that is higher than its own), or only counts a nested holder. */
    public static synchronized void raise(int nice) {
        if (holders++ > 0 || nice == 0) {
            return;
        }
        try {
            baseline = Sched.getNice(self());
        } catch (RuntimeException e) {
            return;
        }
        raisedTo = nice;
        groups.clear();
        Map<Integer, Integer> was = new HashMap<>();
        for (int tid : threads()) {
            try {
                int n = Sched.getNice(tid);
                if (n > nice) {
                    Sched.setNice(tid, nice);
                    was.put(tid, n);
                }
            } catch (RuntimeException e) {
                if (was.isEmpty()) {
                    break; // not allowed (EPERM): leave everything as it is
                }
                // a thread that exited meanwhile
            }
        }
        saved = was;
        groupWas = null;
        try { // "/autogroup-27979 nice 0"
            String[] g = java.nio.file.Files.readString(AUTOGROUP).trim().split("\\s+");
            int n = Integer.parseInt(g[g.length - 1]);
            if (n > nice) {
                java.nio.file.Files.writeString(AUTOGROUP, Integer.toString(nice));
                groupWas = n;
            }
        } catch (java.io.IOException | RuntimeException e) {
            // no autogroups, or not allowed
        }
    }

    /**
     * While raised: the autogroups of {@code pids} (each group once) go to the raised nice too, until
     * the last holder lowers. A process that is gone, or a group that cannot be set, is skipped.
     */
    public static synchronized void raiseGroupsOf(Iterable<Integer> pids) {
        if (holders == 0 || raisedTo == 0) {
            return;
        }
        for (int pid : pids) {
            try {
                java.nio.file.Path file = java.nio.file.Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/autogroup");
                String[] g = java.nio.file.Files.readString(file).trim().split("\\s+");
                if (groups.containsKey(g[0]) || g[0].equals(selfGroup())) {
                    continue;
                }
                int n = Integer.parseInt(g[g.length - 1]);
                if (n > raisedTo) {
                    java.nio.file.Files.writeString(file, Integer.toString(raisedTo));
                    groups.put(g[0], new int[] {pid, n});
                }
            } catch (java.io.IOException | RuntimeException e) {
                // gone, no autogroups, or not allowed: that group waits its turn as before
            }
        }
    }

    /** The nice autogroup {@code name} ("/autogroup-65") had before {@link #raiseGroupsOf} raised it, if it is raised now. */
    public static synchronized java.util.OptionalInt niceBeforeRaise(String name) {
        int[] was = groups.get(name);
        if (was != null) {
            return java.util.OptionalInt.of(was[1]);
        }
        try { // cryo's own session's group
            return groupWas != null && name.equals(selfGroup()) ? java.util.OptionalInt.of(groupWas) : java.util.OptionalInt.empty();
        } catch (java.io.IOException e) {
            return java.util.OptionalInt.empty();
        }
    }

    private static String selfGroup() throws java.io.IOException {
        return java.nio.file.Files.readString(AUTOGROUP).trim().split("\\s+")[0];
    }

    /** Sets the threads back once the last holder lowers. */
    public static synchronized void lower() {
        if (holders == 0 || --holders > 0) {
            return;
        }
        groups.forEach((name, was) -> {
            try {
                java.nio.file.Path file = java.nio.file.Path.of("/proc/" + was[0] + "/autogroup");
                if (java.nio.file.Files.readString(file).trim().split("\\s+")[0].equals(name)) { // still that group
                    java.nio.file.Files.writeString(file, Integer.toString(was[1]));
                }
            } catch (java.io.IOException | RuntimeException e) {
                // the process is gone (and its group with it, unless others share it: they keep the raise)
            }
        });
        groups.clear();
        if (groupWas != null) {
            try {
                java.nio.file.Files.writeString(AUTOGROUP, Integer.toString(groupWas));
            } catch (java.io.IOException | RuntimeException e) {
                // the group is as raised; nothing else to do
            }
            groupWas = null;
        }
        if (saved.isEmpty()) {
            return;
        }
        for (int tid : threads()) {
            try {
                Integer n = saved.get(tid);
                if (n != null) {
                    Sched.setNice(tid, n);
                } else if (Sched.getNice(tid) == raisedTo) { // started while raised
                    Sched.setNice(tid, baseline);
                }
            } catch (RuntimeException e) {
                // exited meanwhile
            }
        }
        saved = Map.of();
    }

    private static int self() {
        try { // "PID/task/TID"
            String link = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self")).toString();
            return Integer.parseInt(link.substring(link.lastIndexOf('/') + 1));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static int[] threads() {
        String[] names = new File("/proc/self/task").list();
        if (names == null) {
            return new int[0];
        }
        int[] out = new int[names.length];
        for (int i = 0; i < names.length; i++) {
            out[i] = Integer.parseInt(names[i]);
        }
        return out;
    }
}
