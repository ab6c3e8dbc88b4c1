package dev.cryo.engine.files;

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
 * multiplexer), with the pair's state: termios (TCGETS2), window size, packet mode, the lock of the
 * slave, and the exclusive mode of either end. Every other holder of either end must be in the
 * tree too, and no byte may sit unread in the pair (tty buffers cannot be read without taking the
 * bytes, so such a dump is refused). Restore ({@code PtyHub}) opens /dev/ptmx again until it gets
 * the dumped index (CRIU tries the same); the task takes cryo's open file.
 */
public final class PtyMasterHandler implements FdHandler<PtyMasterHandler.PtyMaster> {
    public static final int TAG = 60, RECORD_ID = 250;

    /**
     * One pty pair, carried by its master's open file. {@code slaveClosed}: every slave was closed
     * after one had been opened (the master reads EIO until a slave is opened again).
     */
    public record PtyMaster(int index, byte[] termios, byte[] winsize, boolean packetMode, boolean locked,
                            boolean masterExclusive, boolean slaveExclusive, boolean slaveClosed) implements FileDesc {}

    static final RecordCodec<PtyMaster> CODEC = RecordCodec.of(PtyMaster.class, RECORD_ID, 1, (out, p) -> {
        out.writeVarInt(p.index(), true);
        ModelFields.writeBytes(out, p.termios(), Terminals.TERMIOS2_SIZE, "PtyMaster.termios");
        ModelFields.writeBytes(out, p.winsize(), Terminals.WINSIZE_SIZE, "PtyMaster.winsize");
        out.writeBoolean(p.packetMode());
        out.writeBoolean(p.locked());
        out.writeBoolean(p.masterExclusive());
        out.writeBoolean(p.slaveExclusive());
        out.writeBoolean(p.slaveClosed());
    }, (in, version) -> new PtyMaster(in.readVarInt(true),
            ModelFields.readBytes(in, Terminals.TERMIOS2_SIZE, "PtyMaster.termios"),
            ModelFields.readBytes(in, Terminals.WINSIZE_SIZE, "PtyMaster.winsize"),
            in.readBoolean(), in.readBoolean(), in.readBoolean(), in.readBoolean(), in.readBoolean()));

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
        String pts = "/dev/pts/" + index;
        List<Ptys.End> ends = Ptys.ends(index);
        for (Ptys.End e : ends) {
            if (!ctx.inTree(e.pid())) {
                throw new DumpException(fd.where() + ": pseudo-terminal " + pts + " (master " + fd.target()
                        + ") is also open in pid " + e.pid() + " fd " + e.fd() + ", outside the tree; a pty is carried"
                        + " only when every process holding it is dumped with it");
            }
        }
        int session = Ptys.sessionOutside(index, ctx);
        if (session > 0) {
            throw new DumpException(fd.where() + ": pseudo-terminal " + pts + " is the controlling terminal of pid "
                    + session + ", outside the tree; dump that session with it");
        }
        try (Fd master = Ptys.copy(fd.pid(), fd.fd())) {
            int unread = Terminals.unread(master);
            if (unread > 0) {
                throw unread(fd, pts, unread, "its master has not read");
            }
            boolean slaveExclusive = false;
            for (Ptys.End e : ends) {
                if (!e.master()) {
                    try (Fd slave = Ptys.copy(Pid.of(e.pid()), e.fd())) {
                        int waiting = Terminals.unread(slave);
                        if (waiting > 0) {
                            throw unread(fd, pts, waiting, "pid " + e.pid() + " has not read from its slave");
                        }
                        slaveExclusive = Terminals.exclusive(slave);
                    }
                    break;
                }
            }
            return new PtyMaster(index, Terminals.termios(master), Terminals.winsize(master),
                    Terminals.packetMode(master), Terminals.locked(master), Terminals.exclusive(master), slaveExclusive,
                    Terminals.slaveClosed(master));
        }
    }

    private static DumpException unread(FdProbe fd, String pts, int bytes, String who) {
        return new DumpException(fd.where() + ": pseudo-terminal " + pts + " holds " + bytes + " bytes " + who
                + "; bytes in a terminal's buffers cannot be read without taking them, so cryo does not carry them:"
                + " dump again once they are read");
    }

    /** Takes the master cryo opened with the dumped flags (same index when it was free). */
    @Override
    public long restore(FdImage fd, PtyMaster p, RestoreContext ctx) {
        return ctx.take((int) ProcessHandle.current().pid(), ctx.ptyMaster(p.index()));
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
    }
}
