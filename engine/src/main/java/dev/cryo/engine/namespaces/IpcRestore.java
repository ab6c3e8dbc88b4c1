package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.SysvIpc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Makes the SysV objects of an ipc namespace again ({@link IpcImage}), from a thread of cryo
 * inside the new namespace of the task that made it, before that task or its children attach
 * any segment: its limits first, then every object with its id, key, owner, mode and contents.
 */
public final class IpcRestore {
    private IpcRestore() {}

    static void make(Pid p, IpcImage ipc) {
        if (ipc.isEmpty() && ipc.sysctls().isEmpty()) {
            return;
        }
        String own = Namespaces.link(p.toString(), "ipc");
        if (own == null || own.equals(Namespaces.link("self", "ipc"))) { // never fill cryo's host namespace
            throw new RestoreException("pid " + p + " was not forked into an ipc namespace of its own (" + own + ")");
        }
        try {
            Namespaces.inside(p, "ipc", () -> {
                setLimits(ipc.sysctls(), false);
                return null;
            });
            Namespaces.inside(p, "ipc", () -> {
                fill(ipc);
                return null;
            });
            Namespaces.inside(p, "ipc", () -> {
                setLimits(ipc.sysctls(), true);
                return null;
            });
        } catch (KernelException e) {
            throw new RestoreException("pid " + p + ": cannot make its ipc namespace's SysV objects again: " + e.getMessage(), e);
        }
    }

    /**
     * Writes the limits that differ from the new namespace's: the next ids ({@code nextIds}) or the others. The kernel lets only the namespace's
     * root write them, by euid, capabilities or not (ipc_permissions): one of a user namespace's is
     * owned by that namespace's root, so this thread (it ends after) takes that euid when it differs.
     */
    private static void setLimits(Map<String, String> sysctls, boolean nextIds) throws IOException {
        for (var s : sysctls.entrySet()) {
            if (IpcImage.nextId(s.getKey()) != nextIds) {
                continue;
            }
            Path f = IpcImage.sysctlFile(s.getKey());
            if (Files.readString(f).strip().replaceAll("\\s+", " ").equals(s.getValue().replaceAll("\\s+", " "))) {
                continue;
            }
            int owner = (Integer) Files.getAttribute(f, "unix:uid");
            if (owner != 0) {
                Sys.call(() -> "setresuid(-1, " + owner + ", -1) to write " + f, SyscallNr.SETRESUID, -1, owner, -1, 0);
            }
            Files.writeString(f, s.getValue());
        }
    }

    private static void fill(IpcImage ipc) throws IOException {
        for (IpcImage.Segment s : ipc.segments()) {
            SysvIpc.create("shm", s.owner().id(), s.owner().key(), s.size(), s.owner().mode(), s.owner().uid(),
                    s.owner().gid(), s.hugePageKb()); // one marked for removal is marked again once attached (SysvSharedMemory)
            s.pages().forEach((index, page) -> SysvIpc.writeSegment(s.owner().id(), (long) index * page.length,
                    java.util.Arrays.copyOf(page, (int) Math.min(page.length, s.size() - (long) index * page.length))));
        }
        for (IpcImage.SemSet s : ipc.semaphores()) {
            create("sem", s.owner(), s.values().length);
            SysvIpc.setSemValues(s.owner().id(), s.values());
        }
        for (IpcImage.PosixQueue q : ipc.posixQueues()) { // before the tasks' files open them by name
            var r = q.contents();
            try (dev.cryo.kernel.Fd own = dev.cryo.kernel.MessageQueues.create(q.name(),
                    dev.cryo.kernel.Fcntl.O_RDWR | dev.cryo.kernel.Fcntl.O_NONBLOCK, 0600, r.maxMsg(), r.msgSize())) {
                dev.cryo.engine.files.MessageQueueHandler.fill(own, q.name(), r);
            }
        }
        for (IpcImage.Queue q : ipc.queues()) {
            create("msg", q.owner(), 0);
            List<SysvIpc.Message> messages = new ArrayList<>();
            q.messages().forEach(m -> messages.add(new SysvIpc.Message(m.type(), m.data())));
            SysvIpc.fillQueue(q.owner().id(), q.qbytes(), messages);
        }
    }

    private static void create(String kind, IpcImage.Owner o, long size) {
        SysvIpc.create(kind, o.id(), o.key(), size, o.mode(), o.uid(), o.gid());
    }
}
