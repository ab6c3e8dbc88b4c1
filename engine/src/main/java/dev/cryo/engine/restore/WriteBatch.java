package dev.cryo.engine.restore;

import dev.cryo.kernel.IoVecs;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Ranges of page data to write into a task, gathered and written by one process_vm_writev of up
 * to {@link IoVecs#MAX} ranges: a heap whose data pages lie between zero pages (a JVM's, Go's,
 * calloc'd buffers: the zero pages are not in the image) is tens of thousands of small chunks,
 * and one call each cost more than the pages themselves. The ranges' buffers must stay as they are
 * until {@link #flush}. A range the call cannot write (an area mapped without PROT_WRITE) goes
 * alone through the writer's fallbacks.
 */
final class WriteBatch {
    interface Single {
        void write(long address, ByteBuffer src, int at, int len) throws IOException;
    }

    private final IoVecs local = new IoVecs(IoVecs.MAX);
    private final IoVecs remote = new IoVecs(IoVecs.MAX);
    private final long[] address = new long[IoVecs.MAX];
    private final ByteBuffer[] source = new ByteBuffer[IoVecs.MAX];
    private final int[] at = new int[IoVecs.MAX];
    private final int[] length = new int[IoVecs.MAX];
    private int count;

    boolean full() {
        return count == IoVecs.MAX;
    }

    void add(long to, ByteBuffer src, int from, int len) {
        address[count] = to;
        source[count] = src;
        at[count] = from;
        length[count] = len;
        count++;
    }

    /** Writes every range and empties the batch. */
    void flush(Pid pid, Single single) throws IOException {
        int first = 0;
        while (first < count) {
            long done = writev(pid, first);
            int i = first;
            while (i < count && done >= length[i]) {
                done -= length[i++];
            }
            if (i < count) { // the call stopped in range i: the rest of it alone, then the next ranges together again
                single.write(address[i] + done, source[i], at[i] + (int) done, length[i] - (int) done);
                i++;
            }
            first = i;
        }
        java.util.Arrays.fill(source, 0, count, null);
        count = 0;
    }

    /** One process_vm_writev of ranges [first, count): the bytes it wrote, 0 when it refused the first range. */
    private long writev(Pid pid, int first) {
        int n = count - first;
        for (int i = 0; i < n; i++) {
            int r = first + i;
            local.set(i, Sys.address(source[r], at[r]), length[r]);
            remote.set(i, address[r], length[r]);
        }
        local.count(n);
        remote.count(n);
        try {
            return Sys.processVm(true, pid, local, remote);
        } catch (KernelException refused) {
            return 0;
        } finally {
            java.lang.ref.Reference.reachabilityFence(source);
        }
    }
}
