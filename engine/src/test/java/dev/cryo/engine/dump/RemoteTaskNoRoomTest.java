package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Pid;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Why cryo's area could not be mapped: the mmap's error, named, even when the task is gone by the time
 * its limits are read (before, the failed read of /proc/PID/limits came out instead, and the ENOMEM was lost).
 */
class RemoteTaskNoRoomTest {
    @Test
    void theMmapErrorComesOutWhenTheTaskIsGoneBeforeItsLimitsAreRead() throws Exception {
        int free = 4_000_000; // a pid no task has here: a task that is gone
        while (Files.exists(Path.of("/proc/" + free))) {
            free--;
        }
        Pid gone = Pid.of(free);
        DumpException e = RemoteTask.noRoom(gone, List.of(), 20480, -Errno.ENOMEM);
        assertTrue(e.getMessage().startsWith("pid " + gone + ": cryo's working area could not be mapped in it (ENOMEM"),
                e.getMessage());
        assertTrue(e.getMessage().contains("its limits could not be read"), e.getMessage());
    }

    @Test
    void anotherErrorIsNamedAsItIs() {
        Pid self = Pid.of((int) ProcessHandle.current().pid());
        DumpException e = RemoteTask.noRoom(self, List.of(), 20480, -Errno.EPERM);
        assertTrue(e.getMessage().contains("(EPERM"), e.getMessage());
    }
}
