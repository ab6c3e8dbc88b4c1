package dev.cryo.kernel.ptrace;

/** A thread's rseq registration, from PTRACE_GET_RSEQ_CONFIGURATION; address 0 when none. */
public record RseqConfig(long address, int size, int signature, int flags) {
    /** rseq(2)'s flag to unregister the calling thread's area. */
    public static final int FLAG_UNREGISTER = 1;

    public boolean registered() {
        return address != 0;
    }
}
