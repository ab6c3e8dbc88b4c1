package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The kernel's own waiters on this process's eventfds, counted by cryo's BPF iterator. */
class EventFdWaitersTest {
    private static final Path CONTROL = Path.of("/sys/fs/cgroup/memory/cgroup.event_control");

    @Test
    void anEventfdRegisteredForAMemoryCgroupsOomNotificationHasOneAPlainOneNone() throws Exception {
        assumeTrue(Files.exists(CONTROL), "a cgroup v1 memory hierarchy at /sys/fs/cgroup/memory");
        int pid = (int) ProcessHandle.current().pid();
        try (Fd plain = new Fd((int) Sys.call(() -> "eventfd2", SyscallNr.EVENTFD2, 0, Fcntl.O_CLOEXEC, 0, 0));
             Fd registered = new Fd((int) Sys.call(() -> "eventfd2", SyscallNr.EVENTFD2, 0, Fcntl.O_CLOEXEC, 0, 0));
             Fd oom = Sys.open("/sys/fs/cgroup/memory/memory.oom_control", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
            // the root memory cgroup's: nothing to make or remove; the registration ends with the eventfd's close
            Files.writeString(CONTROL, registered.value() + " " + oom.value());
            var got = EventFdWaiters.of(pid);
            assertEquals(new EventFdWaiters.Waiters(1, 0), got.get(registered.value()));
            assertEquals(new EventFdWaiters.Waiters(0, 0), got.get(plain.value()));
        }
    }
}
