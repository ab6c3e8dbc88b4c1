package dev.cryo.kernel;

import com.sun.jna.Memory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** This JVM's own SEM_UNDO list (its threads share it), read by cryo's BPF iterator. */
class SemUndoListTest {
    private static final int SEM_UNDO = 0x1000, SETVAL = 16;

    @Test
    void theAdjustmentsOfEachSetAreReadFromTheListTheThreadsShare() throws Exception {
        int pid = (int) ProcessHandle.current().pid();
        int id = (int) Sys.call(() -> "semget", SyscallNr.SEMGET, 0 /* IPC_PRIVATE */, 40, 01000 | 0600, 0);
        try {
            Sys.call(() -> "semctl(SETVAL)", SyscallNr.SEMCTL, id, 33, SETVAL, 5);
            // from another thread of the JVM: its list is the main thread's
            Thread t = new Thread(() -> {
                semop(id, 1, 7);
                semop(id, 33, -2);
            });
            t.start();
            t.join();
            SemUndoList list = SemUndoList.of(pid);
            assertNotEquals(0, list.address());
            assertTrue(list.tasks() >= 2, "the JVM's threads share the list: " + list.tasks());
            SemUndoList.Undo undo = list.undos().stream().filter(u -> u.semid() == id).findFirst().orElseThrow();
            assertEquals(-7, undo.semadj()[1]);
            assertEquals(2, undo.semadj()[33]);
            assertEquals(0, undo.semadj()[0]);
            assertEquals(0, undo.unreadChunks());
        } finally {
            Sys.call(() -> "semctl(IPC_RMID)", SyscallNr.SEMCTL, id, 0, SysvIpc.IPC_RMID, 0);
        }
        assertTrue(SemUndoList.of(pid).undos().stream().noneMatch(u -> u.semid() == id), "a removed set leaves the list");
    }

    private static void semop(int id, int sem, int op) {
        Memory b = new Memory(6);
        b.setShort(0, (short) sem);
        b.setShort(2, (short) op);
        b.setShort(4, (short) (SEM_UNDO | SysvIpc.IPC_NOWAIT));
        Sys.call(() -> "semop", SyscallNr.SEMOP, id, Sys.address(b), 1, 0);
    }
}
