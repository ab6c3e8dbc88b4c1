package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

import java.util.List;
import java.util.Map;

/**
 * An fd sharing its open file description with an fd of the tree that comes earlier (lowest pid,
 * then fd; see {@link OpenFiles}): after fork, dup or SCM_RIGHTS. Only that owner is dumped by its
 * kind's handler; restore recreates the object there, then this fd takes the very same description
 * from the owner with pidfd_getfd, so position, flags and the object itself are one again.
 * POSIX locks this fd's process holds travel with it. {@code ownerTag} is the owner's kind: a shared epoll is taken only after its owner added its
 * watches, which come last.
 */
public final class SharedFdHandler implements FdHandler<SharedFdHandler.SharedFd> {
    public static final int TAG = 8, RECORD_ID = 118;

    public record SharedFd(int ownerPid, int ownerFd, int ownerTag, List<FileLocks.Lock> locks) implements FileDesc {
        public SharedFd {
            locks = List.copyOf(locks);
        }

        public SharedFd(int ownerPid, int ownerFd, int ownerTag) {
            this(ownerPid, ownerFd, ownerTag, List.of());
        }

        /** Whether the owner is restored in the late pass (epoll), so this fd is taken after it. */
        public boolean ownerLate() {
            FdHandler<?> h = FdHandlers.byTag(ownerTag);
            return h != null && h.restoresLast();
        }
    }

    static final RecordCodec<SharedFd> CODEC = RecordCodec.of(SharedFd.class, RECORD_ID, 1, (out, s) -> {
        out.writeVarInt(s.ownerPid(), true);
        out.writeVarInt(s.ownerFd(), true);
        out.writeVarInt(s.ownerTag(), true);
        FileLocks.write(out, s.locks());
    }, (in, version) -> new SharedFd(in.readVarInt(true), in.readVarInt(true), in.readVarInt(true), FileLocks.read(in)));

    @Override
    public String kind() {
        return "shared open file";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<SharedFd> codec() {
        return CODEC;
    }

    /** Never chosen by probing: {@link FdHandlers#dumpAll} makes these from the dump's sharing map. */
    @Override
    public boolean handles(FdProbe fd) {
        return false;
    }

    @Override
    public SharedFd dump(FdProbe fd, DumpContext ctx) {
        throw new IllegalStateException(fd.where() + ": shared fds are found by the dump's sharing map");
    }

    @Override
    public long restore(FdImage fd, SharedFd s, RestoreContext ctx) {
        return ctx.take(s.ownerPid(), s.ownerFd());
    }

    @Override
    public void show(SharedFd s, Map<String, Object> m) {
        m.put("kind", "shared");
        m.put("ownerPid", s.ownerPid());
        m.put("ownerFd", s.ownerFd());
        FdHandler<?> h = FdHandlers.byTag(s.ownerTag());
        m.put("ownerKind", h == null ? "tag " + s.ownerTag() : h.kind());
        FileLocks.show(s.locks(), m);
    }
}
