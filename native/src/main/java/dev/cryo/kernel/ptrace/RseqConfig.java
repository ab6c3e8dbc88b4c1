package dev.cryo.kernel.ptrace;

/** A thread's rseq registration, from PTRACE_GET_RSEQ_CONFIGURATION; address 0 when none. */
public record RseqConfig(long address, int size, int signature, int flags) {
    public boolean registered() {
        return address != 0;
    }
}
