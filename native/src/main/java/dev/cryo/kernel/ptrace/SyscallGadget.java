package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;

/** Finds a {@code syscall} instruction (0f 05) in a mapping the target already has, e.g. its [vdso]. */
public final class SyscallGadget {
    private SyscallGadget() {}

    public static long find(Pid pid, long start, long end) {
        int len = (int) Math.min(end - start, 1 << 16);
        byte[] code = Sys.read(pid, start, len);
        for (int i = 0; i + 1 < code.length; i++) {
            if (code[i] == 0x0f && code[i + 1] == 0x05) {
                return start + i;
            }
        }
        throw new KernelException("pid " + pid + ": no syscall instruction in 0x" + Long.toHexString(start)
                + "-0x" + Long.toHexString(end));
    }
}
