package dev.cryo.engine.restore.stage;

import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.restore.PipeHub;
import dev.cryo.kernel.SyscallNr;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * FILES: closes the stub's fds and recreates every dumped fd at its number through its kind's
 * handler ({@link FdHandlers}); kinds that refer to other fds (epoll) come last.
 */
public final class FileRestore {
    private static final int O_CLOEXEC = 02000000;

    private FileRestore() {}

    public static void run(TaskContext t, PipeHub pipes) {
        t.call("close_range", SyscallNr.CLOSE_RANGE, 0, 0xffffffffL, 0);
        FdHandler.RestoreContext ctx = new FdHandler.RestoreContext() {
            @Override
            public long open(String path, int flags) {
                return t.open(path, flags);
            }

            @Override
            public long call(String name, int nr, long... args) {
                return t.call(name, nr, args);
            }

            @Override
            public long put(byte[] data) {
                return t.put(data);
            }

            @Override
            public String pipePath(long pipeId, boolean readEnd) {
                return pipes.path(pipeId, readEnd);
            }
        };
        List<FdImage> ordered = new ArrayList<>(t.task().fds());
        ordered.sort(Comparator.comparing(fd -> FdHandlers.of(fd.desc()).restoresLast()));
        for (FdImage fd : ordered) {
            long tmp = FdHandlers.restore(fd, ctx);
            if (tmp != fd.fd()) {
                t.call("dup3", SyscallNr.DUP3, tmp, fd.fd(), fd.flags() & O_CLOEXEC);
                t.call("close", SyscallNr.CLOSE, tmp);
            }
        }
    }
}
