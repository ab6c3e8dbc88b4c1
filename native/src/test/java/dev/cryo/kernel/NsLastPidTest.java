package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ns_last_pid goes back after the restores only if every live pid taken since the move is this process's:
 * its threads and its children are, any other process (init here) is not.
 */
class NsLastPidTest {
    @Test
    void onlyThisProcesssThreadsAndChildrenCountAsItsOwn() {
        Pid child = Spawner.spawn("/bin/sleep", List.of("sleep", "100"), List.of(), false);
        try {
            assertTrue(NsLastPid.takenByThisProcess(child.value() - 1, child.value()), "a child");
        } finally {
            Spawner.killAndReap(child);
        }
        int self = (int) ProcessHandle.current().pid();
        assertTrue(NsLastPid.takenByThisProcess(self - 1, self), "this process");
        assertFalse(NsLastPid.takenByThisProcess(0, 1), "init");
    }
}
