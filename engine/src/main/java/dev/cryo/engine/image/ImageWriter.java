package dev.cryo.engine.image;

import dev.cryo.engine.files.PrivateModes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one image directory. Everything goes to {@code image.cryo.partial}; only
 * {@link #commit()} (index + trailer, fsync, atomic rename, directory fsync) produces
 * {@code image.cryo}. {@link #abort()} (also done by {@link #close()} when not committed)
 * deletes the partial file, so a failed dump never leaves something that looks complete.
 */
public final class ImageWriter implements ImageSink {
    private static final Logger log = LoggerFactory.getLogger(ImageWriter.class);

    private final Path dir;
    private final Path partial;
    private final Path image;
    private final ImageOptions options;
    private final FileChannel channel;
    private final ImageChannelWriter framing;
    private boolean committed;
    private boolean aborted;

    private ImageWriter(Path dir, FileChannel channel, ImageChannelWriter framing, ImageOptions options) {
        this.dir = dir;
        this.partial = dir.resolve(ImageFormat.PARTIAL_FILE);
        this.image = dir.resolve(ImageFormat.IMAGE_FILE);
        this.channel = channel;
        this.framing = framing;
        this.options = options;
    }

    /**
     * Creates dir (0700) if absent and starts {@code image.cryo.partial} (0600). Refuses a
     * directory that already holds an image or a partial file of another (or crashed) dump.
     */
    public static ImageWriter create(Path dir, RecordCodecs codecs, ImageOptions options) throws IOException {
        try {
            Files.createDirectories(dir, PrivateModes.DIR_ATTRIBUTE);
        } catch (FileAlreadyExistsException e) { // a file, or a link to one, where a directory is wanted
            throw new ImageException("the image directory " + dir + ": " + e.getFile() + " is not a directory");
        } catch (IOException e) {
            throw new ImageException("cannot make the image directory " + dir + ": "
                    + (e instanceof java.nio.file.FileSystemException f && f.getFile() != null && !f.getFile().equals(dir.toString())
                    ? f.getFile() + ": " : "") + dev.cryo.kernel.FileErrors.reason(e));
        }
        if (Files.exists(dir.resolve(ImageFormat.IMAGE_FILE))) {
            throw new ImageException(dir + " already holds an image; remove it or choose another directory");
        }
        Path partial = dir.resolve(ImageFormat.PARTIAL_FILE);
        FileChannel ch;
        try {
            ch = FileChannel.open(partial, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), PrivateModes.FILE_ATTRIBUTE);
        } catch (FileAlreadyExistsException e) {
            throw new ImageException(dir + " holds " + ImageFormat.PARTIAL_FILE
                    + " from an unfinished or running dump; remove it or choose another directory");
        }
        try {
            return new ImageWriter(dir, ch, new ImageChannelWriter(ch, codecs, options), options);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(partial);
            throw e;
        }
    }

    @Override
    public IndexEntry writeRecord(Object record) throws IOException {
        return framing.writeRecord(record);
    }

    /** See {@link ImageChannelWriter#writePages}: direct buffer, consumed, reusable after return. */
    @Override
    public IndexEntry writePages(int pid, long vaddr, int pageCount, ByteBuffer data) throws IOException {
        return framing.writePages(pid, vaddr, pageCount, data);
    }

    @Override
    public IndexEntry writeFill(int pid, long vaddr, int pageCount, byte value) throws IOException {
        return framing.writeFill(pid, vaddr, pageCount, value);
    }

    @Override
    public ConcurrentPages concurrentPages() {
        if (!framing.concurrentPages()) return null;
        return new ConcurrentPages() {
            @Override
            public IndexEntry writePages(int pid, long vaddr, int pageCount, ByteBuffer data, Scratch scratch) throws IOException {
                return framing.writePagesConcurrently(pid, vaddr, pageCount, data, scratch.header, scratch.crc);
            }

            @Override
            public IndexEntry writeFill(int pid, long vaddr, int pageCount, byte value) throws IOException {
                return framing.writeFill(pid, vaddr, pageCount, value);
            }
        };
    }

    @Override
    public void sync() throws IOException {
        if (options.fsync()) channel.force(false);
    }

    /** Index + trailer, fsync (if enabled), rename to image.cryo, fsync the directory. */
    @Override
    public void commit() throws IOException {
        if (committed) return;
        if (aborted) throw new IllegalStateException("image was aborted");
        framing.finish();
        if (options.fsync()) channel.force(true);
        channel.close();
        framing.close();
        Files.move(partial, image, StandardCopyOption.ATOMIC_MOVE);
        committed = true;
        if (options.fsync()) {
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true); // makes the rename itself durable
            }
        }
        log.debug("committed {}: {} chunks, {} bytes", image, framing.chunksWritten(), framing.bytesWritten());
    }

    /** Deletes the partial file. Safe to call more than once and after a failed write. */
    @Override
    public void abort() throws IOException {
        if (committed || aborted) return;
        aborted = true;
        framing.close();
        try {
            channel.close();
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    /** Aborts unless committed. */
    @Override
    public void close() throws IOException {
        abort();
    }

    @Override
    public long bytesWritten() {
        return framing.bytesWritten();
    }

    @Override
    public int chunksWritten() {
        return framing.chunksWritten();
    }

    public long pageBytes() {
        return framing.pageBytes();
    }

    public List<IndexEntry> entries() {
        return framing.entries();
    }

    public Path directory() {
        return dir;
    }

    @Override
    public String describe() {
        return "the image in " + dir;
    }
}
