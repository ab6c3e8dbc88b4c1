package dev.cryo.engine.restore.stage;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.restore.PtyHub;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Terminals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.cryo.kernel.Fcntl.O_RDWR;

/**
 * A session leader whose controlling terminal was a pty of the tree takes it back: at ADOPT,
 * before it forks its children ({@link #take}: TIOCSCTTY on a slave it opens for the moment; a
 * process's controlling terminal is its own, inherited at fork, so members forked earlier would
 * have none), then in the first FILES pass, once every group exists, gives the terminal its
 * foreground process group ({@link #foreground}: TIOCSPGRP). Slaves are opened with O_NOCTTY
 * everywhere, so no other open makes a terminal controlling by accident, and the {@code /dev/tty}
 * fds of the session are opened in a later pass. A terminal outside the tree (a shell job's) is
 * not taken: the job stays in cryo's session.
 */
public final class ControllingTerminal {

    private ControllingTerminal() {}

    /** ADOPT: TIOCSCTTY in a session leader whose terminal the hub reopened. */
    public static void take(TaskContext t, PtyHub ptys) {
        PtyHub.Terminal tty = terminal(t, ptys);
        if (tty != null) {
            onSlave(t, ptys, tty, fd -> t.call("ioctl(" + tty.slavePath() + ", TIOCSCTTY)", SyscallNr.IOCTL,
                    fd, Terminals.TIOCSCTTY, 0));
        }
    }

    /**
     * FILES, once its own fds are open: a session leader whose controlling terminal was a virtual
     * console (zdtm's vt) takes it on its fd of it (TIOCSCTTY; its group is the foreground then, as the
     * dump required). On that fd, held open: the last close of a console clears its session, so one
     * opened for the moment would not do. The dump let it through only with no other task of the tree
     * in that session (none forked before this would have it) and an fd of the console held by the
     * leader (CharDeviceHandler.sessionTakesBack).
     */
    public static void takeVirtualConsole(TaskContext t) {
        TaskIds ids = t.task().ids();
        if (ids.sid() != ids.pid() || !Terminals.isVirtualConsole(ids.ttyNr())) {
            return;
        }
        t.task().fds().stream().filter(f -> f.desc() instanceof dev.cryo.engine.files.CharDeviceHandler.CharDevice c
                        && c.tty() && dev.cryo.engine.files.CharDeviceHandler.sameDevice(c.rdev(), ids.ttyNr()))
                .findFirst().ifPresent(f -> t.call("ioctl(fd " + f.fd() + ", TIOCSCTTY)", SyscallNr.IOCTL, f.fd(),
                        Terminals.TIOCSCTTY, 0));
    }

    /** FILES, first pass: TIOCSPGRP with the dumped foreground group when the tree holds it. */
    public static void foreground(TaskContext t, PtyHub ptys) {
        PtyHub.Terminal tty = terminal(t, ptys);
        TaskIds ids = t.task().ids();
        if (tty != null && ids.tpgid() > 0 && ids.tpgid() != ids.pgid() && t.treePids().contains(ids.tpgid())) {
            long at = t.put(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(ids.tpgid()).array());
            onSlave(t, ptys, tty, fd -> t.call("ioctl(" + tty.slavePath() + ", TIOCSPGRP " + ids.tpgid() + ")",
                    SyscallNr.IOCTL, fd, Terminals.TIOCSPGRP, at));
        }
    }

    /**
     * The reopened pty that was the task's controlling terminal when it leads the session (the pair
     * whose session it is: every devpts instance has its own /dev/pts/N), else null.
     */
    private static PtyHub.Terminal terminal(TaskContext t, PtyHub ptys) {
        TaskIds ids = t.task().ids();
        if (ptys == null || ids.sid() != ids.pid() || ids.ttyNr() == 0 || !Terminals.isPtySlave(ids.ttyNr())) {
            return null;
        }
        return ptys.controllingTerminalOf(ids.sid(), Terminals.slaveIndex(ids.ttyNr()));
    }

    private static void onSlave(TaskContext t, PtyHub ptys, PtyHub.Terminal tty, java.util.function.LongConsumer call) {
        long fd = FileRestore.take(t, (int) ProcessHandle.current().pid(), ptys.slave(tty.instance(), tty.index(), O_RDWR));
        try {
            call.accept(fd);
        } finally {
            t.call("close", SyscallNr.CLOSE, fd);
        }
    }
}
