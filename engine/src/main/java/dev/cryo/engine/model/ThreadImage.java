package dev.cryo.engine.model;

import java.util.List;

/**
 * One thread: registers (user_regs_struct words), the XSAVE area at the kernel's size, signal
 * mask, rseq, robust list, clear-child-tid, sigaltstack, and signals pending for it alone.
 */
public record ThreadImage(int tid, long[] regs, byte[] xstate, long sigmask, long rseqAddress, int rseqLength,
                          int rseqSignature, long robustListHead, long robustListLength, long clearChildTid,
                          long altStackSp, int altStackFlags, long altStackSize, List<byte[]> pendingSignals) {
    public ThreadImage {
        regs = regs.clone();
        xstate = xstate.clone();
        pendingSignals = List.copyOf(pendingSignals);
    }
}
