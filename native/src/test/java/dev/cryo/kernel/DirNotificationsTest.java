package dev.cryo.kernel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The dnotify registrations of this process's own directory fds, read by cryo's BPF iterator. */
class DirNotificationsTest {
    private static final int O_DIRECTORY = 0200000;

    @Test
    void aRegistrationIsFoundAtEveryFdOfItsFileWithTheFdItWasMadeThroughAndItsMask(@TempDir Path dir) {
        int pid = (int) ProcessHandle.current().pid();
        try (Fd watched = Sys.open(dir.toString(), O_DIRECTORY); Fd plain = Sys.open(dir.toString(), O_DIRECTORY)) {
            int mask = DirNotifications.DN_CREATE | DirNotifications.DN_RENAME | DirNotifications.DN_MULTISHOT;
            // no event comes: nothing is made in the directory (its SIGIO would end the JVM)
            Sys.call(() -> "fcntl(F_NOTIFY)", SyscallNr.FCNTL, watched.value(), Fcntl.F_NOTIFY, mask, 0);
            long copy = Sys.call(() -> "fcntl(F_DUPFD_CLOEXEC)", SyscallNr.FCNTL, watched.value(), Fcntl.F_DUPFD_CLOEXEC, 0, 0);
            try (Fd dup = new Fd((int) copy)) {
                List<DirNotifications.Registration> got = DirNotifications.of(pid);
                // the dup takes the lowest free fd, which can be below the watched one's
                var byFd = java.util.Comparator.comparingInt(DirNotifications.Registration::fd);
                assertEquals(java.util.stream.Stream.of(new DirNotifications.Registration(watched.value(), watched.value(), mask),
                                new DirNotifications.Registration(dup.value(), watched.value(), mask)).sorted(byFd).toList(),
                        got.stream().sorted(byFd).toList());
                assertEquals("DN_CREATE|DN_RENAME|DN_MULTISHOT", DirNotifications.describe(mask));
            }
        }
    }
}
