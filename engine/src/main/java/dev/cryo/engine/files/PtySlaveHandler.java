package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.Terminals;

import java.io.IOException;
import java.util.Map;

import static dev.cryo.kernel.Fcntl.O_CLOEXEC;

/**
 * The slave end of a pseudo-terminal (/dev/pts/N). When the tree holds its master, restore gives
 * the task a new open file of the restored pair's slave (TIOCGPTPEER on cryo's master, so the
 * flags are exactly the dumped ones and the link follows the pair if it got another index).
 * Otherwise the terminal is outside the tree: refused, or with --shell-job ({@code external})
 * opened again from its master (whoever holds it on this host) with the dumped flags, or by its
 * path when no master is found, the terminal cryo's user runs on. A slave whose master every
 * process closed ({@code hungUp}: devpts removed its node, reads give end of file, writes EIO) is
 * made as a slave of a new pair whose master cryo closes once the tasks hold theirs, which hangs
 * it up again (zdtm pty04: a program that outlived its terminal), in its devpts instance: a container's
 * own is reached through its mount once the task that made its mount namespace has mounted it again.
 */
public final class PtySlaveHandler implements FdHandler<PtySlaveHandler.PtySlave> {
    public static final int TAG = 61, RECORD_ID = 251;

    /**
     * {@code index}: the pty; {@code path}: the link; {@code external}: the master is outside the tree
     * (shell job); {@code termios}: then the terminal's modes at dump (TCGETS2), which the job set if it
     * was the foreground job (a shell gives it the terminal back with its own modes once the dump kills
     * it; {@link dev.cryo.engine.restore.ShellJobForeground} sets them again), else empty;
     * {@code instance}: its devpts instance, as {@link PtyMasterHandler.PtyMaster#instance} (0: the host's);
     * {@code hungUp}: its master was closed by every process (not external); of an instance of the tree's own
     * (version 4), mounted at {@code mount} in the mount namespace {@code maker} made, as a
     * {@link PtyMasterHandler.PtyMaster}'s (maker 0: cryo's).
     */
    public record PtySlave(int index, String path, boolean external, byte[] termios, long instance, boolean hungUp,
                           int maker, String mount) implements FileDesc {
        public PtySlave(int index, String path, boolean external, byte[] termios, long instance, boolean hungUp) {
            this(index, path, external, termios, instance, hungUp, 0, "");
        }

        public PtySlave(int index, String path, boolean external) {
            this(index, path, external, new byte[0], 0, false);
        }

        public PtySlave(int index, String path, boolean external, byte[] termios) {
            this(index, path, external, termios, 0, false);
        }

        public PtySlave(int index, String path, boolean external, byte[] termios, long instance) {
            this(index, path, external, termios, instance, false);
        }
    }

    static final RecordCodec<PtySlave> CODEC = RecordCodec.of(PtySlave.class, RECORD_ID, 4, (out, s) -> {
        out.writeVarInt(s.index(), true);
        ModelFields.writeText(out, s.path(), ModelLimits.PATH, "PtySlave.path");
        out.writeBoolean(s.external());
        ModelFields.writeBytes(out, s.termios(), Terminals.TERMIOS2_SIZE, "PtySlave.termios");
        out.writeVarLong(s.instance(), true); // version 2
        out.writeBoolean(s.hungUp()); // version 3
        out.writeVarInt(s.maker(), true); // version 4
        ModelFields.writeText(out, s.mount(), ModelLimits.PATH, "PtySlave.mount");
    }, (in, version) -> new PtySlave(in.readVarInt(true), ModelFields.readText(in, ModelLimits.PATH, "PtySlave.path"),
            in.readBoolean(), ModelFields.readBytes(in, Terminals.TERMIOS2_SIZE, "PtySlave.termios"),
            version < 2 ? 0 : in.readVarLong(true), version >= 3 && in.readBoolean(), version < 4 ? 0 : in.readVarInt(true),
            version < 4 ? "" : ModelFields.readText(in, ModelLimits.PATH, "PtySlave.mount")));

    @Override
    public String kind() {
        return "pseudo-terminal slave";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<PtySlave> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) throws IOException {
        return fd.target().startsWith("/") && FileIdentity.isCharDevice(fd.procPath())
                && Terminals.isPtySlave(FileIdentity.rdev(fd.procPath()));
    }

