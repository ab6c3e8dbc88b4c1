package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.codec.FileRefCodec;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.FileExtents;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.cryo.kernel.Fcntl.F_GET_SEALS;

/**
 * A memfd held by an fd: name, size, seals and contents. The memfd is one object however many
 * fds, mappings and tasks hold it (keyed by inode): restore makes it once, as a memfd of the
 * same name, and every fd and mapping of it opens or maps that one. Its pages are carried once
 * per object, as for shared memory: the parts some task maps travel as page data of that
 * mapping, the rest (found with SEEK_DATA) in this record, up to the ghost limit. A memfd made with
 * MFD_HUGETLB is made so again, of the same huge page size.
 */
public final class MemfdHandler implements FdHandler<MemfdHandler.Memfd> {
    public static final int TAG = 31, RECORD_ID = 172;
    private static final String PREFIX = "/memfd:", DELETED = " (deleted)";

    private static final long PAGE = 4096;
    private static final int MAX_EXTENTS = 1 << 16;

    /** Bytes of the memfd at {@code offset}. */
    public record Extent(long offset, byte[] data) {}

    /**
     * {@code file}: identity (inode, size, mode); {@code seals}: F_GET_SEALS (F_SEAL_SEAL alone: sealing
     * not allowed); {@code uid}, {@code gid}: its owner (fchown/fchmod by the program show in fstat);
     * {@code hugePageKb}: the page size of a memfd made with MFD_HUGETLB, 0 for any other (version 2).
     */
    public record Memfd(FileRef file, String name, int seals, List<Extent> extents, int uid, int gid, long hugePageKb)
            implements FileDesc {
        public Memfd {
            extents = List.copyOf(extents);
        }
    }

    static final RecordCodec<Memfd> CODEC = RecordCodec.of(Memfd.class, RECORD_ID, 2, MemfdHandler::write,
            MemfdHandler::read);

    private static void write(Output out, Memfd m) {
        RecordFields.writeRecord(out, FileRefCodec.INSTANCE, m.file());
        RecordFields.writeString(out, m.name());
        out.writeVarInt(m.seals(), true);
        out.writeVarInt(m.extents().size(), true);
        for (Extent e : m.extents()) {
            out.writeLong(e.offset());
            RecordFields.writeBytes(out, e.data());
        }
        out.writeInt(m.uid());
        out.writeInt(m.gid());
        out.writeVarLong(m.hugePageKb(), true);
    }

    private static Memfd read(Input in, int version) {
        FileRef file = RecordFields.readRecord(in, FileRefCodec.INSTANCE);
        String name = RecordFields.readString(in, 256);
        int seals = in.readVarInt(true);
        int n = in.readVarInt(true);
        if (n < 0 || n > MAX_EXTENTS) {
            throw new com.esotericsoftware.kryo.KryoException("Memfd.extents: " + n + " extents, at most " + MAX_EXTENTS);
        }
        List<Extent> extents = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            extents.add(new Extent(in.readLong(), RecordFields.readBytes(in, 16 << 20)));
        }
        int uid = in.readInt(), gid = in.readInt();
        return new Memfd(file, name, seals, extents, uid, gid, version >= 2 ? in.readVarLong(true) : 0);
    }

    @Override
    public String kind() {
        return "memfd";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<Memfd> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().startsWith(PREFIX);
    }

    @Override
    public Memfd dump(FdProbe fd, DumpContext ctx) throws IOException {
        String name = fd.target().substring(PREFIX.length());
        if (name.endsWith(DELETED)) {
            name = name.substring(0, name.length() - DELETED.length());
        }
        FileRef file = FileIdentity.of(PREFIX + name, fd.procPath());
        List<Extent> extents = new ArrayList<>();
        int seals;
        long carried = 0, hugePage;
        try (Fd local = Sys.open(fd.procPath().toString(), Fcntl.O_RDONLY);
             FileChannel ch = FileChannel.open(fd.procPath(), StandardOpenOption.READ)) {
            // MFD_HUGETLB: its huge pages are found by reading them, SEEK_DATA calls it all data
            hugePage = FileExtents.hugePageBytes(local);
            seals = (int) Sys.call(() -> "fcntl(" + fd.where() + ", F_GET_SEALS)", SyscallNr.FCNTL, local.value(),
                    F_GET_SEALS, 0, 0);
            long pages = (file.size() + PAGE - 1) / PAGE;
            List<long[]> held = new ArrayList<>();
            for (long[] r : ctx.sharedMemory().claim(file.ino(), 0, pages)) {
                long from = r[0] * PAGE, to = Math.min(r[1] * PAGE, file.size());
                for (long[] d : FileExtents.held(local, from, to, hugePage)) {
                    held.add(d);
                    carried += d[1] - d[0];
                }
            }
            ctx.ghostFiles().claimInRecord(fd.pid(), fd.where(), "memfd " + name + ", outside any mapping,", carried);
            for (long[] d : held) {
                ByteBuffer b = ByteBuffer.allocate((int) (d[1] - d[0]));
                while (b.hasRemaining() && ch.read(b, d[0] + b.position()) > 0) {
                    // read until full
                }
                extents.add(new Extent(d[0], b.array()));
            }
        }
        return new Memfd(file, name, seals, extents, (Integer) Files.getAttribute(fd.procPath(), "unix:uid"),
                (Integer) Files.getAttribute(fd.procPath(), "unix:gid"), hugePage / 1024);
    }

    @Override
    public long restore(FdImage fd, Memfd m, RestoreContext ctx) {
        // one read-write fd gets the memfd's own file, as memfd_create gave it: a reopen would count as
        // a writer, and the program's execveat of the memfd would fail with ETXTBSY
        int own = (fd.flags() & Fcntl.O_ACCMODE) == Fcntl.O_RDWR ? ctx.claimMemfd(m.file().ino()) : -1;
        long tmp;
        if (own >= 0) {
            tmp = ctx.take((int) ProcessHandle.current().pid(), own);
            // O_ASYNC is FileRestore's, on the final number: set here, its signals would name this one
            ctx.call("fcntl(F_SETFL)", SyscallNr.FCNTL, tmp, Fcntl.F_SETFL, fd.flags() & FdHandlers.SETFL_MASK & ~Fcntl.O_ASYNC);
        } else {
            tmp = ctx.open(ctx.sharedMemoryPath(m.file().ino()), FdHandlers.openFlags(fd));
        }
        if (fd.position() != 0) {
            ctx.call("lseek", SyscallNr.LSEEK, tmp, fd.position(), 0);
        }
        return tmp;
    }

    @Override
    public void show(Memfd m, Map<String, Object> out) {
        out.put("kind", "memfd");
        out.put("name", m.name());
        out.put("ino", m.file().ino());
        out.put("size", m.file().size());
        out.put("seals", m.seals());
        out.put("mode", Integer.toOctalString(m.file().mode() & 07777));
        out.put("owner", m.uid() + ":" + m.gid());
        out.put("bytesInRecord", m.extents().stream().mapToLong(e -> e.data().length).sum());
        if (m.hugePageKb() > 0) {
            out.put("hugePageKb", m.hugePageKb());
        }
    }
}
