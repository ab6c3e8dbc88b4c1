package dev.cryo.kernel;

/** seccomp(2) modes, flags and filter return actions, and the classic BPF opcodes cryo inspects. */
public final class Seccomp {
    private Seccomp() {}

    public static final int MODE_DISABLED = 0, MODE_STRICT = 1, MODE_FILTER = 2;

    public static final int SET_MODE_STRICT = 0, SET_MODE_FILTER = 1;

    public static final int FILTER_FLAG_TSYNC = 1, FILTER_FLAG_LOG = 2, FILTER_FLAG_SPEC_ALLOW = 4,
            FILTER_FLAG_NEW_LISTENER = 8;

    public static final int RET_ACTION_FULL = 0xffff0000, RET_USER_NOTIF = 0x7fc00000, RET_ALLOW = 0x7fff0000;

    /** struct sock_fprog: u16 len, padding, the program's address. */
    public static final int FPROG_SIZE = 16;

    /** One sock_filter instruction: u16 code, u8 jt, u8 jf, u32 k. */
    public static final int INSN_SIZE = 8;
    /** BPF_MAXINSNS: the kernel's ceiling on a filter's length. */
    public static final int MAX_INSNS = 4096;

    public static final int BPF_CLASS_MASK = 0x07, BPF_RET = 0x06, BPF_RVAL_MASK = 0x18, BPF_K = 0x00;

    /**
     * Whether a filter program can hand a syscall to a user-space supervisor (a RET K of
     * SECCOMP_RET_USER_NOTIF), read from its little-endian sock_filter array.
     */
    public static boolean returnsUserNotif(byte[] program) {
        for (int off = 0; off + INSN_SIZE <= program.length; off += INSN_SIZE) {
            int code = (program[off] & 0xff) | (program[off + 1] & 0xff) << 8;
            int k = (program[off + 4] & 0xff) | (program[off + 5] & 0xff) << 8 | (program[off + 6] & 0xff) << 16
                    | (program[off + 7] & 0xff) << 24;
            if ((code & BPF_CLASS_MASK) == BPF_RET && (code & BPF_RVAL_MASK) == BPF_K
                    && (k & RET_ACTION_FULL) == RET_USER_NOTIF) {
                return true;
            }
        }
        return false;
    }
}
