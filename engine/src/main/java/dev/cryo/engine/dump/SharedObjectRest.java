package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.memory.SharedObjectData;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.FileExtents;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The pages of the tree's shared memory objects that no area of the tree shows ({@link SharedObjectData}),
 * read once every task is collected, with the tree still frozen: only then are all the windows claimed
 * (by the areas, a memfd's fds, a pre-copy's carriers), so whatever is left of an object is what nobody
 * carries. Read through the map_files entry of any area that maps the object (SEEK_DATA: only pages the
 * object holds; for hugetlbfs its huge pages that are not all zero).
 */
public final class SharedObjectRest {
    private static final long PAGE = 4096;

    private SharedObjectRest() {}

    /**
     * The pieces of what is left of each object of {@code claims}, at most {@code limit} bytes in all (they travel
     * in records, held in memory at the restore): more is refused by name.
     */
    public static List<SharedObjectData> read(SharedMemoryClaims claims, long limit) {
        List<SharedObjectData> out = new ArrayList<>();
        long total = 0;
        for (Map.Entry<Long, List<SharedMemoryClaims.Holder>> e : claims.holders().entrySet()) {
            total += readObject(e.getKey(), e.getValue(), claims, limit - total, out);
        }
        return out;
    }

    private static long readObject(long ino, List<SharedMemoryClaims.Holder> holders, SharedMemoryClaims claims,
                                   long room, List<SharedObjectData> out) {
        for (SharedMemoryClaims.Holder h : holders) {
            Fd fd;
            long size;
            try {
                fd = Sys.open(h.mapFile().toString(), Fcntl.O_RDONLY);
                size = Files.size(h.mapFile());
            } catch (RuntimeException | IOException gone) {
                continue; // an area of a plan made before the freeze, changed since: another holder says it
            }
            try (fd; FileChannel ch = FileChannel.open(h.mapFile(), StandardOpenOption.READ)) {
                long hugePage = FileExtents.hugePageBytes(fd);
                long read = 0;
                for (long[] r : claims.claim(ino, 0, (size + PAGE - 1) / PAGE)) {
                    for (long[] d : FileExtents.held(fd, r[0] * PAGE, Math.min(r[1] * PAGE, size), hugePage)) {
                        read += d[1] - d[0];
                        if (read > room) {
                            throw new DumpException(h.where() + ", a shared memory object of " + size + " bytes of"
                                    + " which more than " + room + " bytes lie outside every area of the tree"
                                    + " (remap_file_pages, or areas shrunk or unmapped): they would travel in"
                                    + " records held whole in memory at the restore; not supported");
                        }
                        for (long at = d[0]; at < d[1]; at += SharedObjectData.PIECE) {
                            out.add(new SharedObjectData(ino, at, bytes(ch, at, (int) Math.min(SharedObjectData.PIECE,
                                    d[1] - at))));
                        }
                    }
                }
                return read;
            } catch (IOException | RuntimeException ex) {
                if (ex instanceof DumpException d) {
                    throw d;
                }
                throw new DumpException(h.where() + ": cannot read its shared memory object's pages outside every"
                        + " area: " + ex.getMessage(), ex);
            }
        }
        throw new DumpException(holders.get(0).where() + ", a shared memory object none of whose areas is there any"
                + " more to read its pages outside every area through");
    }

    private static byte[] bytes(FileChannel ch, long at, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b, at + b.position()) < 0) {
                throw new IOException("the object ended at " + (at + b.position()) + " while read");
            }
        }
        return b.array();
    }
}
