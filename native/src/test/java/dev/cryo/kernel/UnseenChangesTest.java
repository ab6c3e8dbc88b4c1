package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Whether this process's own mount table and sysfs files have a change they have not seen, read by cryo's BPF iterator. */
class UnseenChangesTest {
    @Test
    void aFreshSysfsFileHasOneUntilReadAndAMountTableIsReadThroughItsNamespace() {
        int pid = (int) ProcessHandle.current().pid();
        try (Fd mounts = Sys.open("/proc/self/mountinfo", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC);
             Fd sys = Sys.open("/sys/devices/system/cpu/online", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
            assertEquals(Boolean.TRUE, UnseenChanges.of(pid).get(sys.value()), "a kernfs file not read yet");
            com.sun.jna.Memory buf = new com.sun.jna.Memory(64);
            Sys.call(() -> "read(cpu/online)", SyscallNr.READ, sys.value(), Sys.address(buf), 64, 0);
            assertEquals(Boolean.FALSE, UnseenChanges.of(pid).get(sys.value()), "a kernfs file read");
            // read through its namespace (either answer: a mount change elsewhere on the host may come meanwhile)
            assertEquals(true, UnseenChanges.of(pid).containsKey(mounts.value()), "the mount table is looked at");
        }
    }
}
