package dev.cryo.engine.restore;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;

import java.util.List;

/**
 * Where cryo's restore code and data live inside each task while it is rebuilt: an area free in
 * every dumped layout, mapped into the root stub and inherited by every task forked from it.
 * Page 0 holds code: {@code syscall; int3} (the injection gadget) and a {@code pause} loop that a
 * task handed from one tracer to another waits in. Pages 1.. are data (paths, structs). The last
 * part is scratch room to move the vDSO block through.
 */
public record BootstrapArea(long address) {
    public static final long PAGE = 4096;
    public static final long CODE_AND_DATA = 4 * PAGE;
    public static final long SIZE = CODE_AND_DATA + 16 * PAGE;

    public static final byte[] CODE = {
            0x0f, 0x05, (byte) 0xcc,                 // +0: syscall; int3
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   // padding to +16
            (byte) 0xb8, 0x22, 0, 0, 0,              // +16: mov eax, 34 (pause)
            0x0f, 0x05,                              // syscall
            (byte) 0xeb, (byte) 0xf7};               // jmp +16

    public long gadget() {
        return address;
    }

    public long pauseLoop() {
        return address + 16;
    }

    public long data() {
        return address + PAGE;
    }

    public static final long DATA_SIZE = CODE_AND_DATA - PAGE;

    /** Room to park the vDSO block while it moves to its dumped place. */
    public long vdsoParking() {
        return address + CODE_AND_DATA;
    }

    /** The lowest page-aligned area above 4 GiB that no VMA of any task uses. */
    public static BootstrapArea choose(List<TaskImage> tasks) {
        return new BootstrapArea(lowestClearOf(ranges(tasks)));
    }

    /**
     * As {@link #choose(List)}, but {@code premapped} (0: none) when no VMA of any task is in its way:
     * the area a migration's stub mapped while the pre-copy arrived ({@link ArrivingMemory}), whose
     * adoption then maps none (an injected call, two round trips in the downtime).
     */
    public static BootstrapArea choose(List<TaskImage> tasks, long premapped) {
        if (premapped != 0 && lowestClearOf(ranges(tasks), premapped) == premapped) {
            return new BootstrapArea(premapped);
        }
        return choose(tasks);
    }

    /** The lowest page-aligned area above 4 GiB clear of {@code ranges} (start, end pairs). */
    public static long lowestClearOf(List<long[]> ranges) {
        return lowestClearOf(ranges, 1L << 32);
    }

    private static long lowestClearOf(List<long[]> ranges, long from) {
        long candidate = from;
        boolean moved = true;
        while (moved) {
            moved = false;
            for (long[] r : ranges) {
                if (r[0] < candidate + SIZE && candidate < r[1]) {
                    candidate = (r[1] + 0xfffffL) & ~0xfffffL; // next 1 MiB boundary past it
                    moved = true;
                }
            }
        }
        return candidate;
    }

    private static List<long[]> ranges(List<TaskImage> tasks) {
        List<long[]> out = new java.util.ArrayList<>();
        for (TaskImage t : tasks) {
            for (VmaImage v : t.vmas()) {
                out.add(new long[] {v.start(), v.end()});
            }
        }
        return out;
    }
}
