package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.proc.ProcFs;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A namespace file (an fd opened from /proc/PID/ns/TYPE, "net:[4026531833]") of one of the
 * holder's own namespaces. cryo only dumps tasks of the host's namespaces and restores them there,
 * so the task opens its own /proc/self/ns/TYPE again. A namespace file of another namespace (one
 * kept alive by a bind mount or another process) is refused: nothing would make it again.
 */
public final class NsFileHandler implements FdHandler<NsFileHandler.NsFile> {
    public static final int TAG = 150, RECORD_ID = 490;

    private static final String KINDS = "(cgroup|ipc|mnt|net|pid|time|user|uts)";
    private static final Pattern NAMESPACE = Pattern.compile(KINDS + ":\\[(\\d+)\\]"), TYPES = Pattern.compile(KINDS);

    /** A namespace file: its type ("net") and the namespace's inode when dumped. */
    public record NsFile(String type, long inode) implements FileDesc {}

    static final RecordCodec<NsFile> CODEC = RecordCodec.of(NsFile.class, RECORD_ID, 1,
            (out, n) -> {
                RecordFields.writeString(out, n.type());
                out.writeVarLong(n.inode(), true);
            },
            NsFileHandler::read);

    private static NsFile read(Input in, int version) {
        String type = RecordFields.readString(in, 16);
        if (!TYPES.matcher(type).matches()) { // it becomes a path opened in the task
            throw new KryoException("namespace type '" + type + "' is none of the kernel's");
        }
        return new NsFile(type, in.readVarLong(true));
    }

    @Override
    public String kind() {
        return "namespace file";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<NsFile> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return NAMESPACE.matcher(fd.target()).matches();
    }

    @Override
    public NsFile dump(FdProbe fd, DumpContext ctx) {
        Matcher m = NAMESPACE.matcher(fd.target());
        if (!m.matches()) {
            throw new IllegalStateException(fd.target());
        }
        String type = m.group(1);
        String own = ownNamespace(fd, type);
        if (!fd.target().equals(own)) {
            throw new DumpException(fd.where() + ": namespace file '" + fd.target() + "' (from /proc/PID/ns/" + type
                    + ") is not the task's own " + type + " namespace (" + own + "); a namespace file of another "
                    + "namespace is not supported");
        }
        return new NsFile(type, Long.parseLong(m.group(2)));
    }

    private static String ownNamespace(FdProbe fd, String type) {
        try {
            return ProcFs.readlink(fd.pid().procDir() + "/ns/" + type);
        } catch (KernelException e) {
            throw new DumpException(fd.where() + ": cannot read its task's own " + type + " namespace: " + e.getMessage(), e);
        }
    }

    @Override
    public long restore(FdImage fd, NsFile n, RestoreContext ctx) {
        // the restored task lives in the host's namespaces, as the dumped one did (others are refused)
        return ctx.open("/proc/self/ns/" + n.type(), FdHandlers.openFlags(fd));
    }

    @Override
    public void show(NsFile n, Map<String, Object> m) {
        m.put("kind", "namespace file");
        m.put("namespace", n.type() + ":[" + n.inode() + "]");
    }
}
