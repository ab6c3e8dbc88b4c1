package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.engine.restore.RestoreException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;

/**
 * An fd of a symlink itself, opened with {@code O_PATH | O_NOFOLLOW} (zdtm's symlink): opened again
 * the same way at its path, which must still be a symlink reading the same target. One removed since
 * is refused at dump: nothing would name it again.
 */
public final class SymlinkHandler implements FdHandler<SymlinkHandler.Symlink> {
    public static final int TAG = 300, RECORD_ID = 800;
    private static final String DELETED = " (deleted)";

    /** The symlink's path and what it reads (checked at restore). */
    public record Symlink(String path, String target) implements FileDesc {}

    static final RecordCodec<Symlink> CODEC = RecordCodec.of(Symlink.class, RECORD_ID, 1, (out, s) -> {
        ModelFields.writeText(out, s.path(), ModelLimits.PATH, "Symlink.path");
        ModelFields.writeText(out, s.target(), ModelLimits.PATH, "Symlink.target");
    }, (in, version) -> new Symlink(ModelFields.readText(in, ModelLimits.PATH, "Symlink.path"),
            ModelFields.readText(in, ModelLimits.PATH, "Symlink.target")));

    @Override
    public String kind() {
        return "symlink";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<Symlink> codec() {
        return CODEC;
    }

    @Override
    public boolean reopensByPath(FdProbe fd) {
        return true;
    }

    /** The /proc link leads to the file the fd holds: for such an fd, the symlink itself. */
    @Override
    public boolean handles(FdProbe fd) {
        try {
            return fd.target().startsWith("/")
                    && Files.readAttributes(fd.procPath(), BasicFileAttributes.class).isSymbolicLink();
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public Symlink dump(FdProbe fd, DumpContext ctx) throws IOException {
        if (fd.target().endsWith(DELETED)) {
            throw new DumpException(fd.where() + ": symlink " + fd.target() + " (an O_PATH fd of the link itself) was"
                    + " removed; a removed symlink is not supported");
        }
        Path at = Path.of(fd.target());
        Object held = Files.readAttributes(fd.procPath(), BasicFileAttributes.class).fileKey();
        if (!Files.isSymbolicLink(at) || held == null || !held.equals(Files.readAttributes(at, BasicFileAttributes.class,
                LinkOption.NOFOLLOW_LINKS).fileKey())) {
            throw new DumpException(fd.where() + ": symlink " + fd.target() + " (an O_PATH fd of the link itself) is no"
                    + " longer at that path; not supported");
        }
        return new Symlink(fd.target(), Files.readSymbolicLink(at).toString());
    }

    @Override
    public long restore(FdImage fd, Symlink s, RestoreContext ctx) {
        String now;
        try {
            now = Files.readSymbolicLink(Path.of(s.path())).toString();
        } catch (IOException | UnsupportedOperationException e) {
            now = null;
        }
        if (!s.target().equals(now)) {
            throw new RestoreException("fd " + fd.fd() + ": symlink " + s.path() + " reading " + s.target()
                    + (now == null ? " is gone" : " reads " + now + " now"));
        }
        return ctx.open(s.path(), FdHandlers.openFlags(fd) | dev.cryo.kernel.Fcntl.O_NOFOLLOW | dev.cryo.kernel.Fcntl.O_PATH);
    }

    @Override
    public void show(Symlink s, Map<String, Object> m) {
        m.put("kind", "symlink");
        m.put("path", s.path());
        m.put("target", s.target());
    }
}
