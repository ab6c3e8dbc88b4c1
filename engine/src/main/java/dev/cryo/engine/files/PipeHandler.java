package dev.cryo.engine.files;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.PipePeek;

import java.io.IOException;
import java.nio.file.Files;

/**
 * Pipes and FIFOs. Both ends are identified by the pipe inode so restore can join them again;
 * the unread bytes are peeked (not consumed) and carried by the first end this dump meets.
 */
public final class PipeHandler implements FdHandler {
    private static final int O_ACCMODE = 3, O_RDONLY = 0;

    @Override
    public String kind() {
        return "pipe";
    }

    @Override
    public Class<? extends FileDesc> record() {
        return FileDesc.Pipe.class;
    }

    /** Anonymous pipes open cryo's own end of the rejoined pipe; FIFOs their path (cryo holds them open). */
    @Override
    public long restore(FdImage fd, RestoreContext ctx) {
        FileDesc.Pipe p = (FileDesc.Pipe) fd.desc();
        return ctx.open(p.fifoPath().isEmpty() ? ctx.pipePath(p.pipeId(), p.readEnd()) : p.fifoPath(),
                FdHandlers.openFlags(fd));
    }

    @Override
    public boolean handles(FdProbe fd) throws IOException {
        return fd.target().startsWith("pipe:[") || (fd.target().startsWith("/") && FileIdentity.isFifo(fd.procPath()));
    }

    @Override
    public FileDesc dump(FdProbe fd, DumpContext ctx) throws IOException {
        boolean anonymous = fd.target().startsWith("pipe:[");
        long id = anonymous
                ? Long.parseLong(fd.target().substring(6, fd.target().length() - 1))
                : (Long) Files.getAttribute(fd.procPath(), "unix:ino");
        byte[] data = ctx.claimPipeData(id) ? PipePeek.peek(fd.procPath().toString()) : new byte[0];
        boolean readEnd = (fd.info().flags() & O_ACCMODE) == O_RDONLY;
        return new FileDesc.Pipe(id, readEnd, anonymous ? "" : fd.target(), data);
    }
}
