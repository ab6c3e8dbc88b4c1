package dev.cryo.engine.image;

import java.util.ArrayList;
import java.util.List;

/**
 * Records written in parts ({@link ImageFormat#FLAG_CONTINUED}): a record's chunks are consecutive
 * record chunks, all but the last flagged, at most {@link ImageFormat#MAX_RECORD_PARTS} of them.
 */
final class RecordParts {
    private RecordParts() {}

    /** Fails unless every record in parts is whole in {@code entries} (an image's chunks, in order). */
    static void check(List<IndexEntry> entries, String name) throws ImageCorruptException {
        int run = 0;
        for (int i = 0; i < entries.size(); i++) {
            IndexEntry e = entries.get(i);
            if (run > 0 && e.type() != ChunkType.RECORD) {
                throw new ImageCorruptException(name + " " + entries.get(i - 1).describe() + ": a record that goes on"
                        + " in the next chunk, which is not a record chunk: damaged image");
            }
            run = e.continued() ? run + 1 : 0;
            if (run >= ImageFormat.MAX_RECORD_PARTS) {
                throw new ImageCorruptException(name + " " + e.describe() + ": a record in more than "
                        + ImageFormat.MAX_RECORD_PARTS + " chunks: damaged image");
            }
        }
        if (run > 0) {
            throw new ImageCorruptException(name + " " + entries.get(entries.size() - 1).describe() + ": a record that"
                    + " goes on after the last chunk: damaged image");
        }
    }

    /** The record chunks where a record starts. */
    static List<IndexEntry> starts(List<IndexEntry> entries) {
        List<IndexEntry> out = new ArrayList<>();
        boolean inRecord = false;
        for (IndexEntry e : entries) {
            if (e.type() == ChunkType.RECORD && !inRecord) {
                out.add(e);
            }
            inRecord = e.continued();
        }
        return out;
    }

    /** The chunks of the record that starts at {@code first} (checked whole by {@link #check}). */
    static List<IndexEntry> of(List<IndexEntry> entries, IndexEntry first) {
        List<IndexEntry> out = new ArrayList<>();
        for (int i = first.number(); ; i++) {
            IndexEntry e = entries.get(i);
            out.add(e);
            if (!e.continued()) {
                return out;
            }
        }
    }
}
