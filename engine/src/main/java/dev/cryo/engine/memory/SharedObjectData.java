package dev.cryo.engine.memory;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;

import java.util.Map;

/**
 * A piece of a shared memory object's contents that no mapping of the tree shows: pages left behind
 * by remap_file_pages (a window moved onto other pages of the object), by a mapping shrunk or partly
 * unmapped, or by the tasks that mapped them and are gone, while another task still maps the object
 * elsewhere. Natively those pages are still there (mremap back, remap_file_pages back, a fork's
 * child that maps the whole object again sees them); without this record they came back as zeros.
 * Read once every task is collected ({@link dev.cryo.engine.dump.SharedObjectRest}), a record of its
 * own per piece (a task's record is one chunk); written into the object when the restore makes it
 * ({@link dev.cryo.engine.restore.SharedMemoryHub#of}). {@code ino} names the object as the areas'
 * {@code file().ino()} do; {@code at} is the byte offset of {@code bytes} in it.
 */
public record SharedObjectData(long ino, long at, byte[] bytes) {
    /** Bytes per piece: the default chunk size, well under the readers' max-chunk. */
    public static final int PIECE = 4 << 20;
    static final int RECORD_ID = 6660;

    public static final RecordCodec<SharedObjectData> CODEC = RecordCodec.of(SharedObjectData.class, RECORD_ID, 1,
            (out, d) -> {
                out.writeLong(d.ino());
                out.writeVarLong(d.at(), true);
                ModelFields.writeBytes(out, d.bytes(), PIECE, "SharedObjectData.bytes");
            },
            (in, version) -> new SharedObjectData(in.readLong(), in.readVarLong(true),
                    ModelFields.readBytes(in, PIECE, "SharedObjectData.bytes")));

    /** For {@code cryo show}: where the piece goes, not its bytes. */
    public Map<String, Object> json() {
        return dev.cryo.engine.show.ShowFormat.ordered("object", ino, "offset", dev.cryo.engine.show.ShowFormat.hex(at),
                "bytes", bytes.length);
    }
}
