package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Injected syscalls that leave a thread whole whenever its tracer vanishes, with no code of cryo's
 * in the target: the syscall runs at a {@code syscall} instruction followed only by
 * register-clearing {@code xor}s and a {@code ret} (the vDSO's clock_getres fallback here, or
 * glibc's {@code syscall; ret}); the {@code ret} pops the address of a {@code mov $15, %rax;
 * syscall} (the C library's {@code __restore_rt}), and that rt_sigreturn takes the thread back to
 * its own registers, mask and FPU state from a {@link SigreturnFrame} written below its red zone.
 *
 * <p>So at every moment of the injection the thread is either still at its own registers, or at
 * registers whose next instructions are the syscall and then the way back: if cryo dies there, the
 * kernel lets the thread go and it runs one harmless syscall and carries on. This is how a
 * return pad is mapped and unmapped (a pad cannot map or unmap itself safely). A process with
 * neither gadget, or one running with a shadow stack (a {@code ret} to a gadget would fault), has
 * no route: its injections stay unprotected.
 */
public final class SigreturnRoute {
    /** Bytes scanned per mapping, and in all, when looking for the gadgets: a bound on the cost. */
    private static final int CHUNK = 1 << 16;
    private static final long SCAN_LIMIT = 32L << 20;
    private static final byte[] MOV_RAX_15 = {0x48, (byte) 0xc7, (byte) 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05};
    private static final byte[] MOV_EAX_15 = {(byte) 0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05};

    /** Gadget offsets found in a file mapping (or the vDSO), by mapping identity: -1 for none. */
    private static final Map<String, long[]> FOUND = new ConcurrentHashMap<>();
    /** Bytes of code scanned so far (the tests count what a find scans). */
    private static final java.util.concurrent.atomic.AtomicLong SCANNED = new java.util.concurrent.atomic.AtomicLong();

    private final Pid pid;
    private final long syscallRet;
    private final long sigreturn;

    private SigreturnRoute(Pid pid, long syscallRet, long sigreturn) {
        this.pid = pid;
        this.syscallRet = syscallRet;
        this.sigreturn = sigreturn;
    }

    /** The {@code syscall ... ret} gadget. */
    public long syscallRet() {
        return syscallRet;
    }

    /** The {@code mov $15, %rax; syscall} gadget. */
    public long sigreturn() {
        return sigreturn;
    }

    /** The route through a seized process's own code, or null when it has none. */
    public static SigreturnRoute find(Pid pid, List<MapsEntry> maps) {
        if (shadowStack(pid)) {
            return null;
        }
        List<MapsEntry> code = new ArrayList<>(maps.stream().filter(m -> m.exec() && m.read() && !m.isVsyscall())
                .toList());
        code.sort(Comparator.comparingInt(SigreturnRoute::rank));
        long ret = -1, sigret = -1, scanned = 0;
        for (MapsEntry m : code) {
            if (ret >= 0 && sigret >= 0 || scanned > SCAN_LIMIT) {
                break;
            }
            if (!m.isVdso() && m.inode() == 0) {
                continue; // anonymous code (a JIT) changes: not worth scanning
            }
            String key = m.isVdso() ? "[vdso]:" + m.size()
                    : m.devMajor() + ":" + m.devMinor() + ":" + m.inode() + ":" + m.offset() + ":" + m.size();
            long[] at = FOUND.get(key);
            if (at == null || !verified(pid, m, at)) {
                at = scan(pid, m);
                scanned += m.size();
                FOUND.put(key, at);
            }
            if (ret < 0 && at[0] >= 0) {
                ret = m.start() + at[0];
            }
            if (sigret < 0 && at[1] >= 0) {
                sigret = m.start() + at[1];
            }
        }
        return ret >= 0 && sigret >= 0 ? new SigreturnRoute(pid, ret, sigret) : null;
    }

    /**
     * Scans a running process's code for the gadgets ahead of its seize, so that {@link #find}
     * in the frozen window only checks the bytes at the offsets found (two small reads). The scan
     * reads its mappings byte by byte: in a cold JVM, interpreted, it took some 50 ms of CPU, the
     * largest piece of a small dump's frozen window. Read-only; a process that is gone or denies
     * the reads is skipped (find scans in the frozen window then, as before).
     */
    public static void learn(Pid pid) {
        try {
            find(pid, ProcFs.maps(pid));
        } catch (RuntimeException e) {
            // gone, or unreadable: the frozen window's find says what is wrong
        }
    }

    /**
     * Points a fresh injector (the thread at its own registers) at this route: writes the frame
     * that takes the thread back below its red zone, and puts the bytes that were there back when
     * the injector closes (after the registers). False, with nothing changed, when the thread's
     * stack has no room for the frame or its FPU state is not an XSAVE area.
     */
    public boolean arm(Tracer tracer, Injector inj, List<MapsEntry> maps) {
        Registers regs = inj.savedRegisters();
        byte[] xstate = tracer.getXstate(inj.tid());
        if (SigreturnFrame.xstateSize(xstate) < 0) {
            return false;
        }
        long base = SigreturnFrame.base(regs.rsp(), xstate);
        long end = base + SigreturnFrame.length(xstate);
        boolean room = maps.stream().anyMatch(m -> m.write() && !m.shared()
                && Long.compareUnsigned(m.start(), base) <= 0 && Long.compareUnsigned(end, m.end()) <= 0);
        if (!room || Long.compareUnsigned(end, regs.rsp() - SigreturnFrame.RED_ZONE) > 0) {
            return false;
        }
        byte[] frame = SigreturnFrame.build(base, regs, tracer.getSigmask(inj.tid()), xstate, sigreturn);
        byte[] before = Sys.read(pid, base, frame.length);
        Sys.write(pid, base, frame);
        inj.gadget(syscallRet);
        inj.stack(base);
        inj.afterClose(() -> Sys.write(pid, base, before));
        return true;
    }

    /** The C library and the loader first: they hold both gadgets. */
    private static int rank(MapsEntry m) {
        if (m.isVdso()) {
            return 0;
        }
        String name = m.path().substring(m.path().lastIndexOf('/') + 1);
        return name.startsWith("libc.") || name.startsWith("libc-") ? 1 : name.startsWith("ld-") ? 2 : 3;
    }

    private static boolean shadowStack(Pid pid) {
        try {
            for (String line : ProcFs.text(pid.procDir() + "/status").split("\n")) {
                if (line.startsWith("x86_Thread_features:")) {
                    return line.contains("shstk");
                }
            }
        } catch (KernelException e) {
            return true; // unknown: take no chance
        }
        return false;
    }

    private static boolean verified(Pid pid, MapsEntry m, long[] at) {
        try {
            if (at[0] >= 0 && syscallRetAt(Sys.read(pid, m.start() + at[0], 32), 0) < 0) {
                return false;
            }
            return at[1] < 0 || sigreturnAt(Sys.read(pid, m.start() + at[1], MOV_RAX_15.length), 0);
        } catch (KernelException e) {
            return false;
        }
    }

    private static long[] scan(Pid pid, MapsEntry m) {
        long[] at = {-1, -1};
        for (long off = 0; off < m.size() && (at[0] < 0 || at[1] < 0); off += CHUNK) {
            // overlapping chunks, so a gadget across a boundary is seen
            int len = (int) Math.min(CHUNK + 32, m.size() - off);
            byte[] code;
            try {
                code = Sys.read(pid, m.start() + off, len);
            } catch (KernelException e) {
                break;
            }
            SCANNED.addAndGet(code.length);
            for (int i = 0; i < Math.min(CHUNK, code.length); i++) {
                if (at[0] < 0 && syscallRetAt(code, i) >= 0) {
                    at[0] = off + i;
                }
                if (at[1] < 0 && sigreturnAt(code, i)) {
                    at[1] = off + i;
                }
            }
        }
        return at;
    }

    static long scannedBytes() {
        return SCANNED.get();
    }

    /** Forgets every gadget found (a test's fresh start, as in a cold JVM). */
    static void forgetAll() {
        FOUND.clear();
    }

    /** {@code syscall}, then only {@code xor r32, r32} (any register), then {@code ret}: i, or -1. */
    static int syscallRetAt(byte[] code, int i) {
        if (i + 2 >= code.length || code[i] != 0x0f || code[i + 1] != 0x05) {
            return -1;
        }
        int p = i + 2;
        for (int n = 0; n < 16 && p < code.length; n++) {
            int op = code[p] & 0xff;
            if (op == 0xc3) {
                return i;
            }
            int q = p;
            if (op >= 0x40 && op <= 0x4f) {
                q++; // REX prefix: the xor of an r8..r15 register
            }
            if (q + 1 >= code.length) {
                return -1;
            }
            int xor = code[q] & 0xff, modrm = code[q + 1] & 0xff;
            if ((xor != 0x31 && xor != 0x33) || (modrm >> 6) != 3 || ((modrm >> 3) & 7) != (modrm & 7)) {
                return -1;
            }
            if (q > p && ((op >> 2) & 1) != (op & 1)) {
                return -1; // REX.R and REX.B must name the same register
            }
            p = q + 2;
        }
        return -1;
    }

    static boolean sigreturnAt(byte[] code, int i) {
        return matches(code, i, MOV_RAX_15) || matches(code, i, MOV_EAX_15);
    }

    private static boolean matches(byte[] code, int i, byte[] pattern) {
        if (i + pattern.length > code.length) {
            return false;
        }
        for (int k = 0; k < pattern.length; k++) {
            if (code[i + k] != pattern[k]) {
                return false;
            }
        }
        return true;
    }
}
