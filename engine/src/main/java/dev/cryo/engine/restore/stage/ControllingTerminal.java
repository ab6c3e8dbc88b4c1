package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.restore.PtyHub;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Terminals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A session leader whose controlling terminal was a pty of the tree takes it back (TIOCSCTTY on a
 * slave it opens for the moment) and gives the terminal its foreground process group (TIOCSPGRP).
 * Runs in the first FILES pass: every session and group leader made its own at ADOPT, and the
 * {@code /dev/tty} fds of the session are opened in a later pass. Slaves are opened with
 * O_NOCTTY everywhere, so no other open makes a terminal controlling by accident. A terminal
 * outside the tree (a shell job's) is not taken: the job stays in cryo's session.
 */
public final class ControllingTerminal {
    private ControllingTerminal() {}

    public static void take(TaskContext t, PtyHub ptys) {
        TaskIds ids = t.task().ids();
        if (ids.sid() != ids.pid() || ids.ttyNr() == 0 || !Terminals.isPtySlave(ids.ttyNr())) {
            return;
        }
        int index = Terminals.slaveIndex(ids.ttyNr());
        if (!ptys.has(index)) {
            return;
        }
        int mine = ptys.slave(index, 2 /* O_RDWR */);
        long fd = FileRestore.take(t, (int) ProcessHandle.current().pid(), mine);
        try {
            t.call("ioctl(" + ptys.slavePath(index) + ", TIOCSCTTY)", SyscallNr.IOCTL, fd, Terminals.TIOCSCTTY, 0);
            if (ids.tpgid() > 0 && t.treePids().contains(ids.tpgid())) {
                long at = t.put(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(ids.tpgid()).array());
                t.call("ioctl(" + ptys.slavePath(index) + ", TIOCSPGRP " + ids.tpgid() + ")", SyscallNr.IOCTL, fd,
                        Terminals.TIOCSPGRP, at);
            }
        } finally {
            t.call("close", SyscallNr.CLOSE, fd);
        }
    }
}
