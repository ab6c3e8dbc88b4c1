package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.kernel.Terminals;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static dev.cryo.engine.show.ShowFormat.hex;

/**
 * Character devices: /dev/null, /dev/zero, /dev/urandom, /dev/console and the like are reopened by
 * path; a terminal only with --shell-job (the restored process then uses the terminal cryo runs on).
 * Pseudo-terminals and /dev/tty have their own handlers, earlier in the table.
 */
public final class CharDeviceHandler implements FdHandler<CharDeviceHandler.CharDevice> {
    public static final int TAG = 3, RECORD_ID = 113;

    /**
     * /dev/null, /dev/zero, a terminal (restored only with --shell-job), ... {@code hostMount}
     * (version 2): held through a mount of cryo's by a task in a mount namespace of its own (see
     * {@link RegularFileHandler.RegularFile}). {@code deletedMode} (version 3): the node's st_mode
     * when it had been unlinked (0 when it was not), with its owner {@code uid}, {@code gid}: the restore
     * makes such a node again in its directory, opens it and unlinks it (zdtm's deleted_dev). {@code kmsgSeq}
     * (version 4): for a reader of /dev/kmsg, the sequence number of the record it reads next (see {@link KmsgReader});
     * -1 for any other.
     */
    public record CharDevice(String path, long rdev, boolean tty, boolean hostMount, int deletedMode, int uid, int gid,
                             long kmsgSeq) implements FileDesc {
        public CharDevice(String path, long rdev, boolean tty, boolean hostMount, int deletedMode, int uid, int gid) {
            this(path, rdev, tty, hostMount, deletedMode, uid, gid, KmsgReader.NONE);
        }

        public CharDevice(String path, long rdev, boolean tty) {
            this(path, rdev, tty, false);
        }

        public CharDevice(String path, long rdev, boolean tty, boolean hostMount) {
            this(path, rdev, tty, hostMount, 0, 0, 0);
        }

        public boolean deleted() {
            return deletedMode != 0;
        }
    }

    static final RecordCodec<CharDevice> CODEC = RecordCodec.of(CharDevice.class, RECORD_ID, 4, (out, c) -> {
        ModelFields.writeText(out, c.path(), ModelLimits.PATH, "CharDevice.path");
        out.writeLong(c.rdev());
        out.writeBoolean(c.tty());
        out.writeBoolean(c.hostMount());
        out.writeInt(c.deletedMode());
        out.writeInt(c.uid());
        out.writeInt(c.gid());
        out.writeLong(c.kmsgSeq());
    }, (in, version) -> {
        String path = ModelFields.readText(in, ModelLimits.PATH, "CharDevice.path");
        long rdev = in.readLong();
        boolean tty = in.readBoolean();
        boolean hostMount = version >= 2 && in.readBoolean();
        return version >= 4 ? new CharDevice(path, rdev, tty, hostMount, in.readInt(), in.readInt(), in.readInt(), in.readLong())
                : version >= 3 ? new CharDevice(path, rdev, tty, hostMount, in.readInt(), in.readInt(), in.readInt())
                : new CharDevice(path, rdev, tty, hostMount);
    });

