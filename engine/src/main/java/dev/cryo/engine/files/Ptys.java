package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.Terminals;
import dev.cryo.kernel.proc.HostFds;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Who holds the two ends of a pseudo-terminal, for the pty handlers' dump halves: a master is
 * found by the "tty-index" its fdinfo shows, a slave by its /dev/pts/N link, a session by its
 * controlling terminal (stat's tty_nr). Scans /proc, so it runs only when a tree holds a pty.
 */
public final class Ptys {
    private Ptys() {}

    static final String PTMX = "/dev/ptmx";

    /** The pty index of a master fd: fdinfo's tty-index (kernels before 4.15 lack it: TIOCGPTN on a copy). */
    static int masterIndex(FdProbe fd) {
        Optional<String> v = fd.info().value("tty-index");
        if (v.isPresent()) {
            return Integer.parseInt(v.get().trim());
        }
        try (Fd copy = copy(fd.pid(), fd.fd())) {
            return Terminals.index(copy);
        }
    }

    public static boolean isMasterTarget(String target) {
        return target.equals(PTMX) || target.endsWith("/pts/ptmx");
    }

    /**
     * The devpts instance a pty end belongs to: 0 for the host's (cryo's /dev/pts), else the device
     * number of its own instance (a container's /dev/pts). {@code pts}: the slave, or for a master an
     * O_PATH peer (TIOCGPTPEER opens nothing).
     */
    static long instance(Path pts) {
        try {
            long mine = ((Number) Files.getAttribute(pts, "unix:dev")).longValue();
            return mine == hostInstance() ? 0 : mine;
        } catch (IOException e) {
            throw new dev.cryo.engine.DumpException("cannot tell the devpts instance of " + pts + ": " + e.getMessage());
        }
    }

    /** As above, for a master: its slave's instance, through an O_PATH peer. */
    static long instance(Fd master) {
        try (Fd peer = Terminals.peer(master, dev.cryo.kernel.Fcntl.O_PATH | dev.cryo.kernel.Fcntl.O_CLOEXEC)) {
            return instance(Path.of("/proc/self/fd/" + peer.value()));
        }
    }

    private static long hostInstance() throws IOException {
        return ((Number) Files.getAttribute(Path.of("/dev/pts/ptmx"), "unix:dev")).longValue();
    }

    /** A device number as major:minor. */
    public static String device(long dev) {
        return (dev >>> 8 & 0xfff) + ":" + (dev & 0xff | dev >>> 12 & 0xfff00);
    }

    /** A copy of a task's fd in cryo's process (the same open file), for read-only ioctls. */
    static Fd copy(Pid pid, int fd) {
        try (Fd pidfd = Sys.pidfdOpen(pid)) {
            return Sys.pidfdGetfd(pidfd, pid, fd);
        }
    }

    /**
     * A new open file of the slave of pty {@code index} with exactly {@code flags}, made (TIOCGPTPEER)
     * from a master some process of this host holds, or null when none is found. Opens nothing else.
     */
    static Fd outsidePeer(int index, int flags) {
        for (End e : ends(0, index)) {
            if (e.master()) {
                try (Fd master = copy(Pid.of(e.pid()), e.fd())) {
                    return Terminals.peer(master, flags);
                } catch (RuntimeException gone) {
                    // closed meanwhile: the next holder, or the path
                }
            }
        }
        return null;
    }

    /** One fd somewhere on the host that is an end of a pty. */
    record End(int pid, int fd, boolean master) {
        @Override
        public String toString() {
            return "pid " + pid + " fd " + fd;
        }
    }

    /**
     * Every open end of pty {@code index} of devpts {@code instance} (0: the host's) on the host,
     * cryo's own process excluded. Every instance has its own 0, 1...: a slave is told by its node's
     * device, a master by its slave's (an O_PATH peer of a copy).
     */
    static List<End> ends(long instance, int index) {
        return ends(index, pid -> true, instance);
    }

    private static List<End> ends(int index, java.util.function.IntPredicate among, long instance) {
        List<End> out = new ArrayList<>();
        HostFds.first(pid -> !among.test(pid), (pid, fd, target) -> {
            Found f = found(pid, fd, target);
            if (f != null && f.index() == index && (instance < 0 || f.instance() == instance)) {
                out.add(f.end());
            }
            return null; // every end
        });
        return out;
    }

    /** Every open pty end on the host, cryo's own process excluded ({@link PtyEnds}): by instance, by index. */
    static java.util.Map<Long, java.util.Map<Integer, List<End>>> allEnds() {
        java.util.Map<Long, java.util.Map<Integer, List<End>>> out = new java.util.HashMap<>();
        HostFds.first(pid -> false, (pid, fd, target) -> {
            Found f = found(pid, fd, target);
            if (f != null) {
                out.computeIfAbsent(f.instance(), k -> new java.util.HashMap<>())
                        .computeIfAbsent(f.index(), k -> new ArrayList<>()).add(f.end());
            }
            return null; // every end
        });
        return out;
    }

    /** A pty end found on the host: its pty's index, and its devpts instance when asked (a master's takes a copy). */
    private record Found(End end, int index, Path link) {
        long instance() {
            return end.master() ? masterInstance(end.pid(), end.fd()) : Ptys.instance(link);
        }
    }

    private static final java.util.regex.Pattern SLAVE_TARGET = java.util.regex.Pattern.compile(".*/pts/(\\d+)( \\(deleted\\))?");

    /**
     * What fd {@code fd} of {@code pid}, whose link reads {@code target}, is of a pty, or null when it is no end:
     * a slave is told by its node's device, a master by the tty-index its fdinfo shows.
     */
    private static Found found(int pid, int fd, String target) {
        Path link = Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd);
        java.util.regex.Matcher slave = SLAVE_TARGET.matcher(target);
        if (slave.matches()) {
            int index = Integer.parseInt(slave.group(1));
            return isSlave(link, index) ? new Found(new End(pid, fd, false), index, link) : null;
        }
        if (isMasterTarget(target)) {
            return ProcFs.fdInfo(Pid.of(pid), fd).value("tty-index").map(String::trim)
                    .map(index -> new Found(new End(pid, fd, true), Integer.parseInt(index), link)).orElse(null);
        }
        return null;
    }

    private static boolean isSlave(Path fd, int index) {
        try {
            return FileIdentity.isCharDevice(fd) && FileIdentity.rdev(fd) == Terminals.slaveDevice(index);
        } catch (IOException e) {
            return false;
        }
    }

    private static long masterInstance(int pid, int fd) {
        try (Fd copy = copy(Pid.of(pid), fd)) {
            return instance(copy);
        }
    }

    /**
     * The master, held by a process {@code among} accepts, of the pty that is session {@code sid}'s
     * controlling terminal, number {@code index} in its instance (TIOCGSID on a master names the
     * session of its slave), or null.
     */
    private static End masterOf(int sid, int index, java.util.function.IntPredicate among) {
        for (End e : ends(index, among, -1)) {
            if (e.master()) {
                try (Fd copy = copy(Pid.of(e.pid()), e.fd())) {
                    if (Terminals.session(copy) == sid) {
                        return e;
                    }
                } catch (RuntimeException gone) {
                    // closed meanwhile
                }
            }
        }
        return null;
    }

    /** " of a devpts instance of its own (device M:N, a container's /dev/pts)", for messages. */
    static String ofItsOwn(long instance) {
        return " of a devpts instance of its own (device " + device(instance) + ", a container's /dev/pts)";
    }

    /** "pid N COMM fd M", naming the holder of an end. */
    static String named(End e) {
        String comm;
        try {
            comm = " " + ProcFs.stat(Pid.of(e.pid())).comm();
        } catch (RuntimeException gone) {
            comm = "";
        }
        return "pid " + e.pid() + comm + " fd " + e.fd();
    }

    /** The master the tree holds of session {@code sid}'s controlling terminal ({@link #masterOf}), or null. */
    static End treeMasterOf(int sid, int index, FdHandler.DumpContext ctx) {
        return masterOf(sid, index, ctx::inTree);
    }

    /**
     * Where a restore reaches devpts instance {@code instance} again: its mount point as the task
     * that made the mount namespace holding it sees it ({@code maker}; the restore opens the
     * instance's ptmx through that task's root once it has made its mounts again), or as cryo sees
     * it when it is mounted in cryo's own namespace ({@code maker} 0).
     */
    record InstanceMount(int maker, String point) {}

    /** The mount of {@code instance} in a mount namespace of a task holding an end of the pair ({@code ends}). */
    static InstanceMount mountOf(long instance, List<End> ends, String what, FdHandler.DumpContext ctx) {
        String cryos = dev.cryo.kernel.Namespaces.link("self", "mnt");
        for (End e : ends) {
            try {
                String ns = dev.cryo.kernel.Namespaces.link(Integer.toString(e.pid()), "mnt");
                if (!ctx.inTree(e.pid()) || ns == null) {
                    continue;
                }
                if (ns.equals(cryos)) {
                    String point = pointOf(instance, "self");
                    if (point != null) {
                        return new InstanceMount(0, point);
                    }
                    continue;
                }
                int maker = e.pid();
                int up = ProcFs.stat(Pid.of(maker)).ppid();
                for (; ctx.inTree(up) && ns.equals(dev.cryo.kernel.Namespaces.link(Integer.toString(up), "mnt"));
                     up = ProcFs.stat(Pid.of(up)).ppid()) {
                    maker = up;
                }
                if (ns.equals(dev.cryo.kernel.Namespaces.link(Integer.toString(up), "mnt"))) {
                    continue; // a namespace of a process outside the tree: no restore makes it again
                }
                String point = pointOf(instance, Integer.toString(maker));
                if (point != null) {
                    return new InstanceMount(maker, point);
                }
            } catch (RuntimeException gone) {
                // exited meanwhile: the next holder
            }
        }
        throw new dev.cryo.engine.DumpException(what + ": its devpts instance (device " + device(instance) + ") is"
                + " mounted neither in a mount namespace the tree made nor in cryo's where a task holding the pty sees it"
                + " (a restore could not reach it again); not supported");
    }

    /** The mount point of devpts {@code instance} in the mount table of {@code pid}, or null. */
    private static String pointOf(long instance, String pid) {
        String path = "/proc/" + pid + "/mountinfo";
        for (dev.cryo.kernel.proc.MountInfo.Mount m : dev.cryo.kernel.proc.MountInfo.parse(path, ProcFs.text(path))) {
            if (m.fsType().equals("devpts") && m.stDev() == instance && m.root().equals("/")) { // not a node's bind
                return m.point();
            }
        }
        return null;
    }

    /** A process (not in the tree) whose controlling terminal is pty {@code index}, or -1. */
    static int sessionOutside(int index, FdHandler.DumpContext ctx) {
        int dev = (int) Terminals.slaveDevice(index);
        long self = ProcessHandle.current().pid();
        for (int pid : ProcFs.pids()) {
            if (pid == self || ctx.inTree(pid)) {
                continue;
            }
            try {
                if (ProcFs.stat(Pid.of(pid)).ttyNr() == dev) {
                    return pid;
                }
            } catch (RuntimeException e) {
                // gone
            }
        }
        return -1;
    }

    /**
     * Refuses a task whose controlling terminal cannot come back: it must be a pty whose master the
     * tree holds, in a session whose leader the tree holds (with --shell-job the terminal is the
     * job's, left to the restorer's session), or a virtual console its session's leader takes back.
     */
    public static void checkControllingTerminal(Pid pid, int ttyNr, int sid, FdHandler.DumpContext ctx) {
        if (ttyNr == 0 || ctx.shellJob() || CharDeviceHandler.sessionTakesBack(sid, ttyNr, ctx)) {
            return; // a virtual console its session's leader takes back (ControllingTerminal.takeVirtualConsole)
        }
        String tty = Terminals.isPtySlave(ttyNr) ? "/dev/pts/" + Terminals.slaveIndex(ttyNr)
                : "tty " + Terminals.major(ttyNr) + ":" + Terminals.minor(ttyNr);
        if (!Terminals.isPtySlave(ttyNr)) {
            throw new dev.cryo.engine.DumpException("pid " + pid + ": its controlling terminal " + tty
                    + " is outside the tree; dump with --shell-job to take the terminal along");
        }
        if (treeMasterOf(sid, Terminals.slaveIndex(ttyNr), ctx) == null) {
            End outside = masterOf(sid, Terminals.slaveIndex(ttyNr), p -> true);
            long instance = outside == null ? 0 : masterInstance(outside.pid(), outside.fd());
            throw new dev.cryo.engine.DumpException("pid " + pid + ": its controlling terminal " + tty
                    + (instance == 0 ? " is outside the tree" + (outside == null ? "" : " (its master: " + named(outside)
                    + ")") + "; dump with --shell-job to take the terminal along" : ofItsOwn(instance)
                    + " has its master outside the tree (" + named(outside) + ", a container manager's console?); dump"
                    + " the process holding the master with it"));
        }
        if (!ctx.inTree(sid)) {
            throw new dev.cryo.engine.DumpException("pid " + pid + ": its controlling terminal " + tty
                    + " belongs to session " + sid + ", whose leader is not in the tree (a session cannot be"
                    + " made again without its leader)");
        }
    }
}
