package dev.cryo.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * What a thread's seccomp filters answer to one syscall, found by running their classic-BPF programs
 * (as PTRACE_SECCOMP_GET_FILTER hands them out) on the syscall's seccomp_data, as the kernel would.
 * Used to know before injecting code whether the filters let it run; an instruction the kernel would
 * not have accepted makes the answer "not allowed".
 */
public final class SeccompVerdict {
    /** AUDIT_ARCH_X86_64: the arch word of every x86-64 syscall's seccomp_data. */
    public static final int AUDIT_ARCH_X86_64 = 0xc000003e;
    private static final int RET_LOG = 0x7ffc0000;
    /** sizeof(struct seccomp_data): nr, arch, instruction_pointer, args[6]. */
    private static final int DATA_SIZE = 64;
    private static final int MEM_WORDS = 16;

    private SeccompVerdict() {}

    /**
     * Whether every filter lets syscall {@code nr} with {@code args} (missing ones 0) run as asked from
     * {@code ip} (the address after its syscall instruction, as the kernel reports it): each returns
     * SECCOMP_RET_ALLOW or SECCOMP_RET_LOG.
     */
    public static boolean allowedByAll(List<byte[]> programs, int nr, long ip, long... args) {
        if (programs.isEmpty()) {
            return false;
        }
        ByteBuffer data = ByteBuffer.allocate(DATA_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        data.putInt(0, nr).putInt(4, AUDIT_ARCH_X86_64).putLong(8, ip);
        for (int i = 0; i < Math.min(6, args.length); i++) {
            data.putLong(16 + 8 * i, args[i]);
        }
        for (byte[] p : programs) {
            Integer r = run(p, data);
            if (r == null) {
                return false;
            }
            int action = r & Seccomp.RET_ACTION_FULL;
            if (action != Seccomp.RET_ALLOW && action != RET_LOG) {
                return false;
            }
        }
        return true;
    }

    /** The program's return value on {@code data}; null for an instruction seccomp would refuse or a bad jump. */
    static Integer run(byte[] program, ByteBuffer data) {
        ByteBuffer insns = ByteBuffer.wrap(program).order(ByteOrder.LITTLE_ENDIAN);
        int n = program.length / Seccomp.INSN_SIZE;
        int a = 0, x = 0;
        int[] mem = new int[MEM_WORDS];
        for (int pc = 0, steps = 0; pc < n && steps <= n; pc++, steps++) { // jumps only go forward
            int at = pc * Seccomp.INSN_SIZE;
            int code = Short.toUnsignedInt(insns.getShort(at));
            int jt = Byte.toUnsignedInt(insns.get(at + 2)), jf = Byte.toUnsignedInt(insns.get(at + 3));
            int k = insns.getInt(at + 4);
            int src = (code & 0x08) == 0 ? k : x;
            switch (code & Seccomp.BPF_CLASS_MASK) {
                case 0x00, 0x01 -> { // LD, LDX (W only in seccomp)
                    int v;
                    switch (code & 0xf8) {
                        case 0x20 -> { // W ABS: an aligned word of seccomp_data
                            if (k < 0 || k > DATA_SIZE - 4 || (k & 3) != 0) {
                                return null;
                            }
                            v = data.getInt(k);
                        }
                        case 0x80 -> v = DATA_SIZE; // W LEN
                        case 0x00 -> v = k; // IMM
                        case 0x60 -> { // MEM
                            if (k < 0 || k >= MEM_WORDS) {
                                return null;
                            }
                            v = mem[k];
                        }
                        default -> {
                            return null;
                        }
                    }
                    if ((code & 0x07) == 0x00) {
                        a = v;
                    } else {
                        x = v;
                    }
                }
                case 0x02, 0x03 -> { // ST, STX
                    if (k < 0 || k >= MEM_WORDS) {
                        return null;
                    }
                    mem[k] = (code & 0x07) == 0x02 ? a : x;
                }
                case 0x04 -> { // ALU
                    switch (code & 0xf0) {
                        case 0x00 -> a += src;
                        case 0x10 -> a -= src;
                        case 0x20 -> a *= src;
                        case 0x30 -> {
                            if (src == 0) {
                                return 0; // the kernel's division by zero ends the program with 0: SECCOMP_RET_KILL
                            }
                            a = Integer.divideUnsigned(a, src);
                        }
                        case 0x40 -> a |= src;
                        case 0x50 -> a &= src;
                        case 0x60 -> a = (src & 0xffffffe0) != 0 ? 0 : a << src;
                        case 0x70 -> a = (src & 0xffffffe0) != 0 ? 0 : a >>> src;
                        case 0x80 -> a = -a;
                        case 0x90 -> {
                            if (src == 0) {
                                return 0;
                            }
                            a = Integer.remainderUnsigned(a, src);
                        }
                        case 0xa0 -> a ^= src;
                        default -> {
                            return null;
                        }
                    }
                }
                case 0x05 -> { // JMP
                    int op = code & 0xf0;
                    if (op == 0x00) {
                        if (k < 0) {
                            return null;
                        }
                        pc += k; // JA
                    } else {
                        boolean taken;
                        switch (op) {
                            case 0x10 -> taken = a == src;
                            case 0x20 -> taken = Integer.compareUnsigned(a, src) > 0;
                            case 0x30 -> taken = Integer.compareUnsigned(a, src) >= 0;
                            case 0x40 -> taken = (a & src) != 0;
                            default -> {
                                return null;
                            }
                        }
                        pc += taken ? jt : jf;
                    }
                }
                case 0x06 -> { // RET K or A
                    int rval = code & Seccomp.BPF_RVAL_MASK;
                    return rval == Seccomp.BPF_K ? k : rval == 0x10 ? a : null;
                }
                case 0x07 -> { // MISC: TAX, TXA
                    if ((code & 0xf8) == 0x00) {
                        x = a;
                    } else if ((code & 0xf8) == 0x80) {
                        a = x;
                    } else {
                        return null;
                    }
                }
                default -> {
                    return null;
                }
            }
        }
        return null; // ran off its end: the kernel never accepts such a program
    }
}
