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
 * read faults in). A segment marked for removal while attached is carried with that mark. Refused,
 * naming the object: a locked segment (SHM_LOCK), and more than {@link IpcImage#MAX_BYTES} of contents.
 */
public final class IpcScan {
    private IpcScan() {}

    private static final int PAGE = 4096;

    static IpcImage scan(Pid p, String ns) {
        String what = "pid " + p + ": its ipc namespace (" + ns + ")";
        List<String> queues = posixQueues(p);
        if (!queues.isEmpty()) {
            throw new DumpException(what + " holds POSIX message queues " + queues + "; not supported yet");
        }
        return Namespaces.inside(p, "ipc", () -> read(what));
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
                sysctls.put(name, ProcFs.text("/proc/sys/kernel/" + name).strip());
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
