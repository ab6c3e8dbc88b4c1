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
        long candidate = 1L << 32;
        boolean moved = true;
        while (moved) {
            moved = false;
            for (TaskImage t : tasks) {
                for (VmaImage v : t.vmas()) {
                    if (v.start() < candidate + SIZE && candidate < v.end()) {
                        candidate = (v.end() + 0xfffffL) & ~0xfffffL; // next 1 MiB boundary past it
                        moved = true;
                    }
                }
            }
        }
        return new BootstrapArea(candidate);
    }
}
