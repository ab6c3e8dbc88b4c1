package dev.cryo.engine.model;

/**
 * A deleted (unlinked) file a task still maps or holds open, with its data: restore
 * recreates it, maps or opens it, and unlinks it again. Carried by the first task of the dump that
 * holds it; {@code file} is its identity at dump time (device and inode tell which mappings and
 * fds of which tasks are this file), {@code uid} and {@code gid} its owner, given back with its mode.
 * {@code data} holds its data extents as {start, end} byte pairs (SEEK_DATA/SEEK_HOLE): the rest are
 * holes, made again as holes (a sparse file stays sparse, a program may look for its holes);
 * {@code contents} are the bytes of those extents one after the other (a 1 GiB file with 8 KiB of
 * data carries 8 KiB), its size is the file's.
 * {@code linkedAt}: empty, or another name under which the deleted name's file is still linked, in
 * the same directory (glibc's sem_open maps its file under a temporary name, links it to the
 * semaphore's name and unlinks the temporary one) or elsewhere on its file system: no contents then; restore links that file to
 * the deleted name for an instant, so the mapping is that very file again.
 * {@code hugePageBytes}: the huge page size of a file of a hugetlbfs mount (qemu's {@code -mem-path}), 0
 * for any other (version 2): made again on a hugetlbfs mount of that page size, through a mapping; its
 * data extents are its huge pages that did not read zero.
 * {@code mountOf} (version 3): the pid of a task of the tree in whose mount namespace the file is made again
 * (its path read there, on that namespace's restored mount: a tmpfs only the tree's namespace mounts), or where
 * {@code linkedAt} names it; 0 where cryo sees its path.
 * {@code apart} (version 4): in the image, {@code contents} is empty and its bytes follow in {@link GhostData}
 * records, so a file of more than a chunk travels; the restore leaves them in the image and reads them one at a
 * time as it writes the file again ({@code pieces}, the restore's own, never in the image: {@code GhostPieces}).
 */
public record GhostFile(FileRef file, byte[] contents, int uid, int gid, long[] data, String linkedAt,
                        long hugePageBytes, int mountOf, boolean apart, Pieces pieces) {
    public GhostFile(FileRef file, byte[] contents, int uid, int gid, long[] data, String linkedAt,
                     long hugePageBytes, int mountOf, boolean apart) {
        this(file, contents, uid, gid, data, linkedAt, hugePageBytes, mountOf, apart, null);
    }

    public GhostFile(FileRef file, byte[] contents, int uid, int gid, long[] data, String linkedAt,
                     long hugePageBytes, int mountOf) {
        this(file, contents, uid, gid, data, linkedAt, hugePageBytes, mountOf, false);
    }

    /** Where a restore reads the contents of an apart file: its pieces, one at a time, in order. */
    public interface Pieces {
        void each(Use use) throws java.io.IOException;

        /**
         * The same, through what they are read from opened now, in the caller's view of the files: a later
         * {@link #each} may run in a task's mount namespace, where the image's path names nothing. Close it after.
         */
        default Opened open() throws java.io.IOException {
            Pieces self = this;
            return new Opened() {
                @Override
                public void each(Use use) throws java.io.IOException {
                    self.each(use);
                }

                @Override
                public void close() {}
            };
        }

        interface Use {
            void piece(GhostData d) throws java.io.IOException;
        }

        interface Opened extends Pieces, java.io.Closeable {}
    }

    public GhostFile(FileRef file, byte[] contents, int uid, int gid, long[] data) {
        this(file, contents, uid, gid, data, "", 0);
    }

    public GhostFile(FileRef file, byte[] contents, int uid, int gid, long[] data, String linkedAt) {
        this(file, contents, uid, gid, data, linkedAt, 0);
    }

    public GhostFile(FileRef file, byte[] contents, int uid, int gid, long[] data, String linkedAt, long hugePageBytes) {
        this(file, contents, uid, gid, data, linkedAt, hugePageBytes, 0);
    }

    /** The bytes of its data extents, whether in {@code contents} or apart. */
    public long dataBytes() {
        long n = 0;
        for (int i = 0; i + 1 < data.length; i += 2) {
            n += data[i + 1] - data[i];
        }
        return n;
    }

    /** The same, its contents apart to be read from {@code from}. */
    public GhostFile withPieces(Pieces from) {
        return new GhostFile(file, contents, uid, gid, data, linkedAt, hugePageBytes, mountOf, apart, from);
    }

    /** Whether the file is one run of data from start to end (no hole to make). */
    public boolean dense() {
        return data.length == 2 && data[0] == 0 && data[1] == file.size() && contents.length == file.size();
    }
}
