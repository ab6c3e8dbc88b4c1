package dev.cryo.engine.restore;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.HostFds;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
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

    /** For each wanted pipe inode, a /proc path of an fd of it held by a process that started before {@code dumpedAt}. */
    static Map<Long, String> find(Set<Long> wanted, long dumpedAtMillis) {
        Map<Long, String> out = new HashMap<>();
        if (wanted.isEmpty()) {
            return out;
        }
        long bootMillis = bootMillis();
        try {
            // a process started since is passed over before its fds are read (a busy host's test JVMs and
            // their workloads: a walk of every fd took 6.5 s of a postgres restore at load 20)
            HostFds.first(pid -> !startedBefore(pid, bootMillis, dumpedAtMillis), (pid, fd, target) -> {
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

    private static Optional<Long> pipeIno(String target) {
        if (target.startsWith("pipe:[") && target.endsWith("]")) {
            return Optional.of(Long.parseLong(target.substring(6, target.length() - 1)));
        }
        return Optional.empty();
    }

    private static boolean startedBefore(int pid, long bootMillis, long dumpedAtMillis) {
        try {
            long startTicks = ProcFs.stat(Pid.of(pid)).starttime();
            return bootMillis > 0 && bootMillis + startTicks * 10 < dumpedAtMillis; // USER_HZ is 100
        } catch (RuntimeException e) {
            return false; // gone meanwhile
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
