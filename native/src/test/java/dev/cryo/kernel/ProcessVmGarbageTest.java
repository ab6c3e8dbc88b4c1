package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A page run moved with process_vm_writev/readv leaves (almost) no garbage: the destination agent
 * places tens of thousands of runs per GiB arriving, and every byte of garbage per run filled its
 * young generation towards a collection in the last pre-copy round. Bytes counted, not time.
 */
class ProcessVmGarbageTest {
    private static final int CALLS = 20_000;

    @Test
    void aRunOfPagesWrittenOrReadAllocatesNoNativeMemoryPerCall() {
        Pid self = Pid.of((int) ProcessHandle.current().pid());
        ByteBuffer src = ByteBuffer.allocateDirect(8192);
        ByteBuffer dst = ByteBuffer.allocateDirect(8192);
        for (int i = 0; i < src.capacity(); i++) {
            src.put(i, (byte) (i * 7));
        }
        long target = com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(dst));
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long perCall = 0;
        for (int round = 0; round < 3; round++) { // the last round runs compiled code
            long before = threads.getThreadAllocatedBytes(tid);
            for (int i = 0; i < CALLS; i++) {
                Sys.writeFrom(self, target + 4096, src, 0, 4096);
                Sys.readInto(self, target + 4096, src, 4096, 4096);
            }
            perCall = (threads.getThreadAllocatedBytes(tid) - before) / (2L * CALLS);
        }
        byte[] want = new byte[4096];
        byte[] got = new byte[4096];
        src.get(0, want);
        dst.get(4096, got);
        assertArrayEquals(want, got);
        src.get(4096, got);
        assertArrayEquals(want, got);
        // a JNA Memory per iovec array (object, cleaner, disposer) was ~200 bytes a call; what may
        // remain is a Pointer for the buffer's address and a message lambda
        assertTrue(perCall < 100, perCall + " bytes allocated per process_vm call");
    }
}
