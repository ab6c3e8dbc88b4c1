package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.model.GhostData;
import dev.cryo.engine.model.GhostFile;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.engine.model.codec.ModelSamples;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** A deleted file's contents that travel apart from its task's record come back whole, or the image is refused. */
class GhostPiecesTest {
    @TempDir
    Path tmp;

    /** A task carrying a ghost of 9 MiB + 3 bytes of data, apart, and its pieces as the dump writes them. */
    private static List<Object> dumped(int pieces) {
        TaskImage t = ModelSamples.task(4242);
        GhostFile g = t.ghostFiles().get(0);
        long size = 2 * GhostData.PIECE + 1024 * 1024 + 3;
        GhostFile big = new GhostFile(g.file(), new byte[0], g.uid(), g.gid(), new long[] {0, 4096, 8192, 8192 + size - 4096},
                "", 0, g.mountOf(), true);
        List<Object> out = new ArrayList<>();
        for (long at = 0; at < size && out.size() < pieces; at += GhostData.PIECE) {
            byte[] b = new byte[(int) Math.min(GhostData.PIECE, size - at)];
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) ((at + i) * 7);
            }
            out.add(new GhostData(g.file().dev(), g.file().ino(), at, b));
        }
        List<GhostFile> ghosts = new ArrayList<>(t.ghostFiles());
        ghosts.set(0, big);
        out.add(t.withGhostFiles(ghosts));
        return out;
    }

    /**
     * The pieces stay in the image (the restore keeps where each is) and are read from it one at a time as the file
     * is written: each run of a data extent at its offset in the file, a run spanning two pieces in two.
     */
    @Test
    void piecesWrittenAsRecordsAreReadFromTheImageAsTheFileIsWritten() throws Exception {
        try (ImageWriter w = ImageWriter.create(tmp.resolve("img"), ModelCodecs.ALL, ImageOptions.defaults())) {
            for (Object r : dumped(3)) {
                w.writeRecord(r);
            }
            w.commit();
        }
        List<Object> records = new ArrayList<>();
        try (ImageReader r = ImageReader.open(tmp.resolve("img"), ModelCodecs.ALL)) {
            for (dev.cryo.engine.image.IndexEntry e : r.entries()) {
                if (e.type() == dev.cryo.engine.image.ChunkType.RECORD) {
                    records.add(GhostPieces.inPlace(r.readRecord(e), e));
                }
            }
        }
        assertTrue(records.get(0) instanceof GhostPieces.Piece p && p.held() == null, records.get(0).toString());
        records = GhostPieces.join(records, tmp.resolve("img"));
        assertEquals(1, records.size());
        GhostFile g = ((TaskImage) records.get(0)).ghostFiles().get(0);
        assertTrue(g.apart() && g.contents().length == 0 && g.pieces() != null, g.toString());
        List<long[]> runs = new ArrayList<>(); // {offset in the file, length}
        long[] seen = {0};
        GhostPieces.eachExtent(g, (at, bytes, from, len) -> {
            runs.add(new long[] {at, len});
            for (int i = 0; i < len; i = i == len - 1 ? len : Math.min(i + 4099, len - 1)) { // and each run's last
                long c = seen[0] + i, want = c < 4096 ? c : c - 4096 + 8192; // the contents' byte c is there
                assertEquals(want, at + i, "where byte " + c + " of the contents goes");
                assertEquals((byte) (c * 7), bytes[from + i], "byte " + c);
            }
            seen[0] += len;
        });
        assertEquals(g.dataBytes(), seen[0]);
        assertEquals(List.of(0L, 8192L, 8192L + GhostData.PIECE - 4096, 8192L + 2 * GhostData.PIECE - 4096),
                runs.stream().map(x -> x[0]).toList(), "the second extent spans the three pieces");
        assertEquals("/dev/shm/sem.mp-q1w2e3", ((TaskImage) records.get(0)).ghostFiles().get(1).linkedAt()); // not apart: as it was
    }

    @Test
    void aPieceMissingOrLeftOverIsADamagedImage() {
        RestoreException missing = assertThrows(RestoreException.class, () -> GhostPieces.join(dumped(2), tmp));
        assertTrue(missing.getMessage().contains("of its " + (2 * GhostData.PIECE + 1024 * 1024 + 3) + " bytes")
                && missing.getMessage().contains("damaged image"), missing.getMessage());
        List<Object> left = new ArrayList<>(dumped(3));
        left.add(new GhostData(1, 2, 0, new byte[1]));
        RestoreException over = assertThrows(RestoreException.class, () -> GhostPieces.join(left, tmp));
        assertTrue(over.getMessage().contains("1:2 (dev:ino) that no task carries"), over.getMessage());
    }
}
