package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

import java.io.IOException;

/**
 * Character devices: /dev/null, /dev/zero, /dev/urandom and the like are reopened by path;
 * a terminal only with --shell-job (the restored process then uses the terminal cryo runs on).
 */
public final class CharDeviceHandler implements FdHandler {
    @Override
    public String kind() {
        return "character device";
    }

    @Override
    public Class<? extends FileDesc> record() {
        return FileDesc.CharDevice.class;
    }

    @Override
    public long restore(FdImage fd, RestoreContext ctx) {
        return ctx.open(((FileDesc.CharDevice) fd.desc()).path(), FdHandlers.openFlags(fd));
    }

    @Override
    public boolean handles(FdProbe fd) throws IOException {
        return fd.target().startsWith("/") && FileIdentity.isCharDevice(fd.procPath());
    }

    @Override
    public FileDesc dump(FdProbe fd, DumpContext ctx) throws IOException {
        long rdev = FileIdentity.rdev(fd.procPath());
        boolean tty = isTty(rdev);
        if (tty && !ctx.shellJob()) {
            throw new DumpException(fd.where() + ": terminal " + fd.target()
                    + " is open; dump with --shell-job to take the terminal along");
        }
        return new FileDesc.CharDevice(fd.target(), rdev, tty);
    }

    /** Major 4 (tty/ttyS), 5 (tty, console, ptmx) and 136-143 (pts). */
    static boolean isTty(long rdev) {
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        return major == 4 || major == 5 || (major >= 136 && major <= 143);
    }
}