    @Override
    public String kind() {
        return "character device";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<CharDevice> codec() {
        return CODEC;
    }

    @Override
    public boolean reopensByPath(FdProbe fd) {
        return !fd.target().endsWith(DELETED); // a deleted node is made again (see DeletedDeviceNode)
    }

    private static final String DELETED = " (deleted)";

    @Override
    public boolean handles(FdProbe fd) throws IOException {
        return fd.target().startsWith("/") && FileIdentity.isCharDevice(fd.procPath());
    }

    @Override
    public CharDevice dump(FdProbe fd, DumpContext ctx) throws IOException {
        long rdev = FileIdentity.rdev(fd.procPath());
        if (isPtyMaster(rdev)) {
            // masters are PtyMasterHandler's (it comes first in the table): this is a ptmx at another path
            throw new DumpException(fd.where() + ": pseudo-terminal master " + fd.target()
                    + " is not supported yet (even with --shell-job)");
        }
        boolean tty = isTty(rdev) && !isConsole(rdev);
        String held = perOpenState(fd, rdev);
        if (held != null) {
            throw new DumpException(fd.where() + ": " + fd.target() + " " + held
                    + "; a reopen by path would come back without it, which is not supported");
        }
        if (!tty && fd.target().endsWith(DELETED)) {
            return DeletedDeviceNode.dump(fd, fd.target().substring(0, fd.target().length() - DELETED.length()), rdev);
        }
        if (tty && !ctx.shellJob() && !(Terminals.isVirtualConsole(rdev) && virtualConsoleOfTheTree(fd, ctx))) {
            throw new DumpException(fd.where() + ": terminal " + fd.target()
                    + " is open; dump with --shell-job to take the terminal along");
        }
        return new CharDevice(fd.target(), rdev, tty, !tty && RegularFileHandler.onHostMount(fd, ctx), 0, 0, 0,
                KmsgReader.dump(fd, rdev));
    }

    @Override
    public long restore(FdImage fd, CharDevice c, RestoreContext ctx) {
        if (c.deleted()) {
            return DeletedDeviceNode.restore(fd, c, ctx);
        }
        if (c.kmsgSeq() != KmsgReader.NONE) {
            return KmsgReader.restore(fd, c, ctx);
        }
        if (!c.tty() && ((c.hostMount() && RegularFileHandler.inOtherMountNamespace(ctx.taskPid())
                && rdevAt(Path.of(c.path())) == c.rdev()) || onlyOutside(ctx.taskPid(), c))) {
            // opened before the task pivoted into a root without it (the host's /dev/null as a container's
            // stdin): cryo opens it and the task takes that open file
            return ctx.openAsCryo(c.path(), FdHandlers.openFlags(fd));
        }
        // a virtual console is made a controlling terminal only on purpose (ControllingTerminal)
        return c.tty() ? ctx.open(c.path(), FdHandlers.openFlags(fd) | (Terminals.isVirtualConsole(c.rdev())
                ? dev.cryo.kernel.Fcntl.O_NOCTTY : 0)) : ctx.openQueued(c.path(), FdHandlers.openFlags(fd));
    }

    /** The device is at its path from cryo's mount namespace but not from the task's (seen from its own root). */
    private static boolean onlyOutside(int pid, CharDevice c) {
        return RegularFileHandler.inOtherMountNamespace(pid) && rdevAt(Path.of(c.path())) == c.rdev()
                && dev.cryo.kernel.Namespaces.seenBy(dev.cryo.kernel.Pid.of(pid), () -> rdevAt(Path.of(c.path()))) != c.rdev();
    }

    private static long rdevAt(Path p) {
        try {
            return FileIdentity.isCharDevice(p) ? FileIdentity.rdev(p) : -1;
        } catch (IOException e) {
            return -1;
        }
    }

    @Override
    public void show(CharDevice c, Map<String, Object> m) {
        m.put("kind", "chardev");
        m.put("path", c.path());
        m.put("rdev", hex(c.rdev()));
        m.put("tty", c.tty());
        if (c.deleted()) {
            m.put("deleted", true);
            m.put("mode", String.format("0%o", c.deletedMode()));
            m.put("uid", c.uid());
            m.put("gid", c.gid());
        }
        if (c.hostMount()) {
            m.put("mount", "cryo's");
        }
        if (c.kmsgSeq() != KmsgReader.NONE) {
            m.put("kmsgSeq", c.kmsgSeq()); // the log's record it reads next
        }
    }

    /**
     * What an open misc device (major 10) holds that another open of it would not have, or null:
     * a FUSE connection, an input device made through uinput/uhid, a vhost worker, a PM QoS latency
     * request, an armed watchdog. (A /dev/net/tun file attached to a device is {@link TunFileHandler}'s,
     * earlier in the table: openvpn came back with a bare one and spun on "read from TUN/TAP: File
     * descriptor in bad state" before it was carried.)
     */
    static String perOpenState(FdProbe fd, long rdev) {
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        if (major != 10) {
            return null;
        }
        String name = miscName(minor, fd.target());
        if (name.equals("fuse") || name.equals("cuse")) {
            return "holds a FUSE connection";
        }
        if (name.equals("uinput") || name.equals("uhid")) {
            return "may hold an input device it created";
        }
        if (name.startsWith("vhost-")) {
            return "holds a vhost device";
        }
        if (name.equals("cpu_dma_latency") || name.equals("network_latency") || name.equals("network_throughput")) {
            return "holds a PM QoS latency request";
        }
        if (name.startsWith("watchdog")) {
            return "holds the watchdog (closed by the dump's kill, it would not be pinged)";
        }
        return null;
    }

    /** A misc device's kernel name (DEVNAME in sysfs: "net/tun"), else the path below /dev. */
    private static String miscName(long minor, String path) {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/sys/dev/char/10:" + minor + "/uevent"))) {
                if (line.startsWith("DEVNAME=")) {
                    return line.substring("DEVNAME=".length());
                }
            }
        } catch (IOException | RuntimeException e) {
            // no sysfs here: the path it was opened by
        }
        return path.startsWith("/dev/") ? path.substring(5) : path;
    }

    /** "major:minor" of a device number as stat gives it. */
    static String deviceNumber(long rdev) {
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        return major + ":" + minor;
    }

    /**
     * A virtual console (zdtm's vt) is carried without --shell-job when it is not the holder's controlling
     * terminal (reopened by path, O_NOCTTY), or the one of a session a task of the tree leads, its group in
     * the foreground: that leader takes it back (ControllingTerminal.takeVirtualConsole). A console of a
     * session outside the tree (a job run from a login on it) is the shell job's.
     */
    private static boolean virtualConsoleOfTheTree(FdProbe fd, DumpContext ctx) {
        try { // TIOCGSID and TIOCGPGRP answer only a task whose terminal it is: /proc tells
            dev.cryo.kernel.proc.ProcStat holder = dev.cryo.kernel.proc.ProcFs.stat(fd.pid());
            if (!sameDevice(holder.ttyNr(), rdevOf(fd))) {
                return true;
            }
            return sessionTakesBack(holder.session(), rdevOf(fd), ctx);
        } catch (RuntimeException | IOException e) {
            return false;
        }
    }

    /**
     * Whether session {@code sid}, whose controlling terminal is virtual console {@code rdev}, takes it back
     * at restore (ControllingTerminal.takeVirtualConsole, on the leader's fd of it once its files are open):
     * its leader is in the tree and holds an fd of the console, its group in the foreground (TIOCSCTTY
     * makes it so), and no other task of the tree is in that session (forked before, they would have none).
     */
    public static boolean sessionTakesBack(int sid, long rdev, DumpContext ctx) {
        try {
            dev.cryo.kernel.Pid leaderPid = dev.cryo.kernel.Pid.of(sid);
            dev.cryo.kernel.proc.ProcStat leader = dev.cryo.kernel.proc.ProcFs.stat(leaderPid);
            return Terminals.isVirtualConsole(rdev) && ctx.inTree(sid) && sameDevice(leader.ttyNr(), rdev)
                    && leader.tpgid() == leader.pgrp()
                    && ctx.treePids().stream().noneMatch(p -> p != sid && sessionOf(p) == sid)
                    && dev.cryo.kernel.proc.ProcFs.fds(leaderPid).stream().anyMatch(fd -> isDevice(sid, fd, rdev));
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static int sessionOf(int pid) {
        try {
            return dev.cryo.kernel.proc.ProcFs.stat(dev.cryo.kernel.Pid.of(pid)).session();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private static boolean isDevice(int pid, int fd, long rdev) {
        try {
            return sameDevice(FileIdentity.rdev(Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd)), rdev);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static long rdevOf(FdProbe fd) throws IOException {
        return FileIdentity.rdev(fd.procPath());
    }

    /** stat's tty_nr and st_rdev encode a device alike; compared by major and minor. */
    public static boolean sameDevice(long a, long b) {
        return Terminals.major(a) == Terminals.major(b) && Terminals.minor(a) == Terminals.minor(b);
    }

    /** /dev/ptmx (5:2) and the multiplexers of devpts instances (a master's fd points at ptmx). */
    static boolean isPtyMaster(long rdev) {
        return Terminals.major(rdev) == 5 && Terminals.minor(rdev) == 2;
    }

    /**
     * /dev/console (5:1): the host's, never a controlling terminal (the kernel opens it as with O_NOCTTY),
     * and its open holds nothing another would not: reopened by path like /dev/null, no job's terminal.
     */
    static boolean isConsole(long rdev) {
        return Terminals.major(rdev) == 5 && Terminals.minor(rdev) == 1;
    }

    /** Major 4 (tty/ttyS), 5 (tty, console, ptmx) and 136-143 (pts). */
    static boolean isTty(long rdev) {
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        return major == 4 || major == 5 || (major >= 136 && major <= 143);
    }
}
