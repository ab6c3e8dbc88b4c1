package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

import java.util.List;

/** Finds a {@code syscall} instruction (0f 05) in a mapping the target already has, e.g. its [vdso]. */
public final class SyscallGadget {
    private SyscallGadget() {}

    /** The syscall instruction of the task's [vdso]: every task has one, a stub that never ran code included. */
    public static long inVdso(Pid pid) {
        return inVdso(pid, ProcFs.maps(pid));
    }

    /**
     * The same, from maps already read. A task without a [vdso] (valgrind unmaps it for its guest)
     * is given the first syscall instruction of its executable file mappings (libc's, the program's):
     * read-only code the task already has, so nothing is written into it either.
     */
    public static long inVdso(Pid pid, List<MapsEntry> maps) {
        MapsEntry vdso = maps.stream().filter(MapsEntry::isVdso).findFirst().orElse(null);
        if (vdso != null) {
            return find(pid, vdso.start(), vdso.end());
        }
        for (MapsEntry m : maps) {
            if (m.read() && m.exec() && !m.write() && !m.isSpecial() && m.path().startsWith("/")) {
                try {
                    return find(pid, m.start(), m.end());
                } catch (KernelException none) {
                    // no syscall in its first 64 KiB: the next one
                }
            }
        }
        throw new KernelException("pid " + pid + " has no [vdso] and no syscall instruction in its executable file "
                + "mappings: cannot inject syscalls");
    }

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
