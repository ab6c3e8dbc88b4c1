package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;

import java.nio.charset.StandardCharsets;

/**
 * What a task that made namespaces sets in them once it is adopted, before it forks its children
 * (they share them): its mount table, lo, the host and domain names of its uts namespace, the
 * SysV objects of its ipc namespace, its time namespaces with their offsets. Its pid namespace is made new and empty by its fork (clone3
 * with CLONE_NEW*), as it was when it made it.
 */
public final class NamespaceRestore {
    private NamespaceRestore() {}

    public static void name(TaskContext t) {
        var made = t.namespaces().madeBy(t.pid().value());
        if (made.isPresent()) { // an ancestor's, made already
            Entered.join(t, made.get().entered());
        }
        if (made.isPresent() && made.get().joinsNet()) { // before its mounts: a sysfs mounted again shows its devices
            joinNet(t, made.get().netBoundAt());
        }
        if (made.isPresent()) {
            made.get().joinedAt().forEach((flag, path) -> join(t, flag, path));
        }
        if (made.isPresent() && made.get().joins(Clone.NEWTIME)) {
            clocksGoOn(t, made.get().time(), made.get().joinedAt().get(Clone.NEWTIME));
        }
        if (made.isPresent() && made.get().has(Clone.NEWCGROUP)) {
            cgroupNamespace(t);
        }
        if (made.isPresent() && made.get().has(Clone.NEWNS)) {
            MountRestore.apply(t, made.get().mounts());
        }
        if (made.isPresent() && made.get().has(Clone.NEWNET) && !made.get().joinsNet() && made.get().loUp()) {
            loopbackUp(t);
        }
        if (made.isPresent() && made.get().has(Clone.NEWIPC) && !made.get().joins(Clone.NEWIPC)) {
            IpcRestore.make(t.pid(), made.get().ipc()); // before anyone attaches a segment of it
        }
        if (made.isPresent() && made.get().pidForChildren() == NamespaceImage.DEAD) {
            deadPidNamespace(t);
        }
        if (made.isPresent() && made.get().time() != null) {
            time(t, made.get().time(), made.get().joins(Clone.NEWTIME));
        }
        if (made.isEmpty() || !made.get().has(Clone.NEWUTS) || made.get().joins(Clone.NEWUTS)) {
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

    /** Once the pairs of the devpts instances of the mount namespace it made are open again: the binds of its terminals. */
    public static void ptysOpen(TaskContext t) {
        var made = t.namespaces().madeBy(t.pid().value());
        if (made.isPresent() && made.get().has(Clone.NEWNS)) {
            MountRestore.bindPtys(t, made.get().mounts());
        }
    }

    /**
     * The net namespace bound on the host at {@code path} ({@code ip netns add}'s) the task was in,
     * joined again as it is now: its devices, addresses, routes and firewall are the host's to keep, and
     * whatever else is in it (a client run with {@code ip netns exec}) finds the task there again.
     * cryo opens the path in its own view of the files and the task takes that fd.
     */
    private static void joinNet(TaskContext t, String path) {
        joinNet(t, path, null);
    }

    /**
     * As above, by one thread of the task alone ({@code thread}: its injector; null: the task's main thread, its
     * calls queued with the rest), which entered that namespace alone.
     */
    public static void joinNet(TaskContext t, String path, dev.cryo.kernel.ptrace.Injector thread) {
        Call call = thread != null ? thread::call : t::call;
        String who = "pid " + t.pid() + (thread != null ? " thread " + thread.tid() : "");
        long fd;
        try (dev.cryo.kernel.Fd ns = dev.cryo.kernel.Sys.open(path, Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
            fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), ns.value());
        } catch (dev.cryo.kernel.KernelException e) {
            throw new dev.cryo.engine.restore.RestoreException(who + ": the net namespace it was in, bound at "
                    + path + " (ip netns add), cannot be opened: " + e.getMessage() + "; make it again there (ip netns"
                    + " add, with its addresses) before the restore");
        }
        try {
            call.call("setns(" + path + ", CLONE_NEWNET)", SyscallNr.SETNS, fd, Clone.NEWNET);
        } finally {
            call.call("close", SyscallNr.CLOSE, fd);
        }
    }

    /** An injected call, by the main thread or by another. */
    private interface Call {
        long call(String name, int nr, long... args);
    }

    /**
     * The namespace at {@code path} {@code restore --join-ns} named, which the task (the root, before it forks) joins
     * instead of making or keeping its own; cryo opens the path, the task takes that fd.
     */
    private static void join(TaskContext t, int flag, String path) {
        String kind = Clone.describeNamespaces(flag);
        long fd;
        try (dev.cryo.kernel.Fd ns = dev.cryo.kernel.Sys.open(path, Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
            fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), ns.value());
        } catch (dev.cryo.kernel.KernelException e) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + ": the " + kind + " namespace"
                    + " --join-ns named (" + path + ") cannot be opened: " + e.getMessage());
        }
        try {
            t.call("setns(" + path + ", CLONE_NEW" + kind.toUpperCase(java.util.Locale.ROOT) + ")", SyscallNr.SETNS, fd, flag);
        } finally {
            t.call("close", SyscallNr.CLOSE, fd);
        }
    }

    /**
     * A pid namespace for the task's children whose init has exited and was reaped (the task has no
     * child, the dump checked): unshared, given an init that exits before it runs anything (its
     * death signals nobody; the task reaps it), and dead as it was: every fork the task tries
     * fails with ENOMEM.
     */
    private static void deadPidNamespace(TaskContext t) {
        t.call("unshare(CLONE_NEWPID)", SyscallNr.UNSHARE, Clone.NEWPID);
        long args = t.put(new dev.cryo.engine.restore.RemoteWriter(88).longs(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0).toBytes());
        long r = t.main().raw(SyscallNr.CLONE3, args, 88);
        java.util.List<Integer> got = t.tracer().takeNewTracees();
        boolean failed = dev.cryo.kernel.ptrace.Injector.isError(r);
        if (!failed) {
            dev.cryo.engine.restore.stage.StubAdoption.dropUnrun(t, t.main(), false, 0, r, got);
        }
        if (failed || got.size() != 1) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + ": clone3 of the init of its dead pid"
                    + " namespace for children returned " + r + " (tracees " + got + ")");
        }
        String own = dev.cryo.kernel.Namespaces.link(t.pid().toString(), "pid");
        String kids = dev.cryo.kernel.Namespaces.link(t.pid().toString(), "pid_for_children");
        if (kids == null || kids.equals(own)) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + " did not get a pid namespace for its"
                    + " children other than its own (" + kids + ")");
        }
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

    /**
     * The task's time namespaces, made by the task itself (a clone3 with CLONE_NEWTIME would freeze the
     * offsets it copies before cryo could set them): unshare gives it a new time_for_children, whose
     * offsets cryo writes while no task is in it; setns then takes the task in (it is single-threaded
     * here). A namespace for its children only is left as their time_for_children. cryo opens that
     * namespace file and the task takes it: the task's own view may have no /proc (zdtm's clean_mntns).
     */
    private static void time(TaskContext t, TimeNsImage time, boolean joined) {
        if (time.own() != null && !joined) {
            newTimeNamespace(t, time, time.own());
            long fd;
            try (dev.cryo.kernel.Fd kids = dev.cryo.kernel.Sys.open("/proc/" + t.pid() + "/ns/time_for_children",
                    Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
                fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), kids.value());
            }
            t.call("setns(time_for_children, CLONE_NEWTIME)", SyscallNr.SETNS, fd, Clone.NEWTIME);
            t.call("close", SyscallNr.CLOSE, fd);
        }
        if (time.forChildren() != null) {
            newTimeNamespace(t, time, time.forChildren());
        }
    }

    /**
     * The time namespace {@code restore --join-ns time:PATH} named, which the task has joined: its CLOCK_MONOTONIC and
     * CLOCK_BOOTTIME, read by the task there, must be no earlier than the tree's were at the dump (the host's then plus
     * its own namespace's offsets), or the program's clocks would go back.
     */
    private static void clocksGoOn(TaskContext t, TimeNsImage time, String path) {
        for (int clock : new int[] {TimeNsImage.MONOTONIC, TimeNsImage.BOOTTIME}) {
            long at = t.put(new byte[16]);
            t.call("clock_gettime(" + clock + ")", SyscallNr.CLOCK_GETTIME, clock, at);
            java.nio.ByteBuffer ts = java.nio.ByteBuffer.wrap(dev.cryo.kernel.Sys.read(t.pid(), at, 16))
                    .order(java.nio.ByteOrder.nativeOrder());
            long now = ts.getLong() * 1_000_000_000L + ts.getLong();
            long then = time.treeClockAtDump(clock);
            if (now < then) {
                throw new dev.cryo.engine.restore.RestoreException("--join-ns time:" + path + ": its "
                        + (clock == TimeNsImage.MONOTONIC ? "CLOCK_MONOTONIC" : "CLOCK_BOOTTIME") + " reads "
                        + seconds(now) + " s, behind the " + seconds(then) + " s the tree's read at the dump: the"
                        + " program's clock would go back");
            }
        }
    }

    private static String seconds(long ns) {
        return String.format(java.util.Locale.ROOT, "%.3f", ns / 1e9);
    }

    private static void newTimeNamespace(TaskContext t, TimeNsImage time, TimeNsImage.Offsets offsets) {
        t.call("unshare(CLONE_NEWTIME)", SyscallNr.UNSHARE, Clone.NEWTIME);
        java.nio.file.Path path = java.nio.file.Path.of("/proc", t.pid().toString(), "timens_offsets");
        String text = time.now(offsets).text();
        try {
            java.nio.file.Files.writeString(path, text);
        } catch (java.io.IOException e) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + ": cannot set the offsets of its new time"
                    + " namespace (" + text.strip().replace('\n', ',') + ") in " + path + ": " + e.getMessage());
        }
    }

    private static final int SIOCSIFFLAGS = 0x8914, IFF_UP = 1, IFF_LOOPBACK = 8, AF_INET = 2, SOCK_DGRAM = 2;

    /** lo up in the task's new network namespace (it gives back 127.0.0.1 and ::1 by itself), as it was. */
    private static void loopbackUp(TaskContext t) {
        loopbackUp(t, null);
    }

    /**
     * As above, in the net namespace one thread of the task made alone ({@code thread}: its injector; null: the
     * task's main thread, its calls queued with the rest).
     */
    public static void loopbackUp(TaskContext t, dev.cryo.kernel.ptrace.Injector thread) {
        Call call = thread != null ? thread::call : t::call;
        String task = thread != null ? t.pid() + "/task/" + thread.tid() : t.pid().toString();
        String own = dev.cryo.kernel.Namespaces.link(task, "net");
        if (own == null || own.equals(dev.cryo.kernel.Namespaces.link("self", "net"))) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + task.replace("/task/", " thread ") + " is not"
                    + " in a net namespace of its own (" + own + ")");
        }
        long sock = call.call("socket(AF_INET, SOCK_DGRAM)", SyscallNr.SOCKET, AF_INET, SOCK_DGRAM, 0);
        byte[] req = new byte[40];
        req[0] = 'l';
        req[1] = 'o';
        req[16] = IFF_UP | IFF_LOOPBACK;
        call.call("ioctl(SIOCSIFFLAGS, lo up)", SyscallNr.IOCTL, sock, SIOCSIFFLAGS, t.put(req));
        call.call("close", SyscallNr.CLOSE, sock);
    }
}
