package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.SyscallNr;

import java.nio.charset.StandardCharsets;

/**
 * What a task that made namespaces sets in them once it is adopted, before it forks its children
 * (they share them): its mount table, lo, the host and domain names of its uts namespace, the
 * SysV objects of its ipc namespace. Its pid namespace is made new and empty by its fork (clone3
 * with CLONE_NEW*), as it was when it made it.
 */
public final class NamespaceRestore {
    private NamespaceRestore() {}

    public static void name(TaskContext t) {
        var made = t.namespaces().madeBy(t.pid().value());
        if (made.isPresent() && made.get().has(Clone.NEWCGROUP)) {
            cgroupNamespace(t);
        }
        if (made.isPresent() && made.get().has(Clone.NEWNS)) {
            MountRestore.apply(t, made.get().mounts());
        }
        if (made.isPresent() && made.get().has(Clone.NEWNET) && made.get().loUp()) {
            loopbackUp(t);
        }
        if (made.isPresent() && made.get().has(Clone.NEWIPC)) {
            IpcRestore.make(t.pid(), made.get().ipc()); // before anyone attaches a segment of it
        }
        if (made.isEmpty() || !made.get().has(Clone.NEWUTS)) {
            return;
        }
        NamespaceImage n = made.get();
        String own = dev.cryo.kernel.Namespaces.link(t.pid().toString(), "uts");
        if (own == null || own.equals(dev.cryo.kernel.Namespaces.link("self", "uts"))) { // never rename cryo's host
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + " was not forked into a uts namespace"
                    + " of its own (" + own + ")");
        }
        byte[] host = n.hostname().getBytes(StandardCharsets.UTF_8);
        t.call("sethostname(" + n.hostname() + ")", SyscallNr.SETHOSTNAME, t.put(host), host.length);
        byte[] domain = n.domainname().getBytes(StandardCharsets.UTF_8);
        t.call("setdomainname(" + n.domainname() + ")", SyscallNr.SETDOMAINNAME, t.put(domain), domain.length);
    }

    /**
     * A cgroup namespace rooted where the task is: the restore placed it in its dumped cgroups before
     * it was adopted, where it was when it made it (the dump checked it never left them).
     */
    private static void cgroupNamespace(TaskContext t) {
        t.call("unshare(CLONE_NEWCGROUP)", SyscallNr.UNSHARE, Clone.NEWCGROUP);
        String own = dev.cryo.kernel.Namespaces.link(t.pid().toString(), "cgroup");
        if (own == null || own.equals(dev.cryo.kernel.Namespaces.link("self", "cgroup"))) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + " did not get a cgroup namespace of"
                    + " its own (" + own + ")");
        }
    }

    private static final int SIOCSIFFLAGS = 0x8914, IFF_UP = 1, IFF_LOOPBACK = 8, AF_INET = 2, SOCK_DGRAM = 2;

    /** lo up in the task's new network namespace (it gives back 127.0.0.1 and ::1 by itself), as it was. */
    private static void loopbackUp(TaskContext t) {
        String own = dev.cryo.kernel.Namespaces.link(t.pid().toString(), "net");
        if (own == null || own.equals(dev.cryo.kernel.Namespaces.link("self", "net"))) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + " was not forked into a net namespace"
                    + " of its own (" + own + ")");
        }
        long sock = t.call("socket(AF_INET, SOCK_DGRAM)", SyscallNr.SOCKET, AF_INET, SOCK_DGRAM, 0);
        byte[] req = new byte[40];
        req[0] = 'l';
        req[1] = 'o';
        req[16] = IFF_UP | IFF_LOOPBACK;
        t.call("ioctl(SIOCSIFFLAGS, lo up)", SyscallNr.IOCTL, sock, SIOCSIFFLAGS, t.put(req));
        t.call("close", SyscallNr.CLOSE, sock);
    }
}
