package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

import java.io.IOException;
import java.nio.file.Files;

/** Regular files and directories: reopened by path at restore, after their identity is checked. */
public final class RegularFileHandler implements FdHandler {
    @Override
    public String kind() {
        return "regular file";
    }

    @Override
    public Class<? extends FileDesc> record() {
        return FileDesc.RegularFile.class;
    }

    @Override
    public long restore(FdImage fd, RestoreContext ctx) {
        FileDesc.RegularFile f = (FileDesc.RegularFile) fd.desc();
        long tmp = ctx.open(f.file().path(), FdHandlers.openFlags(fd));
        if (fd.position() != 0) {
            ctx.call("lseek", dev.cryo.kernel.SyscallNr.LSEEK, tmp, fd.position(), 0);
        }
        return tmp;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().startsWith("/") && (Files.isRegularFile(fd.procPath()) || Files.isDirectory(fd.procPath()));
    }

    @Override
    public FileDesc dump(FdProbe fd, DumpContext ctx) throws IOException {
        if (fd.target().endsWith(" (deleted)")) {
            throw new DumpException(fd.where() + ": " + fd.target() + " is a deleted file; deleted files are not supported yet");
        }
        return new FileDesc.RegularFile(FileIdentity.of(fd.target(), fd.procPath()));
    }
}
