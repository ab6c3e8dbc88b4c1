package dev.cryo.kernel.proc;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An open /proc/PID/pagemap for many positional reads; keep one per dump so large address
 * spaces cost no reopen and no per-call garbage. Not thread-safe (it reuses one scratch buffer).
 */
public final class PagemapReader implements AutoCloseable {
    /** Entries per positional read when filling a LongBuffer: 512 KiB of scratch at most. */
    private static final int CHUNK = 64 * 1024;

    private final String path;
    private final FileChannel channel;
    private ByteBuffer scratch;

    private PagemapReader(String path, FileChannel channel) {
        this.path = path;
        this.channel = channel;
    }

    public static PagemapReader open(Pid pid) {
        String path = pid.procDir() + "/pagemap";
        try {
            return new PagemapReader(path, FileChannel.open(Path.of(path), StandardOpenOption.READ));
        } catch (IOException e) {
            throw ProcErrors.of("open " + path, e);
        }
    }

    public String path() {
        return path;
    }

    /** The entries of {@code pages} pages from {@code startAddress} (rounded down to its page). */
    public long[] read(long startAddress, int pages) {
        if (pages < 0) {
            throw new IllegalArgumentException("negative page count " + pages);
        }
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(pages, Pagemap.ENTRY_BYTES)).order(ByteOrder.nativeOrder());
        read(startAddress, b);
        b.flip();
        long[] out = new long[pages];
        b.asLongBuffer().get(out);
        return out;
    }

    /**
     * Fills {@code dst} from its position to its limit (a multiple of 8 bytes) with one entry per
     * page from {@code startAddress}, in native byte order; the position ends at the limit. The
     * file ends at TASK_SIZE, so a range reaching past it (the vsyscall page) fails as a short read.
     */
    public void read(long startAddress, ByteBuffer dst) {
        if (dst.remaining() % Pagemap.ENTRY_BYTES != 0) {
            throw new IllegalArgumentException("pagemap buffer of " + dst.remaining() + " bytes is not whole entries");
        }
        long offset = Pagemap.fileOffset(startAddress);
        long want = dst.remaining();
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, offset + (want - dst.remaining()));
                if (n <= 0) {
                    throw new KernelException("read " + path + " at 0x" + Long.toHexString(startAddress) + ": got "
                            + (want - dst.remaining()) + " of " + want + " bytes");
                }
            }
        } catch (IOException e) {
            throw ProcErrors.of("read " + path + " at 0x" + Long.toHexString(startAddress), e);
        }
    }

    /** Fills {@code dst} from its position to its limit with one entry per page from {@code startAddress}. */
    public void read(long startAddress, LongBuffer dst) {
        long address = startAddress;
        while (dst.hasRemaining()) {
            int n = Math.min(dst.remaining(), CHUNK);
            if (scratch == null || scratch.capacity() < n * Pagemap.ENTRY_BYTES) {
                scratch = ByteBuffer.allocateDirect(Math.min(CHUNK, Math.max(n, dst.remaining())) * Pagemap.ENTRY_BYTES)
                        .order(ByteOrder.nativeOrder());
            }
            scratch.clear().limit(n * Pagemap.ENTRY_BYTES);
            read(address, scratch);
            scratch.flip();
            dst.put(scratch.asLongBuffer());
            address += (long) n * MapsEntry.PAGE_SIZE;
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw ProcErrors.of("close " + path, e);
        }
    }
}
