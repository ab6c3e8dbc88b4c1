package dev.cryo.kernel;

import java.util.ArrayList;
import java.util.List;

/**
 * A thread's robust futex list ({@code set_robust_list}): glibc links every robust mutex the thread
 * holds into it, and when the thread exits the kernel walks it and marks each futex word the thread
 * still owns {@code FUTEX_OWNER_DIED}, a write into whatever memory holds the mutex
 * (kernel/futex/core.c, exit_robust_list). The walk here follows the kernel's: entries from the
 * head's {@code next} until the head comes back, each futex at entry + {@code futex_offset}, at most
 * {@link #LIMIT} entries, then the entry being locked or unlocked ({@code list_op_pending}); the low
 * bit of each pointer only says the futex is priority-inheriting. An unreadable word ends the walk,
 * as it ends the kernel's.
 */
public final class RobustList {
    private RobustList() {}

    /** {@code sizeof(struct robust_list_head)}: next, futex_offset, list_op_pending; set_robust_list takes no other length. */
    public static final long HEAD_SIZE = 24;
    /** ROBUST_LIST_LIMIT: the kernel stops after this many entries (a list looping on itself). */
    static final int LIMIT = 2048;

    /** {@code count} 64-bit words of the thread's memory from {@code address}; throws when they cannot be read. */
    public interface Memory {
        long[] words(long address, int count);
    }

    /** The memory of {@code pid}, read with process_vm_readv. */
    public static Memory memoryOf(Pid pid) {
        return (address, count) -> {
            java.nio.LongBuffer b = java.nio.ByteBuffer.wrap(Sys.read(pid, address, 8 * count))
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer();
            long[] w = new long[count];
            b.get(w);
            return w;
        };
    }

    /** The addresses of the futex words the kernel would look at when the thread exits (owned ones are written). */
    public static List<Long> futexes(long head, Memory m) {
        List<Long> out = new ArrayList<>();
        if (head == 0) {
            return out;
        }
        long entry;
        long offset;
        long pending;
        try {
            long[] h = m.words(head, 3);
            entry = h[0] & ~1L;
            offset = h[1];
            pending = h[2] & ~1L;
        } catch (RuntimeException e) {
            return out;
        }
        for (int n = 0; entry != head && n < LIMIT; n++) {
            if (entry != pending) {
                out.add(entry + offset);
            }
            try {
                entry = m.words(entry, 1)[0] & ~1L;
            } catch (RuntimeException e) {
                break;
            }
        }
        if (pending != 0) {
            out.add(pending + offset);
        }
        return out;
    }
}
