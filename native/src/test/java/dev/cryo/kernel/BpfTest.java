package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BpfTest {
    /**
     * An iterator the kernel refuses is tried once: a dump asks it for every TCP and UDP socket of
     * every task, and each try costs the verifier's time (a server with thousands of connections).
     */
    @Test
    void anIteratorTheKernelRefusesIsNotLoadedAgain() {
        AtomicInteger built = new AtomicInteger();
        int pid = (int) ProcessHandle.current().pid();
        Bpf.TaskIterator it = Bpf.TaskIterator.overFiles("cryo_test_bad", () -> {
            built.incrementAndGet();
            return new Bpf.Program().movImm(0, 0); // no exit: the verifier refuses it
        });
        RuntimeException first = assertThrows(RuntimeException.class, () -> it.run(pid));
        assertTrue(first.getMessage().contains("BPF_PROG_LOAD"), first.getMessage());
        RuntimeException again = assertThrows(RuntimeException.class, () -> it.run(pid));
        assertEquals(first.getMessage(), again.getMessage());
        assertEquals(1, built.get(), "the program was built and loaded again");
    }
}
