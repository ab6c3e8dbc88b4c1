package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SysvIpc;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the SysV objects of an ipc namespace the tree made ({@link IpcImage}), from a thread of
 * cryo inside it, while the tree is frozen: nothing is taken (segments are read through a
 * read-only attachment, messages copied), so a dump that fails or leaves the tree running
 * changes nothing but a segment's attach time (and a hugetlb segment's untouched pages, which the
 * read faults in). A segment marked for removal while attached is carried with that mark. The
 * namespace's POSIX message queues are carried whole. Refused,
 * naming the object: a locked segment (SHM_LOCK), and more than {@link IpcImage#MAX_BYTES} of contents.
 */
public final class IpcScan {
    private IpcScan() {}

    private static final int PAGE = 4096;

    static IpcImage scan(Pid p, String ns) {
        String what = "pid " + p + ": its ipc namespace (" + ns + ")";
        List<String> names = posixQueues(p);
        IpcImage sysv = Namespaces.inside(p, "ipc", () -> read(what));
        return names.isEmpty() ? sysv : sysv.withPosixQueues(Namespaces.inside(p, "ipc", () -> readQueues(what, names)));
    }

    /**
     * Refuses anything in the ipc namespace {@code link} thread {@code thread} made alone, which a restore makes again
     * empty, in that thread: SysV objects, POSIX message queues, limits not a new namespace's. {@code who}: "pid N
     * thread T".
     */
    public static void requireEmpty(Pid thread, String link, String who) {
        IpcImage held = scan(thread, link);
        Map<String, String> fresh = Namespaces.fresh("ipc", () -> read("a new ipc namespace").sysctls());
        List<String> changed = held.sysctls().keySet().stream().filter(k -> !held.sysctls().get(k).equals(fresh.get(k))).toList();
        String what = !held.segments().isEmpty() ? held.segments().size() + " shared memory segment(s)"
                : !held.semaphores().isEmpty() ? held.semaphores().size() + " semaphore set(s)"
                : !held.queues().isEmpty() ? held.queues().size() + " message queue(s)"
                : !held.posixQueues().isEmpty() ? held.posixQueues().size() + " POSIX message queue(s)"
                : !changed.isEmpty() ? "limits changed " + changed : null;
        if (what != null) {
            throw new DumpException(who + ": its ipc namespace (" + link + "), made by that thread alone, holds " + what
                    + "; a restore makes such a namespace again empty: not supported yet");
        }
    }

    /**
     * The namespace's POSIX message queues, opened by name from a thread of cryo inside it: mode, owner,
     * limits and messages, taken and put back at once in their order while the tree is frozen. Refused: one
     * with a notification registered while it holds messages (putting them back would fire it).
     */
    private static List<IpcImage.PosixQueue> readQueues(String what, List<String> names) throws java.io.IOException {
        List<IpcImage.PosixQueue> out = new ArrayList<>();
        for (String name : names) {
            String q = what + " holds POSIX message queue /" + name;
            try (dev.cryo.kernel.Fd own = dev.cryo.kernel.MessageQueues.open("/" + name,
                    dev.cryo.kernel.Fcntl.O_RDWR | dev.cryo.kernel.Fcntl.O_NONBLOCK)) {
                java.nio.file.Path link = java.nio.file.Path.of("/proc/self/fd/" + own.value());
                String status = java.nio.file.Files.readString(link);
                if (!status.matches("(?s).*NOTIFY_PID:0\\s.*") && dev.cryo.kernel.MessageQueues.attr(own).curMsgs() > 0) {
                    throw new DumpException(q + ", whose notification (mq_notify) is registered while it holds messages:"
                            + " taking them to carry them and putting them back would fire it; not supported");
                }
                out.add(new IpcImage.PosixQueue("/" + name, dev.cryo.engine.files.MessageQueueHandler.removedQueue(q, own, link)));
            } catch (dev.cryo.kernel.KernelException e) {
                throw new DumpException(q + ": " + e.getMessage());
            }
        }
        return out;
    }

    /**
     * The POSIX message queues of the task's ipc namespace, which live in that namespace's own
     * mqueue file system: listed by a helper that enters the namespace, mounts it in a mount
     * namespace of its own (over /tmp, there only) and lists it (a thread of cryo cannot mount:
     * it shares cryo's mount namespace).
     */
    private static List<String> posixQueues(Pid p) {
        ProcessBuilder pb = new ProcessBuilder("nsenter", "--ipc=/proc/" + p + "/ns/ipc", "unshare", "-m",
                "--propagation", "private", "sh", "-c", "mount -t mqueue cryo-mq /tmp && ls -A /tmp");
        pb.redirectErrorStream(true);
        try {
            Process helper = pb.start();
            String out = new String(helper.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (!helper.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || helper.exitValue() != 0) {
                helper.destroyForcibly();
                throw new DumpException("pid " + p + ": cannot list the POSIX message queues of its ipc namespace: "
                        + out.strip());
            }
            return out.lines().filter(l -> !l.isBlank()).toList();
        } catch (java.io.IOException e) {
            throw new DumpException("pid " + p + ": cannot list the POSIX message queues of its ipc namespace (nsenter"
                    + " and unshare, from util-linux, do it): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DumpException("interrupted while listing the POSIX message queues of pid " + p, e);
        }
    }

    private static IpcImage read(String what) {
        long bytes = 0;
        List<IpcImage.Segment> segments = new ArrayList<>();
        for (SysvIpc.Entry e : SysvIpc.list("shm")) {
            String seg = what + " holds the shared memory segment " + e.id() + " (key 0x" + Integer.toHexString(e.key()) + ")";
            if ((e.mode() & SysvIpc.SHM_LOCKED) != 0) {
                throw new DumpException(seg + ", locked in memory (SHM_LOCK); not supported yet");
            }
            byte[] all = SysvIpc.readSegment(e.id(), e.size());
            Map<Integer, byte[]> pages = new LinkedHashMap<>();
            for (int off = 0, index = 0; off < all.length; off += PAGE, index++) {
                byte[] page = java.util.Arrays.copyOfRange(all, off, off + PAGE); // the last one padded with zeros
                if (!allZero(page)) {
                    pages.put(index, page);
                    bytes += PAGE;
                }
            }
            check(what, bytes);
            segments.add(new IpcImage.Segment(owner(e), e.size(), pages, SysvIpc.hugePageKb(e.id()),
                    (e.mode() & SysvIpc.SHM_DEST) != 0));
        }
        List<IpcImage.SemSet> sems = new ArrayList<>();
        for (SysvIpc.Entry e : SysvIpc.list("sem")) {
            sems.add(new IpcImage.SemSet(owner(e), SysvIpc.semValues(e.id(), (int) e.size())));
        }
        List<IpcImage.Queue> queues = new ArrayList<>();
        for (SysvIpc.Entry e : SysvIpc.list("msg")) {
            List<IpcImage.Message> messages = new ArrayList<>();
            for (SysvIpc.Message m : SysvIpc.messages(e.id(), e.size())) {
                messages.add(new IpcImage.Message(m.type(), m.data()));
                bytes += m.data().length;
            }
            check(what, bytes);
            queues.add(new IpcImage.Queue(owner(e), SysvIpc.queueBytes(e.id()), messages));
        }
        Map<String, String> sysctls = new LinkedHashMap<>();
        for (String name : IpcImage.SYSCTLS) {
            try {
                String value = ProcFs.text(IpcImage.sysctlFile(name).toString()).strip();
                if (!(IpcImage.nextId(name) && value.equals("-1"))) {
                    sysctls.put(name, value);
                }
            } catch (RuntimeException absent) {
                // a kernel without it (auto_msgmni is gone from newer ones)
            }
        }
        return new IpcImage(segments, sems, queues, sysctls);
    }

    private static IpcImage.Owner owner(SysvIpc.Entry e) {
        return new IpcImage.Owner(e.id(), e.key(), e.mode() & 0777, e.uid(), e.gid());
    }

    private static void check(String what, long bytes) {
        if (bytes > IpcImage.MAX_BYTES) {
            throw new DumpException(what + " holds more than " + (IpcImage.MAX_BYTES >> 20) + " MiB in SysV shared memory"
                    + " and message queues; not supported yet");
        }
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
