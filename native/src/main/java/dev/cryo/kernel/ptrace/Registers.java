package dev.cryo.kernel.ptrace;

import java.util.Arrays;

/** x86_64 {@code struct user_regs_struct} (NT_PRSTATUS): 27 64-bit words, fs_base/gs_base included. */
public final class Registers {
    public static final int WORDS = 27;
    public static final int SIZE = WORDS * 8;

    public static final int R15 = 0, R14 = 1, R13 = 2, R12 = 3, RBP = 4, RBX = 5, R11 = 6, R10 = 7, R9 = 8,
            R8 = 9, RAX = 10, RCX = 11, RDX = 12, RSI = 13, RDI = 14, ORIG_RAX = 15, RIP = 16, CS = 17,
            EFLAGS = 18, RSP = 19, SS = 20, FS_BASE = 21, GS_BASE = 22, DS = 23, ES = 24, FS = 25, GS = 26;

    private static final String[] NAMES = {"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
            "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
            "gs_base", "ds", "es", "fs", "gs"};

    private final long[] words;

    public Registers(long[] words) {
        if (words.length != WORDS) {
            throw new IllegalArgumentException("user_regs_struct has " + WORDS + " words, got " + words.length);
        }
        this.words = words.clone();
    }

    public static String name(int index) {
        return NAMES[index];
    }

    public long get(int index) {
        return words[index];
    }

    public Registers with(int index, long value) {
        long[] w = words.clone();
        w[index] = value;
        return new Registers(w);
    }

    public long[] words() {
        return words.clone();
    }

    public long rip() {
        return words[RIP];
    }

    public long rsp() {
        return words[RSP];
    }

    public long rax() {
        return words[RAX];
    }

    public long origRax() {
        return words[ORIG_RAX];
    }

    /** The frame that makes the thread run syscall {@code nr} at {@code gadget} (a {@code syscall} insn). */
    public Registers forSyscall(long gadget, long nr, long[] args) {
        long[] w = words.clone();
        w[RIP] = gadget;
        w[RAX] = nr;
        // orig_rax = -1: the kernel must not apply syscall-restart logic to our injected frame.
        w[ORIG_RAX] = -1;
        int[] argRegs = {RDI, RSI, RDX, R10, R8, R9};
        for (int i = 0; i < argRegs.length; i++) {
            w[argRegs[i]] = i < args.length ? args[i] : 0;
        }
        return new Registers(w);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Registers r && Arrays.equals(words, r.words);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(words);
    }

    @Override
    public String toString() {
        return "Registers{rip=0x" + Long.toHexString(rip()) + ", rsp=0x" + Long.toHexString(rsp())
                + ", rax=" + rax() + ", orig_rax=" + origRax() + "}";
    }
}
