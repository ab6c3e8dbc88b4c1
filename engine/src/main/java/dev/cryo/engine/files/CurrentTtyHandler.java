package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Terminals;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.util.Map;

/**
 * /dev/tty: the task's controlling terminal, whichever it is. Carried when that terminal is a
 * pty of the tree (its session leader takes it back first) or with --shell-job; reopened by path
 * in the late pass, once every session has its controlling terminal again.
 */
public final class CurrentTtyHandler implements FdHandler<CurrentTtyHandler.CurrentTty> {
    public static final int TAG = 62, RECORD_ID = 252;

    /** {@code ttyNr}: the controlling terminal the fd reached at dump (stat's tty_nr), for show. */
    public record CurrentTty(int ttyNr) implements FileDesc {}

    static final RecordCodec<CurrentTty> CODEC = RecordCodec.of(CurrentTty.class, RECORD_ID, 1,
            (out, c) -> out.writeVarInt(c.ttyNr(), true), (in, version) -> new CurrentTty(in.readVarInt(true)));

    @Override
    public String kind() {
        return "controlling terminal (/dev/tty)";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<CurrentTty> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) throws IOException {
        return FileIdentity.isDevice(fd, Terminals.TTYAUX_MAJOR, 0);
    }

    @Override
    public CurrentTty dump(FdProbe fd, DumpContext ctx) {
        Pid holder = InFlightFiles.receiverOf(fd);
        var stat = ProcFs.stat(holder);
        int tty = stat.ttyNr();
        int reaches = reached(fd);
        if (reaches != tty) { // opened elsewhere, or before a setsid: /dev/tty opened again would reach another one
            throw new DumpException(fd.where() + ": " + fd.target() + " reaches terminal " + Terminals.name(reaches)
                    + ", not the controlling terminal (" + Terminals.name(tty) + ") of pid " + holder
                    + (holder.equals(fd.pid()) ? "" : ", which receives it in flight") + "; not supported (a restore opens"
                    + " /dev/tty again there, which reaches the opener's controlling terminal)");
        }
        boolean ours = tty != 0 && Terminals.isPtySlave(tty)
                && Ptys.treeMasterOf(stat.session(), Terminals.slaveIndex(tty), ctx) != null;
        if (!ours && !ctx.shellJob()) {
            throw new DumpException(fd.where() + ": terminal " + fd.target()
                    + " is open; dump with --shell-job to take the terminal along");
        }
        return new CurrentTty(tty);
    }

    /** The terminal the open file reaches (TIOCGDEV through a copy of it), as stat's tty_nr numbers it. */
    private static int reached(FdProbe fd) {
        try (dev.cryo.kernel.Fd pidfd = dev.cryo.kernel.Sys.pidfdOpen(fd.pid());
             dev.cryo.kernel.Fd copy = dev.cryo.kernel.Sys.pidfdGetfd(pidfd, fd.pid(), fd.fd())) {
            return Terminals.device(copy);
        }
    }

    @Override
    public long restore(FdImage fd, CurrentTty c, RestoreContext ctx) {
        return ctx.open("/dev/tty", FdHandlers.openFlags(fd) | Fcntl.O_NOCTTY);
    }

    @Override
    public boolean restoresLast() {
        return true; // after the session leaders took their terminals back (FILES, first pass)
    }

    @Override
    public void show(CurrentTty c, Map<String, Object> m) {
        m.put("kind", "current-tty");
        m.put("ttyNr", dev.cryo.engine.show.ShowFormat.hex(c.ttyNr()));
    }
}
