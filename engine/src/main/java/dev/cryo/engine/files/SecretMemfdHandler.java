package dev.cryo.engine.files;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.codec.FileRefCodec;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.SecretMemory;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An fd of memfd_secret(2) memory (zdtm's memfd-secret00): its size and the pages no mapping of the
 * tree carries (as a memfd's, keyed by inode, up to the ghost limit). Its file cannot be opened again
 * (ENXIO), so the object has one open file only: cryo takes it with pidfd_getfd and reads its pages
 * through a mapping of its own ({@link SecretMemory}). Restore makes one memfd_secret object for the
 * inode (SharedMemoryHub), which the fd takes as it is, as every mapping of it maps it.
 */
public final class SecretMemfdHandler implements FdHandler<SecretMemfdHandler.SecretMemfd> {
    /** zfix48's ranges: tags 1850-1859, records 5270-5289. */
    public static final int TAG = 1850, RECORD_ID = 5270;
    private static final long PAGE = 4096;
    private static final int MAX_EXTENTS = 1 << 16;

    /** {@code file}: identity (inode, size); {@code extents}: the pages no mapping carries. */
    public record SecretMemfd(FileRef file, List<MemfdHandler.Extent> extents) implements FileDesc {
        public SecretMemfd {
            extents = List.copyOf(extents);
        }
    }

    static final RecordCodec<SecretMemfd> CODEC = RecordCodec.of(SecretMemfd.class, RECORD_ID, 1,
            SecretMemfdHandler::write, SecretMemfdHandler::read);

    private static void write(Output out, SecretMemfd m) {
        RecordFields.writeRecord(out, FileRefCodec.INSTANCE, m.file());
        out.writeVarInt(m.extents().size(), true);
        for (MemfdHandler.Extent e : m.extents()) {
            out.writeLong(e.offset());
            RecordFields.writeBytes(out, e.data());
        }
    }

    private static SecretMemfd read(Input in, int version) {
        FileRef file = RecordFields.readRecord(in, FileRefCodec.INSTANCE);
        int n = in.readVarInt(true);
        if (n < 0 || n > MAX_EXTENTS) {
            throw new com.esotericsoftware.kryo.KryoException("SecretMemfd.extents: " + n + " extents, at most "
                    + MAX_EXTENTS);
        }
        List<MemfdHandler.Extent> extents = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            extents.add(new MemfdHandler.Extent(in.readLong(), RecordFields.readBytes(in, 16 << 20)));
        }
        return new SecretMemfd(file, extents);
    }

    @Override
    public String kind() {
        return "memfd_secret";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<SecretMemfd> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return isSecret(fd);
    }

    /**
     * An fd of memfd_secret(2) memory: a regular file to stat, but no regular-file handler may take it
     * (it was refused as a deleted file "still linked under another name").
     */
    static boolean isSecret(FdProbe fd) {
        if (!fd.target().equals(SecretMemory.PATH + " (deleted)")) {
            return false;
        }
        try {
            return Sys.fsMagic(fd.procPath().toString()) == Sys.SECRETMEM_MAGIC;
        } catch (RuntimeException e) {
            return false; // closed meanwhile: left to the handlers, as any file
        }
    }

    @Override
    public SecretMemfd dump(FdProbe fd, DumpContext ctx) throws IOException {
        FileRef file = FileIdentity.of(SecretMemory.PATH, fd.procPath());
        List<MemfdHandler.Extent> extents = new ArrayList<>();
        try (Fd pidfd = Sys.pidfdOpen(fd.pid()); Fd own = Sys.pidfdGetfd(pidfd, fd.pid(), fd.fd())) {
            long pages = (file.size() + PAGE - 1) / PAGE;
            List<long[]> held = new ArrayList<>();
            long carried = 0;
            for (long[] r : ctx.sharedMemory().claim(file.ino(), 0, pages)) {
                for (long[] d : SecretMemory.resident(own, r[0] * PAGE, Math.min(r[1] * PAGE, file.size()))) {
                    held.add(d);
                    carried += d[1] - d[0];
                }
            }
            ctx.ghostFiles().claimInRecord(fd.pid(), fd.where(), "memfd_secret memory, outside any mapping,", carried);
            for (long[] d : held) {
                int len = (int) (d[1] - d[0]);
                ByteBuffer b = ByteBuffer.allocateDirect(len);
                SecretMemory.copy(false, own, d[0], b, 0, len);
                byte[] data = new byte[len];
                b.get(0, data);
                extents.add(new MemfdHandler.Extent(d[0], data));
            }
        }
        return new SecretMemfd(file, extents);
    }

    @Override
    public long restore(FdImage fd, SecretMemfd m, RestoreContext ctx) {
        int own = ctx.claimMemfd(m.file().ino());
        if (own < 0) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + ctx.taskPid() + " fd " + fd.fd()
                    + ": the memfd_secret object (inode " + m.file().ino() + " in the image) was not made by this"
                    + " restore or is held by another open file");
        }
        long tmp = ctx.take((int) ProcessHandle.current().pid(), own);
        ctx.call("fcntl(F_SETFL)", SyscallNr.FCNTL, tmp, Fcntl.F_SETFL, fd.flags() & FdHandlers.SETFL_MASK & ~Fcntl.O_ASYNC);
        return tmp;
    }

    @Override
    public void show(SecretMemfd m, Map<String, Object> out) {
        out.put("kind", "memfd_secret");
        out.put("ino", m.file().ino());
        out.put("size", m.file().size());
        out.put("bytesInRecord", m.extents().stream().mapToLong(e -> e.data().length).sum());
    }
}
