package dev.cryo.engine.restore;

import dev.cryo.engine.files.PtySlaveHandler.PtySlave;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.Terminals;
import dev.cryo.kernel.proc.ProcFs;

import java.util.Set;
import java.util.function.Consumer;

import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_NOCTTY;
import static dev.cryo.kernel.Fcntl.O_RDWR;

/**
 * A shell job (--shell-job) that was its terminal's foreground job at dump gets the foreground
 * back when it is restored from that same terminal: the job lands in the restorer's session and,
 * leading its own group as a shell's jobs do, in a group of its own, which would be a background
 * group there — its first read of the terminal would stop it (SIGTTIN) and the user could not
 * reach it, as the shell waits for cryo, not for the job. The restorer, the terminal's foreground
 * group as the shell started it, sets the terminal modes the job had (the shell put its own back
 * when the dump killed the job) and hands the foreground over (TIOCSPGRP) before the job runs. A
 * restorer in the background or on another terminal (or none) leaves it as it is, with a warning.
 */
public final class ShellJobForeground {
    private ShellJobForeground() {}

    /** Before RESUME; {@code treePids} are the restored tasks. */
    public static void give(TaskImage task, Set<Integer> treePids, Consumer<String> warn) {
        TaskIds root = task.ids();
        int group = root.tpgid();
        if (root.ttyNr() == 0 || !Terminals.isPtySlave(root.ttyNr()) || treePids.contains(root.sid())
                || group <= 0 || !treePids.contains(group)) {
            return; // no terminal, the tree's own (ControllingTerminal), or the job was in the background
        }
        String tty = "/dev/pts/" + Terminals.slaveIndex(root.ttyNr());
        Fd fd;
        try {
            fd = Sys.open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        } catch (KernelException noTerminal) {
            warn.accept("pid " + root.pid() + " was the foreground job of " + tty
                    + "; cryo runs on no terminal, so it stays in the background");
            return;
        }
        try (fd) {
            var self = ProcFs.stat(Pid.of((int) ProcessHandle.current().pid()));
            if (self.ttyNr() != root.ttyNr()) {
                warn.accept("pid " + root.pid() + " was the foreground job of " + tty + "; cryo runs on another "
                        + "terminal, so it stays in the background");
            } else if (Terminals.foreground(fd) != self.pgrp()) {
                warn.accept("pid " + root.pid() + " was the foreground job of " + tty
                        + "; cryo runs in the background there, so it stays in the background");
            } else {
                byte[] modes = modes(task, Terminals.slaveIndex(root.ttyNr()));
                if (modes.length == Terminals.TERMIOS2_SIZE) {
                    Terminals.termios(fd, modes); // the job's modes (raw for an editor, no echo for readline...)
                }
                Terminals.foreground(fd, group);
            }
        } catch (KernelException e) {
            warn.accept("pid " + root.pid() + ": cannot give it the foreground of " + tty + " back: " + e.getMessage());
        }
    }

    /** The terminal's modes as the job's fds on it saw them at dump, or empty. */
    private static byte[] modes(TaskImage task, int index) {
        for (FdImage f : task.fds()) {
            if (f.desc() instanceof PtySlave s && s.external() && s.index() == index && s.termios().length > 0) {
                return s.termios();
            }
        }
        return new byte[0];
    }
}
