package dev.cryo.engine.files;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.net.UnreadableSockState;
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
 * (an fanotify event holds an open file of its own). keepalived, BIRD, systemd-networkd or a log
 * follower (tail -F, promtail) read them a few milliseconds after they come, later under load, so a
 * freeze lands between the two now and then. (Connections to a unix listener of the tree that wait to
 * be accepted with their first bytes already sent, nginx's FastCGI requests to a busy php-fpm, were
 * waited for here too: their bytes are carried since, read where they wait.) A socket's error queue too: ptp4l,
 * chrony and MSG_ZEROCOPY senders read a transmit timestamp or a completion right after their send. Found once the whole tree is stopped: the dump then
 * lets the tree run until they are read ({@link #PAUSES} at most, looking every few ms) and seizes
 * it again at once, rather than refusing a program that would have been dumpable a moment later.
 * Only a queue still full after the last pause is refused, by its handler.
 */
public final class UnreadQueues {
    private UnreadQueues() {}

    /** The longest the tree runs before each new seize: five tries over about a second. */
    public static final List<Duration> PAUSES = List.of(Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(200), Duration.ofMillis(300), Duration.ofMillis(400));

    /** How often the released tree's queues are looked at during a pause. */
    public static final Duration LOOK_EVERY = Duration.ofMillis(5);

    /** What the refusals say of the retries, so a user knows the program was given its chance. */
    public static final String RETRIED = "still unread after the dump let the tree run " + PAUSES.size()
            + " times over " + PAUSES.stream().mapToLong(Duration::toMillis).sum() + " ms to read them (not in a pre-copy"
            + " nor with --freeze-cgroup)";

    /**
     * What a refusal says in place of {@link #RETRIED} when the queue filled while the tree was frozen, after
     * the dump had looked at it: the kernel goes on queueing then (an IPv6 address's duplicate detection
     * ending, a link's carrier: lldpd's child was refused within a second of its link coming up). The tree
     * never had its chance, so the dump is tried again from the start (Requests), which lets it read them.
     */
    public static final String CAME_WHILE_FROZEN = "that came while the tree was frozen, after the dump had looked at"
            + " its queues";

    /** {@code failure} as said of a collection whose seize found every queue read: see {@link #CAME_WHILE_FROZEN}. */
    public static String cameWhileFrozen(String failure) {
        return failure.replace(RETRIED, CAME_WHILE_FROZEN);
    }

    /** A queue found holding something: {@code what} says which and how much, for the log. */
    public record Queue(Pid pid, int fd, String what) {}

    /**
     * The queues of {@code tasks} (all stopped) that hold something not read yet; a notification
     * group's bytes are those of {@code notifications} (measured when the tree stopped).
     */
    public static List<Queue> of(List<Pid> tasks, Map<FdProbe.Ref, Integer> notifications) {
        List<Queue> out = new ArrayList<>();
        Map<String, Map<Long, ProcNetNetlink.Entry>> netlinkByNs = new HashMap<>();
        Map<Pid, Map<Integer, UnreadableSockState.Of>> socketsByPid = new HashMap<>();
        for (Pid p : tasks) {
            for (Map.Entry<Integer, String> fd : fdsOf(p).entrySet()) {
                String unread = unread(p, fd.getKey(), fd.getValue(), netlinkByNs, socketsByPid,
                        notifications.get(new FdProbe.Ref(p.value(), fd.getKey())));
                if (unread != null) {
                    out.add(new Queue(p, fd.getKey(), "pid " + p + " fd " + fd.getKey() + ": " + unread));
                }
            }
        }
        return out;
    }

    /** Whether any of {@code queues} (of tasks that may run) still holds something: looked at again now. */
    public static boolean anyUnread(List<Queue> queues) {
        Map<String, Map<Long, ProcNetNetlink.Entry>> netlinkByNs = new HashMap<>();
        Map<Pid, Map<Integer, UnreadableSockState.Of>> socketsByPid = new HashMap<>();
        for (Queue q : queues) {
            try {
                if (unread(q.pid(), q.fd(), ProcFs.readlink(q.pid().procDir() + "/fd/" + q.fd()), netlinkByNs,
                        socketsByPid, null) != null) {
                    return true;
                }
            } catch (RuntimeException closedOrGone) {
                // the program closed it or exited: nothing of it left to wait for
            }
        }
        return false;
    }

    /** Whether {@code p} holds an inotify or fanotify group: it is seized after the rest of the tree. */
    public static boolean holdsNotificationGroup(Pid p) {
        return fdsOf(p).values().stream().anyMatch(UnreadQueues::isNotificationGroup);
    }

    /** {@code p}'s fds and what they link to; none for a zombie or a process gone. */
    static Map<Integer, String> fdsOf(Pid p) {
        try {
            return ProcFs.fdTargets(p);
        } catch (RuntimeException zombieOrGone) {
            return Map.of();
        }
    }

    static boolean isNotificationGroup(String target) {
        return target.equals("anon_inode:inotify") || target.equals("anon_inode:[fanotify]");
    }

    /** What fd {@code fd} (linking to {@code target}) holds unread, or null; {@code measured} if known. */
    private static String unread(Pid p, int fd, String target, Map<String, Map<Long, ProcNetNetlink.Entry>> netlinkByNs,
                                 Map<Pid, Map<Integer, UnreadableSockState.Of>> socketsByPid, Integer measured) {
        try {
            if (target.startsWith("socket:[")) {
                long ino = Long.parseLong(target.substring(8, target.length() - 1));
                ProcNetNetlink.Entry n = netlinkOf(p, netlinkByNs).get(ino);
                if (n != null && n.unread()) {
                    return "netlink socket (protocol " + n.protocol() + ", port " + n.portId() + ") holds "
                            + n.unreadBytes() + " bytes unread" + (n.dumping() ? ", more of a dump's answer to come" : "");
                }
                UnreadableSockState.Of s = socketsByPid.computeIfAbsent(p, t -> UnreadableSockState.of(t.value())).get(fd);
                if (s != null && s.errorQueue() > 0) {
                    return "socket " + ino + " holds " + s.errorQueue() + " message(s) in its error queue";
                }
            } else if (isNotificationGroup(target)) {
                int bytes = measured != null ? measured : WatchTargets.pendingBytes(p, fd);
                if (bytes > 0) {
                    return (target.contains("fanotify") ? "fanotify" : "inotify") + " group holds " + bytes
                            + " bytes of unread events";
                }
            }
        } catch (IOException | RuntimeException e) {
            // left to the handler, which looks again and names what failed
        }
        return null;
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
