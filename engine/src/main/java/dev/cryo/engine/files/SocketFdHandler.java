package dev.cryo.engine.files;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;

/**
 * The handler of a socket kind cryo rebuilds in its {@link SocketHub} (made, its queues filled,
 * connected) before the task takes it: the task's fd is then cryo's socket, planted alone or handed
 * in with a run of others.
 */
public interface SocketFdHandler<D extends FileDesc> extends FdHandler<D>, SocketHub.Kind<D> {
    @Override
    default long restore(FdImage fd, D desc, RestoreContext ctx) {
        return ctx.plantSocket(ino(desc), fd.flags());
    }

    @Override
    default Fd handedIn(FdImage fd, D desc, RestoreContext ctx) {
        return ctx.socketHandedIn(ino(desc), fd.flags());
    }
}
