package dev.cryo.engine.files;

import static dev.cryo.kernel.Fcntl.O_NONBLOCK;
import static dev.cryo.kernel.Fcntl.O_RDWR;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Terminals;

import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The master end of a pseudo-terminal pair held inside the tree (script, expect, a terminal
 * multiplexer), with the pair's state: termios (TCGETS2) and locked termios, window size, packet
 * mode, the lock of the slave, the exclusive mode of either end, the slave node's owner and mode,
 * and the bytes sitting unread in either direction, a line being typed included ({@link PtyQueues}:
 * taken out of the frozen pair, given back by {@link TakenTtyBytes} if the tree runs on). Every other
 * holder of either end must be in the tree too. Restore ({@code PtyHub}) opens /dev/ptmx again until
 * it gets the dumped index (CRIU tries the same); the task takes cryo's open file.
 */
public final class PtyMasterHandler implements FdHandler<PtyMasterHandler.PtyMaster> {
    public static final int TAG = 60, RECORD_ID = 250;

    /**
     * One pty pair, carried by its master's open file. {@code slaveClosed}: every slave was closed
     * after one had been opened (the master reads EIO until a slave is opened again).
     * {@code lockedTermios}: TIOCGLCKTRMIOS (a struct termios). {@code slaveUid/Gid/Mode}: the owner
     * and permission bits of the /dev/pts node (grantpt, {@code mesg n}). {@code queued}: the bytes
     * sitting in the pair (see {@link PtyQueues}). {@code outputStopped}: the slave's output is
     * stopped (^S or tcflow), so its writers wait. {@code instance}: 0 for a pty of the host's devpts,
     * else the device number its own instance had at dump (a container's /dev/pts; it only tells the
     * pairs of one instance from another's, whose indexes repeat), mounted at {@code mount} in the
     * mount namespace {@code maker} made ({@link Ptys.InstanceMount}). {@code session}: the session
     * whose controlling terminal it is (TIOCGSID), 0 if none. {@code path}: the ptmx the master was
     * opened through, as its holder's link shows it (/dev/ptmx, or a devpts's own ptmx; an lxc
     * container's /dev/ptmx is a bind of its pts/ptmx), "" in images before version 3.
     */
    public record PtyMaster(int index, byte[] termios, byte[] winsize, boolean packetMode, boolean locked,
                            boolean masterExclusive, boolean slaveExclusive, boolean slaveClosed, byte[] lockedTermios,
                            int slaveUid, int slaveGid, int slaveMode, PtyQueues.Queued queued, boolean outputStopped,
                            long instance, int maker, String mount, int session, String path)
            implements FileDesc {
        /** A pty of the host's devpts whose session was not recorded (images before version 2). */
        public PtyMaster(int index, byte[] termios, byte[] winsize, boolean packetMode, boolean locked,
                         boolean masterExclusive, boolean slaveExclusive, boolean slaveClosed, byte[] lockedTermios,
                         int slaveUid, int slaveGid, int slaveMode, PtyQueues.Queued queued, boolean outputStopped) {
            this(index, termios, winsize, packetMode, locked, masterExclusive, slaveExclusive, slaveClosed, lockedTermios,
                    slaveUid, slaveGid, slaveMode, queued, outputStopped, 0, 0, "", 0, "");
        }

        PtyMaster inInstance(long instance, int maker, String mount, int session, String path) {
            return new PtyMaster(index, termios, winsize, packetMode, locked, masterExclusive, slaveExclusive, slaveClosed,
                    lockedTermios, slaveUid, slaveGid, slaveMode, queued, outputStopped, instance, maker, mount, session,
                    path);
        }
    }

    private static final int MAX_LINES = PtyQueues.TTY_BUFFER + 1, MAX_BYTES = 1 << 20;

