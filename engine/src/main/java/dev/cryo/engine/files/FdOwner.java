package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import static dev.cryo.kernel.Fcntl.F_GETSIG;
import static dev.cryo.kernel.Fcntl.F_OWNER_PGRP;
import static dev.cryo.kernel.Fcntl.F_OWNER_PID;
import static dev.cryo.kernel.Fcntl.F_OWNER_TID;
import static dev.cryo.kernel.Fcntl.F_SETOWN_EX;
import static dev.cryo.kernel.Fcntl.F_SETSIG;
import static dev.cryo.kernel.Fcntl.O_ASYNC;

/**
 * Who gets the SIGIO/SIGURG of an open file (F_SETOWN_EX: a thread, a process or a process
 * group) and which signal it is (F_SETSIG), with O_ASYNC: state of the open file description
 * that /proc does not show. nginx, for one, sets its master as the owner of its channels with
 * FIOASYNC. Read at dump time through a duplicate of the fd (pidfd_getfd), set again on restore.
 */
public record FdOwner(int type, int pid, int signal) {

    /**
     * The owner of fd {@code fd} of a frozen task, or null when none is set. Only files that can
     * send such signals are asked: those with O_ASYNC, and sockets (SIGURG).
     */
    public static FdOwner probe(Pid pid, int fd, int flags, String target) {
        if ((flags & O_ASYNC) == 0 && !target.startsWith("socket:")) {
            return null;
        }
        return read(pid, fd);
    }

    /** The owner of fd {@code fd} of a frozen task, whatever its kind, or null when none is set. */
    public static FdOwner read(Pid pid, int fd) {
        try (Fd pidfd = Sys.pidfdOpen(pid); Fd dup = Sys.pidfdGetfd(pidfd, pid, fd)) {
            return of(dup, pid, fd);
        } catch (KernelException e) {
            return null; // gone
        }
    }

    /** The owner of {@code copy}, cryo's copy of fd {@code fd} of {@code pid}, or null when none is set. */
    static FdOwner of(Fd copy, Pid pid, int fd) {
        try {
            int[] ex = Sys.getOwnerEx(copy);
            int sig = (int) Sys.call(() -> "fcntl(pid " + pid + " fd " + fd + ", F_GETSIG)", SyscallNr.FCNTL,
                    copy.value(), F_GETSIG, 0, 0);
            FdOwner o = new FdOwner(ex[0], ex[1], sig);
            return o.pid() == 0 && o.signal() == 0 ? null : o;
        } catch (KernelException e) {
            return null; // a file kind without fcntl owners
        }
    }

    /**
     * For an owner that is a thread other than its process's main one, that process's pid; 0 for
     * a process, a process group or a main thread. A restore makes threads after the files, so such
     * an owner can be given back only by its own process, once its threads exist.
     */
    public int threadOf() {
        if (type != F_OWNER_TID || pid == 0) {
            return 0;
        }
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/status"))) {
                if (line.startsWith("Tgid:")) {
                    int tgid = Integer.parseInt(line.substring(5).trim());
                    return tgid == pid ? 0 : tgid;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return 0; // gone: a restore sets it as it would any other owner, and says so if it cannot
        }
        return 0;
    }

    /** The struct f_owner_ex F_SETOWN_EX takes. */
    public byte[] ownerEx() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return b.putInt(type).putInt(pid).array();
    }

    @Override
    public String toString() {
        String who = switch (type) {
            case F_OWNER_TID -> "tid ";
            case F_OWNER_PGRP -> "process group ";
            default -> "pid ";
        };
        return (pid == 0 ? "no owner" : who + pid) + (signal == 0 ? "" : ", signal " + signal);
    }
}
