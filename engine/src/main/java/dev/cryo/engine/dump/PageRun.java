package dev.cryo.engine.dump;

/**
 * Consecutive pages of one task to copy. {@code viaProcMem} marks runs in PROT_NONE mappings,
 * which process_vm_readv refuses (EFAULT); those are read through /proc/PID/mem instead, which is
 * safe because pagemap said they are present. {@code zeroImplicit}: a zero page needs no bytes in
 * the image because restore maps fresh anonymous (zero) memory there; not so for private file
 * mappings, where an absent page would show the file's bytes.
 */
public record PageRun(int vmaIndex, long address, int pages, boolean viaProcMem, boolean zeroImplicit) {
    public long end() {
        return address + (long) pages * RemoteTask.PAGE;
    }
}