    @Override
    public PtySlave dump(FdProbe fd, DumpContext ctx) throws IOException {
        int index = Terminals.slaveIndex(FileIdentity.rdev(fd.procPath()));
        long instance = Ptys.instance(fd.procPath());
        java.util.List<Ptys.End> ends = ctx.ptyEnds().of(instance, index);
        boolean masterInTree = ends.stream().anyMatch(e -> e.master() && ctx.inTree(e.pid()));
        // its master every process closed: devpts removed its node (its index stays taken while a
        // slave is open, so no new pair of the tree has it); no terminal left to take along
        boolean hungUp = !masterInTree && fd.target().endsWith(" (deleted)") && ends.stream().noneMatch(Ptys.End::master);
        if (hungUp && instance != 0) { // a container's own devpts (zdtm's pty04 in the ns flavor)
            Ptys.InstanceMount m = Ptys.mountOf(instance, ends, fd.where() + ": pseudo-terminal " + fd.target(), ctx);
            return new PtySlave(index, fd.target(), false, new byte[0], instance, true, m.maker(), m.point());
        }
        if (!masterInTree && instance != 0) {
            // --shell-job reopens the terminal cryo's user runs on, a pty of the host's devpts
            String holder = ends.stream().filter(Ptys.End::master).findFirst().map(e -> " (" + Ptys.named(e)
                    + ", a container manager's console?)").orElse("");
            throw new DumpException(fd.where() + ": terminal " + fd.target() + Ptys.ofItsOwn(instance)
                    + " has its master outside the tree" + holder + "; dump the process holding the master with it");
        }
        if (!masterInTree && fd.target().endsWith(" (deleted)")) {
            return new PtySlave(index, fd.target(), false, new byte[0], 0, true);
        }
        if (!masterInTree && !ctx.shellJob()) {
            String whose = whose(fd, index, ctx);
            throw new DumpException(fd.where() + ": terminal " + fd.target() + " is open" + (whose.isEmpty()
                    ? "; dump with --shell-job to take the terminal along"
                    : " and is not its controlling terminal but that of session " + whose + " outside the tree (a "
                    + "client attached from there?): detach that client first, or dump with --shell-job to take the "
                    + "terminal along"));
        }
        return masterInTree ? new PtySlave(index, fd.target(), false, new byte[0], instance)
                : new PtySlave(index, fd.target(), true, modes(fd));
    }

    /**
     * When the terminal is not the task's controlling terminal (a multiplexer's server holds the
     * terminal of a client attached from outside the tree: screen, tmux), the session it belongs
     * to, so the user knows which client to detach first.
     */
    private static String whose(FdProbe fd, int index, DumpContext ctx) {
        try {
            if (ProcFs.stat(fd.pid()).ttyNr() == (int) Terminals.slaveDevice(index)) {
                return "";
            }
            int outside = Ptys.sessionOutside(index, ctx);
            if (outside < 0) {
                return "";
            }
            var st = ProcFs.stat(Pid.of(outside));
            String leader = st.session() == outside ? st.comm() : ProcFs.stat(Pid.of(st.session())).comm();
            return st.session() + " (" + leader + ")";
        } catch (RuntimeException gone) {
            return "";
        }
    }

    /** The terminal's termios, read through a copy of the task's fd; empty if it cannot be read. */
    private static byte[] modes(FdProbe fd) {
        try (Fd copy = Ptys.copy(fd.pid(), fd.fd())) {
            return Terminals.termios(copy);
        } catch (RuntimeException e) {
            return new byte[0];
        }
    }

    @Override
    public long restore(FdImage fd, PtySlave s, RestoreContext ctx) {
        if (s.hungUp()) {
            return ctx.take((int) ProcessHandle.current().pid(), ctx.hungUpPtySlave(s.instance(), s.index(),
                    fd.flags() & ~O_CLOEXEC));
        }
        if (s.external()) {
            // a new open file made from the terminal's master, where one is open on this host, has
            // exactly the dumped flags (a reopen by path always adds O_LARGEFILE, which openpty's slaves lack)
            try (Fd peer = Ptys.outsidePeer(s.index(), fd.flags() & ~O_CLOEXEC)) {
                if (peer != null) {
                    return ctx.take((int) ProcessHandle.current().pid(), peer.value());
                }
            }
            return ctx.open(s.path(), FdHandlers.openFlags(fd) | Fcntl.O_NOCTTY);
        }
        return ctx.take((int) ProcessHandle.current().pid(), ctx.ptySlave(s.instance(), s.index(), fd.flags() & ~O_CLOEXEC));
    }

    @Override
    public void show(PtySlave s, Map<String, Object> m) {
        m.put("kind", "pty-slave");
        m.put("index", s.index());
        m.put("path", s.path());
        m.put("external", s.external());
        if (s.hungUp()) {
            m.put("hungUp", true);
        }
        if (s.instance() != 0 && s.hungUp()) {
            m.put("devpts", Map.of("device", Ptys.device(s.instance()), "maker", s.maker(), "mount", s.mount()));
        } else if (s.instance() != 0) {
            m.put("devpts", Ptys.device(s.instance()));
        }
        if (s.termios().length > 0) {
            m.put("termios", java.util.HexFormat.of().formatHex(s.termios()));
        }
    }
}
