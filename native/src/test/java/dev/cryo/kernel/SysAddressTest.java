package dev.cryo.kernel;

import com.sun.jna.Memory;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * A buffer whose address went into a syscall argument stays alive until that syscall is over: a
 * {@code long} holds no {@link Memory}, and JNA frees one the collector finds unreachable.
 */
class SysAddressTest {
    @Test
    void aBufferKnownOnlyByItsAddressSurvivesCollectionsUntilTheSyscallReturns() throws Exception {
        WeakReference<Memory> ref = addressOfAnUnheldBuffer();
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertNotNull(ref.get(), "freed while its address waited for its syscall");

        LibC.syscall(SyscallNr.GETPID, 0, 0, 0, 0, 0, 0);
        for (int i = 0; i < 50 && ref.get() != null; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertNull(ref.get(), "still held after its syscall returned: pinned buffers would pile up");
    }

    private static WeakReference<Memory> addressOfAnUnheldBuffer() {
        Memory m = new Memory(64);
        Sys.address(m);
        return new WeakReference<>(m);
    }
}
