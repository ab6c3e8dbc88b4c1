package dev.cryo.engine.files;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcNetNetlink;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Queues a running program empties a moment later, which cryo cannot fill again at a restore:
 * netlink messages (a routing daemon's notifications, come from the kernel's port 0, which no
 * process can send from; the answer to a request it just sent) and inotify and fanotify events
 * (an fanotify event holds an open file of its own). keepalived, BIRD or systemd-networkd read
 * them a few milliseconds after they come, so a freeze lands between the two now and then. Found
 * right after the seize, from outside: the dump then lets the tree run for a moment and seizes it
 * again ({@link #PAUSES}), rather than refusing a program that would have been dumpable a moment
 * later. Only a queue still full after the last pause is refused, by its handler.
 */
public final class UnreadQueues {
    private UnreadQueues() {}

    /** How long the tree runs before each new seize: five tries over about a second. */
    public static final List<Duration> PAUSES = List.of(Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(200), Duration.ofMillis(300), Duration.ofMillis(400));

    /** What the refusals say of the retries, so a user knows the program was given its chance. */
    public static final String RETRIED = "still unread after the dump let the tree run " + PAUSES.size()
            + " times over " + PAUSES.stream().mapToLong(Duration::toMillis).sum() + " ms to read them (not in a pre-copy"
            + " nor with --freeze-cgroup)";

    /** The queues of {@code tasks} (all stopped) that hold something not read yet, one line each. */
    public static List<String> of(List<Pid> tasks) {
        List<String> out = new ArrayList<>();
        Map<String, Map<Long, ProcNetNetlink.Entry>> netlinkByNs = new HashMap<>();
        for (Pid p : tasks) {
            Map<Integer, String> fds;
            try {
                fds = ProcFs.fdTargets(p);
            } catch (RuntimeException zombie) {
                continue; // a zombie holds no files
            }
            for (Map.Entry<Integer, String> fd : fds.entrySet()) {
                String target = fd.getValue();
                String where = "pid " + p + " fd " + fd.getKey() + ": ";
                try {
                    if (target.startsWith("socket:[")) {
                        long ino = Long.parseLong(target.substring(8, target.length() - 1));
                        ProcNetNetlink.Entry n = netlinkOf(p, netlinkByNs).get(ino);
                        if (n != null && n.unread()) {
                            out.add(where + "netlink socket (protocol " + n.protocol() + ", port " + n.portId() + ") holds "
                                    + n.unreadBytes() + " bytes unread" + (n.dumping() ? ", more of a dump's answer to come" : ""));
                        }
                    } else if (target.equals("anon_inode:inotify") || target.equals("anon_inode:[fanotify]")) {
                        int bytes = WatchTargets.pendingBytes(p, fd.getKey());
                        if (bytes > 0) {
                            out.add(where + (target.contains("fanotify") ? "fanotify" : "inotify") + " group holds "
                                    + bytes + " bytes of unread events");
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    // left to the handler, which looks again and names what failed
                }
            }
        }
        return out;
    }

    /** The netlink sockets of {@code p}'s net namespace, read once per namespace. */
    private static Map<Long, ProcNetNetlink.Entry> netlinkOf(Pid p, Map<String, Map<Long, ProcNetNetlink.Entry>> byNs) {
        String ns = ProcFs.readlink(p.procDir() + "/ns/net");
        return byNs.computeIfAbsent(ns, k -> {
            String path = p.procDir() + "/net/netlink";
            return ProcNetNetlink.parse(path, ProcFs.text(path));
        });
    }
}
