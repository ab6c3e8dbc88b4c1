package dev.cryo.engine.model;

/** The mm fields PR_SET_MM_MAP needs, the exact brk, and the auxiliary vector. */
public record MmImage(long startCode, long endCode, long startData, long endData, long startBrk, long brk,
                      long startStack, long argStart, long argEnd, long envStart, long envEnd, long[] auxv) {
    public MmImage {
        auxv = auxv.clone();
    }
}