    static final RecordCodec<PtyMaster> CODEC = RecordCodec.of(PtyMaster.class, RECORD_ID, 3, (out, p) -> {
        out.writeVarInt(p.index(), true);
        ModelFields.writeBytes(out, p.termios(), Terminals.TERMIOS2_SIZE, "PtyMaster.termios");
        ModelFields.writeBytes(out, p.winsize(), Terminals.WINSIZE_SIZE, "PtyMaster.winsize");
        out.writeBoolean(p.packetMode());
        out.writeBoolean(p.locked());
        out.writeBoolean(p.masterExclusive());
        out.writeBoolean(p.slaveExclusive());
        out.writeBoolean(p.slaveClosed());
        ModelFields.writeBytes(out, p.lockedTermios(), Terminals.TERMIOS_SIZE, "PtyMaster.lockedTermios");
        out.writeVarInt(p.slaveUid(), true);
        out.writeVarInt(p.slaveGid(), true);
        out.writeVarInt(p.slaveMode(), true);
        ModelFields.writeByteArrays(out, p.queued().lines(), MAX_LINES, MAX_BYTES, "PtyMaster.lines");
        ModelFields.writeBytes(out, p.queued().pending(), MAX_BYTES, "PtyMaster.pending");
        ModelFields.writeBytes(out, p.queued().output(), MAX_BYTES, "PtyMaster.output");
        out.writeBoolean(p.outputStopped());
        out.writeVarLong(p.instance(), true); // version 2
        out.writeVarInt(p.maker(), true);
        ModelFields.writeText(out, p.mount(), dev.cryo.engine.model.codec.ModelLimits.PATH, "PtyMaster.mount");
        out.writeVarInt(p.session(), true);
        ModelFields.writeText(out, p.path(), dev.cryo.engine.model.codec.ModelLimits.PATH, "PtyMaster.path"); // 3
    }, (in, version) -> {
        PtyMaster p = v1(in);
        return version < 2 ? p : p.inInstance(in.readVarLong(true), in.readVarInt(true),
                ModelFields.readText(in, dev.cryo.engine.model.codec.ModelLimits.PATH, "PtyMaster.mount"), in.readVarInt(true),
                version < 3 ? "" : ModelFields.readText(in, dev.cryo.engine.model.codec.ModelLimits.PATH, "PtyMaster.path"));
    });

    /** The fields of version 1, which later versions begin with. */
    private static PtyMaster v1(com.esotericsoftware.kryo.io.Input in) {
        return new PtyMaster(in.readVarInt(true),
                ModelFields.readBytes(in, Terminals.TERMIOS2_SIZE, "PtyMaster.termios"),
                ModelFields.readBytes(in, Terminals.WINSIZE_SIZE, "PtyMaster.winsize"),
                in.readBoolean(), in.readBoolean(), in.readBoolean(), in.readBoolean(), in.readBoolean(),
                ModelFields.readBytes(in, Terminals.TERMIOS_SIZE, "PtyMaster.lockedTermios"),
                in.readVarInt(true), in.readVarInt(true), in.readVarInt(true),
                new PtyQueues.Queued(ModelFields.readByteArrays(in, MAX_LINES, MAX_BYTES, "PtyMaster.lines"),
                        ModelFields.readBytes(in, MAX_BYTES, "PtyMaster.pending"),
                        ModelFields.readBytes(in, MAX_BYTES, "PtyMaster.output")), in.readBoolean());
    }

    @Override
    public String kind() {
        return "pseudo-terminal master";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<PtyMaster> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return Ptys.isMasterTarget(fd.target());
    }

    @Override
    public PtyMaster dump(FdProbe fd, DumpContext ctx) {
        int index = Ptys.masterIndex(fd);
        long instance;
        try (Fd own = Ptys.copy(fd.pid(), fd.fd())) {
            instance = Ptys.instance(own);
        }
        String pts = "/dev/pts/" + index + (instance == 0 ? "" : " of devpts " + Ptys.device(instance));
        List<Ptys.End> ends = ctx.ptyEnds().of(instance, index);
        for (Ptys.End e : ends) {
            if (!ctx.inTree(e.pid())) {
                throw new DumpException(fd.where() + ": pseudo-terminal " + pts + " (master " + fd.target()
                        + ") is also open in pid " + e.pid() + " fd " + e.fd() + ", outside the tree; a pty is carried"
                        + " only when every process holding it is dumped with it");
            }
        }
        Ptys.InstanceMount mount = instance == 0 ? new Ptys.InstanceMount(0, "")
                : Ptys.mountOf(instance, ends, fd.where() + ": pseudo-terminal " + pts, ctx);
        Fd master = Ptys.copy(fd.pid(), fd.fd());
        int session = Terminals.session(master);
        if (session > 0 && !ctx.inTree(session)) {
            master.close();
            throw new DumpException(fd.where() + ": pseudo-terminal " + pts + " is the controlling terminal of session "
                    + session + ", outside the tree; dump that session with it");
        }
        Fd slave = null;
        try {
            boolean slaveExclusive = false;
            for (Ptys.End e : ends) {
                if (!e.master()) {
                    slave = Ptys.copy(Pid.of(e.pid()), e.fd());
                    slaveExclusive = Terminals.exclusive(slave);
                    break;
                }
            }
            int[] node = node(master, pts);
            checkLineDiscipline(master, "master", fd, pts);
            if (slave != null) {
                checkLineDiscipline(slave, "slave", fd, pts);
            }
            byte[] termios = Terminals.termios(master);
            boolean packet = Terminals.packetMode(master);
            byte[] lockedTermios = Terminals.lockedTermios(master);
            boolean slaveClosed = Terminals.slaveClosed(master);
            if (slave == null && slaveClosed) {
                // what the master wrote since waits for the next slave: opened to be read, its close
                // leaves the pair closed as it was (a slave never opened cannot be opened unseen)
                slave = openSlave(master);
            }
            PtyQueues.Queued queued = PtyQueues.take(master, slave, termios, packet, fd.where() + ": pseudo-terminal " + pts);
            PtyMaster p = new PtyMaster(index, termios, Terminals.winsize(master), packet, Terminals.locked(master),
                    Terminals.exclusive(master), slaveExclusive, slaveClosed, lockedTermios, node[0], node[1], node[2],
                    queued, PtyQueues.outputStopped(slave), instance, mount.maker(), mount.point(), session,
                    fd.target());
            if (!queued.isEmpty()) { // the tree gets them back if it runs on
                ctx.ttyBytes().hold(master, slave, termios, queued);
                master = null;
                slave = null;
            }
            return p;
        } finally {
            if (master != null) {
                master.close();
            }
            if (slave != null) {
                slave.close();
            }
        }
    }

