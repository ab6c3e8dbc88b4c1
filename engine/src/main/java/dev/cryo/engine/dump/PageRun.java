package dev.cryo.engine.dump;

/**
 * Consecutive pages of one task to copy. {@code viaProcMem} marks runs in PROT_NONE mappings,
 * which process_vm_readv refuses (EFAULT); those are read through /proc/PID/mem instead, which is
 * safe because pagemap said they are present.
 */
public record PageRun(int vmaIndex, long address, int pages, boolean viaProcMem) {
    public long end() {
        return address + (long) pages * RemoteTask.PAGE;
    }
}
