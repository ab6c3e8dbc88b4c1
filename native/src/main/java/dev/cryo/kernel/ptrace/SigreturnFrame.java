package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.SyscallNr;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * An x86_64 {@code struct rt_sigframe} that takes a thread back to given registers, signal mask
 * and FPU state when the thread runs {@code rt_sigreturn} on it: the same frame the kernel
 * builds for a signal handler. It sits below the thread's red zone, where the kernel itself may
 * put a signal frame at any moment, so writing it changes nothing the program can rely on.
 *
 * <p>Layout from its base: pretcode (the address a {@code ret} pops), ucontext (flags, link,
 * stack, sigcontext, sigmask), siginfo, then the XSAVE area 64-byte aligned and its closing
 * magic. rt_sigreturn finds the frame 8 bytes below its rsp, i.e. at the base once the
 * {@code ret} has popped the pretcode.
 */
public final class SigreturnFrame {
    public static final int RED_ZONE = 128;
    /** pretcode (8) + ucontext (304) + siginfo (128), rounded up to the XSAVE alignment. */
    static final int HEAD = 448;
    private static final int UC = 8, UC_STACK = UC + 16, SIGCONTEXT = UC + 40, SIGMASK = UC + 296;
    private static final long UC_FP_XSTATE = 1, UC_SIGCONTEXT_SS = 2, UC_STRICT_RESTORE_SS = 4;
    /** An invalid stack mode: the kernel's restore_altstack fails with EINVAL, which it ignores, so
     *  the thread's sigaltstack stays as it is (cryo does not know it before injecting). */
    private static final int SS_FLAGS_UNCHANGED = 3;
    private static final int FP_XSTATE_MAGIC1 = 0x46505853, FP_XSTATE_MAGIC2 = 0x46505845;
    /** The legacy area's software-reserved bytes: struct _fpx_sw_bytes in a signal frame. */
    private static final int SW_BYTES = 464, XSAVE_HEADER = 512, XSAVE_MIN = 576, TILEDATA_SIZE = 8192;
    private static final long FEATURES_FP_SSE = 3, XTILEDATA = 1L << 18;

    /** sigcontext order of the general registers, as indexes into user_regs_struct. */
    private static final int[] SIGCONTEXT_REGS = {Registers.R8, Registers.R9, Registers.R10, Registers.R11,
            Registers.R12, Registers.R13, Registers.R14, Registers.R15, Registers.RDI, Registers.RSI, Registers.RBP,
            Registers.RBX, Registers.RDX, Registers.RAX, Registers.RCX, Registers.RSP, Registers.RIP,
            Registers.EFLAGS};

    private SigreturnFrame() {}

    /**
     * Bytes of the XSAVE area the kernel restores from, or -1 when the area is not an XSAVE one.
     * ptrace gives the standard (non-compacted) format the signal frame uses, but its
     * software-reserved bytes hold only the enabled feature mask (XCR0), not the frame's
     * fx_sw_bytes. AMX tile data, the last component and allowed per process, is left out: a
     * task that may not use it would have the whole extended state refused.
     */
    public static int xstateSize(byte[] xstate) {
        if (xstate.length < XSAVE_MIN) {
            return -1;
        }
        long features = ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN).getLong(SW_BYTES);
        if ((features & FEATURES_FP_SSE) != FEATURES_FP_SSE) {
            return -1;
        }
        if ((features & XTILEDATA) != 0) {
            return xstate.length - TILEDATA_SIZE >= XSAVE_MIN ? xstate.length - TILEDATA_SIZE : -1;
        }
        return xstate.length;
    }

    private static long features(byte[] xstate) {
        return ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN).getLong(SW_BYTES) & ~XTILEDATA;
    }

    /** Bytes the frame takes for that XSAVE area. */
    public static int length(byte[] xstate) {
        return HEAD + xstateSize(xstate) + 4;
    }

    /** The frame's base for a thread at {@code rsp}: below its red zone, aligned for XSAVE. */
    public static long base(long rsp, byte[] xstate) {
        return (rsp - RED_ZONE - length(xstate)) & ~63L;
    }

    /**
     * The frame at {@code base} that returns to {@code regs} (with the kernel's syscall restart
     * applied, since rt_sigreturn disables it), {@code sigmask} and {@code xstate} (as read by
     * PTRACE_GETREGSET NT_X86_XSTATE).
     */
    public static byte[] build(long base, Registers regs, long sigmask, byte[] xstate, long pretcode) {
        int xsize = xstateSize(xstate);
        if (xsize < 0) {
            throw new IllegalArgumentException("not an XSAVE area (" + xstate.length + " bytes)");
        }
        if ((base & 63) != 0) {
            throw new IllegalArgumentException("frame base 0x" + Long.toHexString(base) + " is not 64-byte aligned");
        }
        Registers back = resumed(regs);
        ByteBuffer b = ByteBuffer.allocate(HEAD + xsize + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, pretcode);
        b.putLong(UC, UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
        b.putInt(UC_STACK + 8, SS_FLAGS_UNCHANGED);
        for (int i = 0; i < SIGCONTEXT_REGS.length; i++) {
            b.putLong(SIGCONTEXT + i * 8, back.get(SIGCONTEXT_REGS[i]));
        }
        b.putShort(SIGCONTEXT + 144, (short) back.get(Registers.CS));
        b.putShort(SIGCONTEXT + 150, (short) back.get(Registers.SS));
        b.putLong(SIGCONTEXT + 184, base + HEAD); // fpstate
        b.putLong(SIGMASK, sigmask);
        b.put(HEAD, xstate, 0, xsize);
        long features = features(xstate);
        b.putInt(HEAD + SW_BYTES, FP_XSTATE_MAGIC1);
        b.putInt(HEAD + SW_BYTES + 4, xsize + 4); // extended_size: the area and the closing magic
        b.putLong(HEAD + SW_BYTES + 8, features);
        b.putInt(HEAD + SW_BYTES + 16, xsize);
        for (int i = SW_BYTES + 20; i < XSAVE_HEADER; i++) {
            b.put(HEAD + i, (byte) 0);
        }
        b.putLong(HEAD + XSAVE_HEADER, b.getLong(HEAD + XSAVE_HEADER) & features); // xstate_bv
        b.putInt(HEAD + xsize, FP_XSTATE_MAGIC2);
        return b.array();
    }

    /**
     * The registers the thread resumes with. rt_sigreturn disables the kernel's syscall restart
     * and empties the thread's restart block, so an interrupted syscall is restarted here: rip back
     * over the {@code syscall} instruction, its number in rax. A relative sleep (whose restart block
     * is lost) runs again from the start with its own arguments, still in the registers: it may
     * sleep longer, never fails with EINTR. Anything else resuming through restart_syscall fails
     * with EINTR, as after a signal.
     */
    static Registers resumed(Registers r) {
        if (r.origRax() >= 0 && -r.rax() == Errno.ERESTART_RESTARTBLOCK
                && (r.origRax() == SyscallNr.NANOSLEEP || r.origRax() == SyscallNr.CLOCK_NANOSLEEP)) {
            return r.with(Registers.RAX, r.origRax()).with(Registers.RIP, r.rip() - 2);
        }
        return ReturnPad.restarted(r);
    }
}
