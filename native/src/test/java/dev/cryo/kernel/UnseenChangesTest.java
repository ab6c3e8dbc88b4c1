package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Whether this process's own mount table, sysctl and sysfs files have a change they have not seen, read by cryo's BPF iterator. */
class UnseenChangesTest {
    @Test
    void aFreshSysfsFileHasOneUntilReadAndAHostnameWatcherAfterAWriteUntilPolled() {
        int pid = (int) ProcessHandle.current().pid();
        try (Fd mounts = Sys.open("/proc/self/mountinfo", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC);
             Fd host = Sys.open("/proc/sys/kernel/hostname", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC);
             Fd sys = Sys.open("/sys/devices/system/cpu/online", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
            assertTrue(UnseenChanges.of(pid).get(sys.value()).table(), "a kernfs file not read yet");
            com.sun.jna.Memory buf = new com.sun.jna.Memory(64);
            Sys.call(() -> "read(cpu/online)", SyscallNr.READ, sys.value(), Sys.address(buf), 64, 0);
            assertEquals(new UnseenChanges.Unseen(false, false), UnseenChanges.of(pid).get(sys.value()), "a kernfs file read");
            // an empty write notifies every watcher of the host's hostname, and changes nothing
            try (Fd w = Sys.open("/proc/sys/kernel/hostname", Fcntl.O_WRONLY | Fcntl.O_CLOEXEC)) {
                Sys.call(() -> "write(hostname, 0 bytes)", SyscallNr.WRITE, w.value(), Sys.address(buf), 0, 0);
            }
            assertTrue(UnseenChanges.of(pid).get(host.value()).sysctl(), "a hostname change not polled");
            // read through its namespace (either answer: a mount change elsewhere on the host may come meanwhile)
            assertTrue(UnseenChanges.of(pid).containsKey(mounts.value()), "the mount table is looked at");
        }
    }
}
