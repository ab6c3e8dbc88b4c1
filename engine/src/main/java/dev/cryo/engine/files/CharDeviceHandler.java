package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;

import java.io.IOException;
import java.util.Map;

import static dev.cryo.engine.show.ShowFormat.hex;

/**
 * Character devices: /dev/null, /dev/zero, /dev/urandom and the like are reopened by path;
 * a terminal only with --shell-job (the restored process then uses the terminal cryo runs on).
 * Pseudo-terminals and /dev/tty have their own handlers, earlier in the table.
 */
public final class CharDeviceHandler implements FdHandler<CharDeviceHandler.CharDevice> {
    public static final int TAG = 3, RECORD_ID = 113;

    /** /dev/null, /dev/zero, a terminal (restored only with --shell-job), ... */
    public record CharDevice(String path, long rdev, boolean tty) implements FileDesc {}

    static final RecordCodec<CharDevice> CODEC = RecordCodec.of(CharDevice.class, RECORD_ID, 1, (out, c) -> {
        ModelFields.writeText(out, c.path(), ModelLimits.PATH, "CharDevice.path");
        out.writeLong(c.rdev());
        out.writeBoolean(c.tty());
    }, (in, version) -> new CharDevice(ModelFields.readText(in, ModelLimits.PATH, "CharDevice.path"), in.readLong(),
            in.readBoolean()));

    @Override
    public String kind() {
        return "character device";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<CharDevice> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) throws IOException {
        return fd.target().startsWith("/") && FileIdentity.isCharDevice(fd.procPath());
    }

    @Override
    public CharDevice dump(FdProbe fd, DumpContext ctx) throws IOException {
        long rdev = FileIdentity.rdev(fd.procPath());
        if (isPtyMaster(rdev)) {
            // masters are PtyMasterHandler's (it comes first in the table): this is a ptmx at another path
            throw new DumpException(fd.where() + ": pseudo-terminal master " + fd.target()
                    + " is not supported yet (even with --shell-job)");
        }
        boolean tty = isTty(rdev);
        if (!tty && fd.target().endsWith(" (deleted)")) {
            // reopened by path, it would fail after the dump had killed the tree (zdtm deleted_dev)
            long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
            long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
            throw new DumpException(fd.where() + ": device node " + fd.target() + " (" + major + ":" + minor
                    + ") was deleted; a deleted device node is not supported yet");
        }
        if (tty && !ctx.shellJob()) {
            throw new DumpException(fd.where() + ": terminal " + fd.target()
                    + " is open; dump with --shell-job to take the terminal along");
        }
        return new CharDevice(fd.target(), rdev, tty);
    }

    @Override
    public long restore(FdImage fd, CharDevice c, RestoreContext ctx) {
        return ctx.open(c.path(), FdHandlers.openFlags(fd));
    }

    @Override
    public void show(CharDevice c, Map<String, Object> m) {
        m.put("kind", "chardev");
        m.put("path", c.path());
        m.put("rdev", hex(c.rdev()));
        m.put("tty", c.tty());
    }

    /** /dev/ptmx (5:2) and the multiplexers of devpts instances (a master's fd points at ptmx). */
    static boolean isPtyMaster(long rdev) {
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        return major == 5 && minor == 2;
    }

    /** Major 4 (tty/ttyS), 5 (tty, console, ptmx) and 136-143 (pts). */
    static boolean isTty(long rdev) {
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        return major == 4 || major == 5 || (major >= 136 && major <= 143);
    }
}
