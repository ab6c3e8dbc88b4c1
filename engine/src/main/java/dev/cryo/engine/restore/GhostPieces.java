package dev.cryo.engine.restore;

import dev.cryo.engine.model.GhostData;
import dev.cryo.engine.model.GhostFile;
import dev.cryo.engine.model.TaskImage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Puts the contents of the deleted files that travelled apart ({@link GhostFile#apart()}) back into their
 * task records, from the {@link GhostData} records of the image, checked whole: a piece missing, out of place
 * or left over means the image is damaged.
 */
final class GhostPieces {
    private GhostPieces() {}

    /** {@code records} with each task's ghosts whole again and no {@link GhostData}; {@code where} names the image. */
    static List<Object> join(List<Object> records, String where) {
        Map<String, List<GhostData>> pieces = new HashMap<>();
        for (Object r : records) {
            if (r instanceof GhostData d) {
                pieces.computeIfAbsent(d.key(), k -> new ArrayList<>()).add(d);
            }
        }
        List<Object> out = new ArrayList<>(records.size());
        for (Object r : records) {
            if (r instanceof TaskImage t && t.ghostFiles().stream().anyMatch(GhostFile::apart)) {
                out.add(t.withGhostFiles(t.ghostFiles().stream()
                        .map(g -> g.apart() ? whole(g, pieces.remove(key(g)), where) : g).toList()));
            } else if (!(r instanceof GhostData)) {
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

    private static GhostFile whole(GhostFile g, List<GhostData> mine, String where) {
        long size = g.dataBytes();
        if (size > Integer.MAX_VALUE - 8) {
            throw new RestoreException(where + ": deleted file " + g.file().path() + " holds " + size
                    + " bytes of data, more than cryo carries: damaged image");
        }
        byte[] bytes = new byte[(int) size];
        long at = 0;
        for (GhostData d : mine == null ? List.<GhostData>of() : mine) { // in image order, as written
            if (d.at() != at || at + d.bytes().length > size) {
                throw new RestoreException(where + ": deleted file " + g.file().path() + " has a piece of its contents"
                        + " at " + d.at() + " where " + at + " was due (of " + size + " bytes): damaged image");
            }
            System.arraycopy(d.bytes(), 0, bytes, (int) at, d.bytes().length);
            at += d.bytes().length;
        }
        if (at != size) {
            throw new RestoreException(where + ": deleted file " + g.file().path() + " has " + at + " of its " + size
                    + " bytes of data: damaged image");
        }
        return g.withContents(bytes, false);
    }
}
