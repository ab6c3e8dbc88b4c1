package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.GhostData;
import dev.cryo.engine.model.GhostFile;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.codec.ModelCodecs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The contents of the deleted files that travelled apart ({@link GhostFile#apart()}): their {@link GhostData}
 * records stay in the image, each kept as where it is ({@link Piece}), and are read again one at a time as the
 * file is written (a file of up to 1 GiB was held whole, twice, while the restore ran). They are checked whole
 * before anything is made: a piece missing, out of place or left over means the image is damaged.
 */
final class GhostPieces {
    private GhostPieces() {}

    /**
     * A piece of file {@code key}'s contents at {@code at}, {@code length} bytes: chunk {@code chunk} of the image,
     * or {@code held} (a record given in memory).
     */
    record Piece(String key, long at, int length, IndexEntry chunk, GhostData held) {}

    /** {@code record}, read from {@code chunk}; a {@link GhostData} as where it is (its bytes are read again when written). */
    static Object inPlace(Object record, IndexEntry chunk) {
        return record instanceof GhostData d ? new Piece(d.key(), d.at(), d.bytes().length, chunk, null) : record;
    }

    /**
     * {@code records} (with {@link #inPlace} pieces) with each task's apart ghosts reading their pieces from the
     * image in {@code dir}, and without the pieces.
     */
    static List<Object> join(List<Object> records, Path dir) {
        String where = dir.resolve(ImageFormat.IMAGE_FILE).toString();
        Map<String, List<Piece>> pieces = new HashMap<>();
        for (Object r : records) {
            if (r instanceof Piece p) {
                pieces.computeIfAbsent(p.key(), k -> new ArrayList<>()).add(p);
            } else if (r instanceof GhostData d) {
                pieces.computeIfAbsent(d.key(), k -> new ArrayList<>()).add(new Piece(d.key(), d.at(), d.bytes().length, null, d));
            }
        }
        List<Object> out = new ArrayList<>(records.size());
        for (Object r : records) {
            if (r instanceof TaskImage t && t.ghostFiles().stream().anyMatch(GhostFile::apart)) {
                out.add(t.withGhostFiles(t.ghostFiles().stream()
                        .map(g -> g.apart() ? fromImage(g, pieces.remove(key(g)), dir, where) : g).toList()));
            } else if (!(r instanceof Piece) && !(r instanceof GhostData)) {
                out.add(r);
            }
        }
        if (!pieces.isEmpty()) {
            throw new RestoreException(where + " holds contents of deleted file " + pieces.keySet().iterator().next()
                    + " (dev:ino) that no task carries: damaged image");
        }
        return out;
    }

    private static String key(GhostFile g) {
        return g.file().dev() + ":" + g.file().ino();
    }

    private static GhostFile fromImage(GhostFile g, List<Piece> mine, Path dir, String where) {
        long size = g.dataBytes(), at = 0;
        List<Piece> in = mine == null ? List.of() : List.copyOf(mine);
        for (Piece p : in) { // in image order, as written
            if (p.at() != at || at + p.length() > size) {
                throw new RestoreException(where + ": deleted file " + g.file().path() + " has a piece of its contents"
                        + " at " + p.at() + " where " + at + " was due (of " + size + " bytes): damaged image");
            }
            at += p.length();
        }
        if (at != size) {
            throw new RestoreException(where + ": deleted file " + g.file().path() + " has " + at + " of its " + size
                    + " bytes of data: damaged image");
        }
        return g.withPieces(new FromImage(dir, in, g.file().path(), where));
    }

    /** The pieces of one file, read from the image in {@code dir} (those given in memory as they are). */
    private record FromImage(Path dir, List<Piece> in, String file, String where) implements GhostFile.Pieces {
        @Override
        public void each(Use use) throws IOException {
            try (Opened o = open()) {
                o.each(use);
            }
        }

        @Override
        public Opened open() throws IOException {
            ImageReader image = in.stream().allMatch(p -> p.held() != null) ? null
                    : ImageReader.openForPages(dir, ModelCodecs.ALL, ImageFormat.DEFAULT_MAX_CHUNK);
            return new Opened() {
                @Override
                public void each(Use use) throws IOException {
                    for (Piece p : in) {
                        Object r = p.held() != null ? p.held() : image.readRecord(p.chunk());
                        if (!(r instanceof GhostData d) || !d.key().equals(p.key()) || d.at() != p.at()
                                || d.bytes().length != p.length()) {
                            throw new RestoreException(where + ": " + p.chunk().describe() + " is no longer the piece"
                                    + " of deleted file " + file + " at " + p.at() + ": the image changed");
                        }
                        use.piece(d);
                    }
                }

                @Override
                public void close() throws IOException {
                    if (image != null) {
                        image.close();
                    }
                }
            };
        }
    }

    /** A run of a ghost's data: {@code len} bytes of {@code bytes} from {@code from} go at {@code at} in its file. */
    interface Extent {
        void write(long at, byte[] bytes, int from, int len) throws IOException;
    }

    /**
     * Each run of {@code g}'s data extents with its bytes, from its contents or, apart, piece by piece as they are
     * read (a run may span two pieces: it comes in two).
     */
    static void eachExtent(GhostFile g, Extent e) throws IOException {
        long[] d = g.data();
        long[] at = {0, 0}; // the extent (its index in d), the offset in the file
        next(d, at, 0);
        GhostFile.Pieces pieces = g.pieces() != null ? g.pieces() : use -> use.piece(new GhostData(0, 0, 0, g.contents()));
        pieces.each(p -> {
            byte[] b = p.bytes();
            for (int in = 0; in < b.length; ) {
                int i = (int) at[0];
                if (i + 1 >= d.length) {
                    throw new RestoreException("deleted file " + g.file().path() + " has more bytes than its data"
                            + " extents hold: damaged image");
                }
                int n = (int) Math.min(d[i + 1] - at[1], b.length - in);
                e.write(at[1], b, in, n);
                in += n;
                at[1] += n;
                if (at[1] == d[i + 1]) {
                    next(d, at, i + 2);
                }
            }
        });
        if (at[0] + 1 < d.length) {
            throw new RestoreException("deleted file " + g.file().path() + " has fewer bytes than its data extents"
                    + " hold: damaged image");
        }
    }

    /** Moves {@code at} to the first extent from {@code i} that holds a byte. */
    private static void next(long[] d, long[] at, int i) {
        while (i + 1 < d.length && d[i] == d[i + 1]) {
            i += 2;
        }
        at[0] = i;
        at[1] = i + 1 < d.length ? d[i] : 0;
    }
}
