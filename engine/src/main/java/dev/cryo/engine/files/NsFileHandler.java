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
 * holder's own namespaces, which the restored task opens again from its own /proc/self/ns/TYPE;
 * or of the host's (cryo's own) namespace of that type, held by a task of a namespace of its own
 * (a child of a time namespace keeping its parent's fd, zdtm timens_nested): a restore puts the
 * tree's host-side tasks in the host's namespaces again, so cryo opens its own and the task takes
 * it (on the host of the dump, the very namespace). A namespace file of any other namespace (one
 * kept alive by a bind mount or another process) is refused: nothing would make it again.
 */
public final class NsFileHandler implements FdHandler<NsFileHandler.NsFile> {
    public static final int TAG = 150, RECORD_ID = 490;

    private static final String KINDS = "(cgroup|ipc|mnt|net|pid|time|user|uts)";
    private static final Pattern NAMESPACE = Pattern.compile(KINDS + ":\\[(\\d+)\\]"), TYPES = Pattern.compile(KINDS);

    /**
     * A namespace file: its type ("net"), the namespace's inode when dumped, and whether it is the
     * host's (cryo's own) namespace rather than its holder's.
     */
    public record NsFile(String type, long inode, boolean host) implements FileDesc {
        public NsFile(String type, long inode) {
            this(type, inode, false);
        }
    }

    static final RecordCodec<NsFile> CODEC = RecordCodec.of(NsFile.class, RECORD_ID, 2,
            (out, n) -> {
                RecordFields.writeString(out, n.type());
                out.writeVarLong(n.inode(), true);
                out.writeBoolean(n.host());
            },
            NsFileHandler::read);

    private static NsFile read(Input in, int version) {
        String type = RecordFields.readString(in, 16);
        if (!TYPES.matcher(type).matches()) { // it becomes a path opened in the task
            throw new KryoException("namespace type '" + type + "' is none of the kernel's");
        }
        long inode = in.readVarLong(true);
        return new NsFile(type, inode, version >= 2 && in.readBoolean());
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
        boolean host = !fd.target().equals(own) && fd.target().equals(ProcFs.readlink("/proc/self/ns/" + type));
        if (!fd.target().equals(own) && !host) {
            throw new DumpException(fd.where() + ": namespace file '" + fd.target() + "' (from /proc/PID/ns/" + type
                    + ") is not the task's own " + type + " namespace (" + own + "), nor the host's; a namespace file"
                    + " of another namespace is not supported");
        }
        return new NsFile(type, Long.parseLong(m.group(2)), host);
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
        if (n.host()) { // the task is in a namespace of its own: cryo's /proc/self is the host's
            return ctx.openAsCryo("/proc/self/ns/" + n.type(), FdHandlers.openFlags(fd));
        }
        return ctx.open("/proc/self/ns/" + n.type(), FdHandlers.openFlags(fd));
    }

    @Override
    public void show(NsFile n, Map<String, Object> m) {
        m.put("kind", "namespace file");
        m.put("namespace", n.type() + ":[" + n.inode() + "]");
        if (n.host()) {
            m.put("of", "host");
        }
    }
}
