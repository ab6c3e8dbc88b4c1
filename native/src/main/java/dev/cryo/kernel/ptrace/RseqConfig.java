package dev.cryo.kernel.ptrace;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** A thread's rseq registration, from PTRACE_GET_RSEQ_CONFIGURATION; address 0 when none. */
public record RseqConfig(long address, int size, int signature, int flags) {
    /** rseq(2)'s flag to unregister the calling thread's area. */
    public static final int FLAG_UNREGISTER = 1;
    /** Offset of {@code rseq_cs} (the pointer to the critical section being run) in struct rseq. */
    public static final int CS_POINTER_OFFSET = 8;

    public boolean registered() {
        return address != 0;
    }

    /**
     * struct rseq_cs: a critical section the thread has announced by pointing {@code rseq_cs} at
     * it; the kernel sends a thread preempted or signalled between {@code startIp} and
     * {@code startIp + postCommitOffset} to {@code abortIp} (whose 4 bytes before hold the signature).
     */
    public record CriticalSection(int version, int flags, long startIp, long postCommitOffset, long abortIp) {
        public static final int SIZE = 32;

        public static CriticalSection parse(byte[] b) {
            ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            return new CriticalSection(bb.getInt(0), bb.getInt(4), bb.getLong(8), bb.getLong(16), bb.getLong(24));
        }

        /** Whether {@code ip} is inside the section (unsigned, as the kernel compares). */
        public boolean contains(long ip) {
            return Long.compareUnsigned(ip - startIp, postCommitOffset) < 0;
        }
    }
}
