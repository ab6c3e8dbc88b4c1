package dev.cryo.engine.memory;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.SyscallNr;
import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_RDONLY;
import static dev.cryo.kernel.Fcntl.O_RDWR;

/** What the kinds' restore halves share: mmap flags from the image, and mapping a file by path. */
final class Mapper {
    static final int MAP_ANONYMOUS = VmaImage.MAP_ANONYMOUS, MAP_FIXED = 0x10, MAP_GROWSDOWN = VmaImage.MAP_GROWSDOWN,
            MAP_NORESERVE = VmaImage.MAP_NORESERVE;

    private Mapper() {}

    /**
     * Holds a mapping's place with an inaccessible, unreserved anonymous area, mapped once the task's
     * memory is laid out; the fd it belongs to is mapped over it at the FILES stage.
     */
    static void holdPlace(TaskContext t, VmaImage v, String what) {
        t.later("mmap(placeholder for " + what + " at 0x" + Long.toHexString(v.start()) + ")", SyscallNr.MMAP,
                v.start(), v.end() - v.start(), 0 /* PROT_NONE */, 2 /* MAP_PRIVATE */ | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                -1, 0);
    }

    /** MAP_SHARED or MAP_PRIVATE, MAP_FIXED, and what the area needs (growing down, no reserve). */
    static long flags(VmaImage v) {
        long flags = (v.flags() & (VmaImage.MAP_SHARED | VmaImage.MAP_PRIVATE)) | MAP_FIXED;
        if ((v.flags() & VmaImage.MAP_GROWSDOWN) != 0) {
            flags |= MAP_GROWSDOWN;
        }
        if ((v.advice() & VmAdvice.NORESERVE) != 0) {
            flags |= MAP_NORESERVE;
        }
        return flags;
    }

    /**
     * The largest piece of an area charged for writing that one mmap or mprotect asks for. The kernel's
     * heuristic overcommit (vm.overcommit_memory 0) refuses one request larger than the host's memory and
     * swap together, but not the steps a program grew such an area by (brk, adjacent mmaps the kernel merged):
     * stress-ng's malloc stressor holds a 57 GiB sparse heap on a 24 GiB host. Pieces mapped one after the
     * other merge into one area again.
     */
    static final long ACCOUNTED_PIECE = 1L << 30;

    /**
     * [start, end) of {@code v} in pieces of at most {@link #ACCOUNTED_PIECE} when mapping or protecting it
     * with {@code prot} charges it for writing (private, writable, not MAP_NORESERVE, not growing down);
     * else the whole area in one.
     */
    static java.util.List<long[]> pieces(VmaImage v, int prot) {
        long size = v.end() - v.start();
        boolean charged = (prot & VmaImage.PROT_WRITE) != 0 && (v.flags() & VmaImage.MAP_PRIVATE) != 0
                && (v.advice() & VmAdvice.NORESERVE) == 0 && (v.flags() & VmaImage.MAP_GROWSDOWN) == 0;
        if (!charged || size <= ACCOUNTED_PIECE) {
            return java.util.List.of(new long[] {v.start(), v.end()});
        }
        java.util.List<long[]> out = new java.util.ArrayList<>();
        for (long at = v.start(); at < v.end(); at += ACCOUNTED_PIECE) {
            out.add(new long[] {at, Math.min(v.end(), at + ACCOUNTED_PIECE)});
        }
        return out;
    }

    /** The dumped protection plus PROT_WRITE, so cryo can write the pages; {@code protect} takes it back. */
    static int writable(VmaImage v) {
        return v.prot() | VmaImage.PROT_WRITE;
    }

    /**
     * A private area is mapped writable (then protected) only if it was charged for writing (smaps
     * "ac"), as the kernel would have done; otherwise with its own protection, so it is not charged
     * either: cryo then writes its pages through /proc/PID/mem, which may write any area.
     */
    static int privateProt(VmaImage v) {
        return (v.advice() & VmAdvice.ACCOUNTED) != 0 ? writable(v) : v.prot();
    }

    /**
     * How a shared file mapping's file is opened: for writing if the area is writable, or may be made
     * so (VM_MAYWRITE: its file was open for writing, zdtm's maps_file_prot), else read-only, so
     * mprotect refuses PROT_WRITE as it did before.
     */
    static int sharedFileMode(VmaImage v) {
        return (v.prot() & VmaImage.PROT_WRITE) != 0 || (v.advice() & VmAdvice.MAYWRITE) != 0 ? O_RDWR : O_RDONLY;
    }

    /** Opens {@code path} in the task, maps it over the area with {@code prot}, closes it again. */
    static void mapFile(TaskContext t, VmaImage v, String path, int openFlags, int prot) {
        // open, mmap and close with the calls around them in one batch (failures reported at the flush)
        t.laterWithFile(path, v.file() != null && path.equals(v.file().path()) ? v.file() : null,
                openFlags | O_CLOEXEC, fd -> t.later("mmap(" + path + ")", SyscallNr.MMAP, v.start(),
                        v.end() - v.start(), prot, flags(v), fd, v.offset()));
    }
}