    /** Only n_tty is carried: another discipline (slip, ppp, hdlc, n_null...) holds state of its own. */
    private static void checkLineDiscipline(Fd side, String which, FdProbe fd, String pts) {
        int ldisc = Terminals.lineDiscipline(side);
        if (ldisc != Terminals.N_TTY) {
            throw new DumpException(fd.where() + ": pseudo-terminal " + pts + ": its " + which + " runs line discipline "
                    + ldisc + " (see /proc/tty/ldiscs), not n_tty; other line disciplines are not supported yet");
        }
    }

    /** A new open file of the slave, the pair's lock lifted meanwhile. */
    private static Fd openSlave(Fd master) {
        boolean locked = Terminals.locked(master);
        if (locked) {
            Terminals.locked(master, false);
        }
        try {
            return Terminals.peer(master, O_RDWR | O_NONBLOCK);
        } finally {
            if (locked) {
                Terminals.locked(master, true);
            }
        }
    }

    /** Owner, group and permission bits of the slave's devpts node, through an O_PATH peer (any instance's). */
    private static int[] node(Fd master, String pts) {
        try (Fd peer = Terminals.peer(master, dev.cryo.kernel.Fcntl.O_PATH | dev.cryo.kernel.Fcntl.O_CLOEXEC)) {
            Map<String, Object> a = java.nio.file.Files.readAttributes(java.nio.file.Path.of("/proc/self/fd/"
                    + peer.value()), "unix:uid,gid,mode");
            return new int[] {(Integer) a.get("uid"), (Integer) a.get("gid"), (Integer) a.get("mode") & 07777};
        } catch (java.io.IOException e) {
            throw new DumpException("pseudo-terminal " + pts + ": its node cannot be read: " + e.getMessage());
        }
    }

    /** Takes the master cryo opened with the dumped flags (same index when it was free). */
    @Override
    public long restore(FdImage fd, PtyMaster p, RestoreContext ctx) {
        return ctx.take((int) ProcessHandle.current().pid(), ctx.ptyMaster(p.instance(), p.index()));
    }

    @Override
    public void show(PtyMaster p, Map<String, Object> m) {
        m.put("kind", "pty-master");
        m.put("index", p.index());
        m.put("termios", HexFormat.of().formatHex(p.termios()));
        m.put("winsize", HexFormat.of().formatHex(p.winsize()));
        m.put("packetMode", p.packetMode());
        m.put("locked", p.locked());
        m.put("masterExclusive", p.masterExclusive());
        m.put("slaveExclusive", p.slaveExclusive());
        m.put("slaveClosed", p.slaveClosed());
        m.put("lockedTermios", HexFormat.of().formatHex(p.lockedTermios()));
        m.put("slaveNode", Map.of("uid", p.slaveUid(), "gid", p.slaveGid(), "mode", "0" + Integer.toOctalString(p.slaveMode())));
        m.put("inputLines", p.queued().lines().stream().map(PtyMasterHandler::text).toList());
        m.put("inputPending", text(p.queued().pending()));
        m.put("output", text(p.queued().output()));
        m.put("outputStopped", p.outputStopped());
        if (p.instance() != 0) {
            m.put("devpts", Map.of("device", Ptys.device(p.instance()), "maker", p.maker(), "mount", p.mount()));
        }
        if (p.session() > 0) {
            m.put("session", p.session());
        }
        if (!p.path().isEmpty()) {
            m.put("path", p.path());
        }
    }

    /** Bytes as text: printable ASCII as is, the rest as \\xNN. */
    static String text(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            if (x >= 32 && x < 127 && x != '\\') {
                s.append((char) x);
            } else {
                s.append(String.format("\\x%02x", x & 0xff));
            }
        }
        return s.toString();
    }
}
