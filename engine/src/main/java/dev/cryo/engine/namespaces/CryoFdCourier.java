package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.FdDelivery;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Fd;

/**
 * Hands a file cryo made (a pipe end, a memfd, a socket, a pty) to a task inside a user namespace
 * of the tree. Such a task cannot take it itself: pidfd_getfd and /proc/CRYO/fd/N need ptrace
 * rights over cryo, which it has nowhere outside its namespace; {@link FdDelivery} sends it over a
 * unix socket instead.
 */
public final class CryoFdCourier {
    private CryoFdCourier() {}

    /** cryo's fd {@code fd} as a new fd of task {@code t} (close-on-exec set); returns its number there. */
    public static long deliver(TaskContext t, int fd) {
        try (Fd sender = FdDelivery.senderFor(t.pid().value())) {
            return FdDelivery.deliver(t.remote(), sender, new Fd(fd), "cryo's fd " + fd);
        }
    }
}
