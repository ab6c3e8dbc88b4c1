package dev.cryo.engine.restore;

import dev.cryo.kernel.Pid;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.proc.HostFds;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Pipes of the image whose other end a process outside the tree held — a program whose output a
 * harness or a shell pipeline reads. On the host and boot the image was made on, the very pipe
 * still lives while such a process holds it: it is found by its inode in /proc/PID/fd and the
 * restored ends are opened through it, so the program writes to its reader again (and the
 * bytes that sat in it are still there). Only a process that started before the dump counts: on
 * another boot or host, a pipe with the same number is another pipe.
 */
final class OutsidePipeEnds {
    private OutsidePipeEnds() {}

    /**
     * For each wanted pipe inode, a /proc path of an fd of it held by a process that started before
     * {@code dumpedAt}. The processes {@code near} names (the tree's parent, or a process of one of its
     * groups or sessions: a pipeline's reader, a harness that ran it as a shell job) are looked at
     * first, the others only for a pipe still not found.
     */
    static Map<Long, String> find(Set<Long> wanted, long dumpedAtMillis, Near near) {
        Map<Long, String> out = new HashMap<>();
        if (wanted.isEmpty()) {
            return out;
        }
        long bootMillis = bootMillis();
        try {
            // a process started since is passed over before its fds are read (a busy host's test JVMs and
            // their workloads: a walk of every fd took 6.5 s of a postgres restore at load 20)
            List<Integer> first = new ArrayList<>(), then = new ArrayList<>();
            for (int pid : ProcFs.pids()) {
                ProcStat stat = startedBefore(pid, bootMillis, dumpedAtMillis);
                if (stat != null) {
                    (near.holds(stat) ? first : then).add(pid);
                }
            }
            first.addAll(then);
            HostFds.first(first, pid -> false, (pid, fd, target) -> {
                Optional<Long> ino = pipeIno(target);
                if (ino.isPresent() && wanted.contains(ino.get()) && !out.containsKey(ino.get())) {
                    out.put(ino.get(), "/proc/" + pid + "/fd/" + fd);
                }
                return out.size() == wanted.size() ? out : null;
            });
        } catch (java.io.UncheckedIOException e) {
            // /proc unreadable: no outside end is found
        }
        return out;
    }

    /** Where the tree sat when dumped: its root's parent, its process groups and sessions. */
    record Near(int parent, Set<Integer> groups, Set<Integer> sessions) {
        static Near of(List<TaskImage> tasks) {
            Set<Integer> pids = new HashSet<>(), groups = new HashSet<>(), sessions = new HashSet<>();
            for (TaskImage t : tasks) {
                pids.add(t.pid());
            }
            int parent = 0;
            for (TaskImage t : tasks) {
                groups.add(t.ids().pgid());
                sessions.add(t.ids().sid());
                if (!pids.contains(t.ids().ppid())) {
                    parent = t.ids().ppid();
                }
            }
            return new Near(parent, groups, sessions);
        }

        boolean holds(ProcStat p) {
            return p.pid() == parent || groups.contains(p.pgrp()) || sessions.contains(p.session());
        }
    }

    private static Optional<Long> pipeIno(String target) {
        if (target.startsWith("pipe:[") && target.endsWith("]")) {
            return Optional.of(Long.parseLong(target.substring(6, target.length() - 1)));
        }
        return Optional.empty();
    }

    /** Its stat if it started before the dump, else (or gone meanwhile) null. */
    private static ProcStat startedBefore(int pid, long bootMillis, long dumpedAtMillis) {
        try {
            ProcStat stat = ProcFs.stat(Pid.of(pid));
            return bootMillis > 0 && bootMillis + stat.starttime() * 10 < dumpedAtMillis ? stat : null; // USER_HZ is 100
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The boot time, from /proc/stat's btime (seconds). */
    private static long bootMillis() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                if (line.startsWith("btime ")) {
                    return Long.parseLong(line.substring(6).trim()) * 1000;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // unknown: no outside end is trusted
        }
        return 0;
    }
}
