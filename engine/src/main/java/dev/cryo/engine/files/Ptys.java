package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.Terminals;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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

    static boolean isMasterTarget(String target) {
        return target.equals(PTMX) || target.endsWith("/pts/ptmx");
    }

    /**
     * Refuses a pty of a devpts instance other than the host's (a container's /dev/pts, mounted
     * with its own ptmx): its index means another pair there, and the restore reopens pairs from
     * the host's. {@code pts}: the slave, or for a master an O_PATH peer (TIOCGPTPEER opens nothing).
     */
    static void checkHostInstance(FdProbe fd, Path pts, int index) {
        try {
            Object mine = Files.getAttribute(pts, "unix:dev");
            Object host = Files.getAttribute(Path.of("/dev/pts/ptmx"), "unix:dev");
            if (!mine.equals(host)) {
                long dev = ((Number) mine).longValue();
                throw new dev.cryo.engine.DumpException(fd.where() + ": pseudo-terminal " + index + " (" + fd.target()
                        + ") belongs to a devpts instance of its own (device " + (dev >>> 8 & 0xfff) + ":"
                        + (dev & 0xff | dev >>> 12 & 0xfff00) + ", a container's /dev/pts), not the host's; ptys of a"
                        + " private devpts instance are not supported yet");
            }
        } catch (IOException e) {
            throw new dev.cryo.engine.DumpException(fd.where() + ": cannot tell the devpts instance of " + fd.target()
                    + ": " + e.getMessage());
        }
    }

    /** As above, for a master: its slave's instance, through an O_PATH peer. */
    static void checkHostInstance(FdProbe fd, Fd master, int index) {
        try (Fd peer = Terminals.peer(master, dev.cryo.kernel.Fcntl.O_PATH | dev.cryo.kernel.Fcntl.O_CLOEXEC)) {
            checkHostInstance(fd, Path.of("/proc/self/fd/" + peer.value()), index);
        }
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
        for (End e : ends(index)) {
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

    /** Every open end of pty {@code index} on the host (cryo's own process excluded). */
    static List<End> ends(int index) {
        List<End> out = new ArrayList<>();
        String slave = "/dev/pts/" + index;
        for (int pid : pids()) { // one gone, or a kernel thread, holds none
            for (Map.Entry<Integer, String> f : ProcFs.fdTargets(Pid.of(pid)).entrySet()) {
                int fd = f.getKey();
                try {
                    String target = f.getValue();
                    if (target.equals(slave)) {
                        out.add(new End(pid, fd, false));
                    } else if (isMasterTarget(target)
                            && ProcFs.fdInfo(Pid.of(pid), fd).value("tty-index").map(String::trim)
                            .filter(v -> v.equals(Integer.toString(index))).isPresent()) {
                        out.add(new End(pid, fd, true));
                    }
                } catch (RuntimeException e) {
                    // closed meanwhile
                }
            }
        }
        return out;
    }

    /** A process (not in the tree) whose controlling terminal is pty {@code index}, or -1. */
    static int sessionOutside(int index, FdHandler.DumpContext ctx) {
        int dev = (int) Terminals.slaveDevice(index);
        for (int pid : pids()) {
            if (ctx.inTree(pid)) {
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
     * job's, left to the restorer's session).
     */
    public static void checkControllingTerminal(Pid pid, int ttyNr, int sid, FdHandler.DumpContext ctx) {
        if (ttyNr == 0 || ctx.shellJob()) {
            return;
        }
        String tty = Terminals.isPtySlave(ttyNr) ? "/dev/pts/" + Terminals.slaveIndex(ttyNr)
                : "tty " + Terminals.major(ttyNr) + ":" + Terminals.minor(ttyNr);
        if (!Terminals.isPtySlave(ttyNr) || ends(Terminals.slaveIndex(ttyNr)).stream()
                .noneMatch(e -> e.master() && ctx.inTree(e.pid()))) {
            throw new dev.cryo.engine.DumpException("pid " + pid + ": its controlling terminal " + tty
                    + " is outside the tree; dump with --shell-job to take the terminal along");
        }
        if (!ctx.inTree(sid)) {
            throw new dev.cryo.engine.DumpException("pid " + pid + ": its controlling terminal " + tty
                    + " belongs to session " + sid + ", whose leader is not in the tree (a session cannot be"
                    + " made again without its leader)");
        }
    }

    private static List<Integer> pids() {
        List<Integer> out = new ArrayList<>();
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc"))) {
            for (Path p : d) {
                String n = p.getFileName().toString();
                if (!n.isEmpty() && n.chars().allMatch(Character::isDigit) && Long.parseLong(n) != self) {
                    out.add(Integer.parseInt(n));
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("listing /proc", e);
        }
        return out;
    }
}
