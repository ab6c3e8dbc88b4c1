package dev.cryo.kernel.proc;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reads the live /proc of this JVM and of short-lived children. */
class ProcFsLiveTest {
    private static final Pid SELF = Pid.of((int) ProcessHandle.current().pid());

    @Test
    void readsSelf() {
        ProcFs.requireProcess(SELF);
        ProcStat stat = ProcFs.stat(SELF);
        assertEquals(SELF.value(), stat.pid());
        assertEquals((int) ProcessHandle.current().parent().orElseThrow().pid(), stat.ppid());
        assertTrue(stat.numThreads() > 1, "a JVM has several threads");
        assertTrue(stat.startCode() != 0 && stat.argStart() != 0, "root may read its own mm fields");

        ProcStatus status = ProcFs.status(SELF);
        assertEquals(SELF.value(), status.pid());
        assertEquals(SELF.value(), status.tgid());
        assertEquals(stat.comm(), status.name());

        List<Pid> tasks = ProcFs.tasks(SELF);
        assertTrue(tasks.contains(SELF));
        assertTrue(tasks.size() > 1);
        assertEquals(tasks.stream().sorted().toList(), tasks);
        ProcStat thread = ProcFs.stat(SELF, tasks.get(tasks.size() - 1));
        assertEquals(tasks.get(tasks.size() - 1).value(), thread.pid());

        List<MapsEntry> maps = ProcFs.maps(SELF);
        assertTrue(maps.stream().anyMatch(MapsEntry::isVdso));
        assertTrue(maps.stream().anyMatch(MapsEntry::isStack));
        List<SmapsEntry> smaps = ProcFs.smaps(SELF);
        assertTrue(smaps.stream().anyMatch(s -> s.map().isStack() && s.isGrowsDown()));

        assertEquals(4096, ProcFs.auxv(SELF).value(Auxv.AT_PAGESZ).orElseThrow());
        assertEquals(16, ProcFs.limits(SELF).rows().size());
        assertEquals(Path.of(System.getProperty("user.dir")).toAbsolutePath().toString(), ProcFs.cwd(SELF));
        assertTrue(ProcFs.exe(SELF).endsWith("/java"), ProcFs.exe(SELF));
        assertEquals("/", ProcFs.root(SELF));
        assertTrue(ProcFs.fds(SELF).containsAll(List.of(0, 1, 2)));
    }

    @Test
    void pagemapShowsTouchedPagePresent() {
        Memory m = new Memory(3 * 4096);
        long page = (Pointer.nativeValue(m) + 4095) & ~4095L;
        m.setByte(page - Pointer.nativeValue(m), (byte) 1);
        long[] one = ProcFs.pagemap(SELF, page, 1);
        assertTrue(Pagemap.present(one[0]), Pagemap.describe(one[0]));
        assertTrue(Pagemap.pfn(one[0]) != 0, "root sees PFNs");

        ByteBuffer b = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
        ProcFs.pagemap(SELF, page, b);
        assertFalse(b.hasRemaining());
        assertEquals(one[0], b.getLong(0));

        LongBuffer lb = LongBuffer.allocate(2);
        try (PagemapReader r = ProcFs.openPagemap(SELF)) {
            r.read(page, lb);
            assertEquals(one[0], lb.get(0));
            // pagemap ends at TASK_SIZE: the vsyscall page has no entry, and a short read fails loudly
            KernelException e = assertThrows(KernelException.class, () -> r.read(0xffffffffff600000L, 1));
            assertTrue(e.getMessage().contains("/pagemap at 0xffffffffff600000: got 0 of 8 bytes"), e.getMessage());
        }
    }

    @Test
    void fdOfDeletedFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("data file");
        Files.writeString(file, "hello");
        try (FileInputStream in = new FileInputStream(file.toFile())) {
            assertEquals('h', in.read());
            int fd = ProcFs.fds(SELF).stream()
                    .filter(n -> {
                        try {
                            return ProcFs.fdTarget(SELF, n).equals(file.toString());
                        } catch (KernelException gone) { // the fd of the listing itself
                            return false;
                        }
                    })
                    .findFirst().orElseThrow();
            FdInfo info = ProcFs.fdInfo(SELF, fd);
            assertEquals(1, info.pos());
            assertEquals(0, info.accessMode());
            Files.delete(file);
            assertEquals(file + " (deleted)", ProcFs.fdTarget(SELF, fd));
        }
    }

    @Test
    void childWithAwkwardNameAndChildrenList(@TempDir Path dir) throws Exception {
        Path exe = Files.copy(Path.of("/bin/sleep"), dir.resolve("we ird) name"), StandardCopyOption.COPY_ATTRIBUTES);
        Process p = new ProcessBuilder(exe.toString(), "30").start();
        try {
            Pid child = Pid.of((int) p.pid());
            ProcStat s = awaitExec(child, "we ird) name");
            assertEquals(SELF.value(), s.ppid());
            assertTrue(ProcFs.children(SELF).contains(child));
            assertEquals("we ird) name", ProcFs.status(child).name());
        } finally {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void missingProcessNamesPathAndErrno() {
        int pidMax = 1 << 22; // PID_MAX_LIMIT: pids are always below it, whatever pid_max says
        Pid absent = Pid.of(pidMax);
        SyscallException e = assertThrows(SyscallException.class, () -> ProcFs.stat(absent));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("/proc/" + pidMax + "/stat"), e.getMessage());
        assertTrue(e.getMessage().contains("ENOENT"), e.getMessage());
        assertEquals("open /proc/" + pidMax + "/stat", e.call());

        KernelException none = assertThrows(KernelException.class, () -> ProcFs.requireProcess(absent));
        assertEquals("no process with pid " + pidMax, none.getMessage());
        SyscallException link = assertThrows(SyscallException.class, () -> ProcFs.exe(absent));
        assertTrue(link.getMessage().startsWith("readlink /proc/" + pidMax + "/exe: ENOENT"), link.getMessage());
        SyscallException dir = assertThrows(SyscallException.class, () -> ProcFs.fds(absent));
        assertTrue(dir.getMessage().startsWith("opendir /proc/" + pidMax + "/fd: ENOENT"), dir.getMessage());
        assertThrows(SyscallException.class, () -> ProcFs.pagemap(absent, 0, 1));
    }

    @Test
    void errnoTextInIoExceptionsIsMapped() {
        KernelException srch = ProcErrors.of("read /proc/1/mem", new FileSystemException("/proc/1/mem", null, "No such process"));
        assertEquals(Errno.ESRCH, ((SyscallException) srch).errno());
        KernelException eio = ProcErrors.of("read /proc/1/stack", new IOException("Input/output error"));
        assertEquals(Errno.EIO, ((SyscallException) eio).errno());
        KernelException other = ProcErrors.of("read /proc/1/x", new IOException("something odd"));
        assertFalse(other instanceof SyscallException);
        assertTrue(other.getMessage().startsWith("read /proc/1/x: "), other.getMessage());
    }

    /** Waits until the child has exec'd the named binary (before that it still shows the JVM's name). */
    private static ProcStat awaitExec(Pid pid, String comm) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            ProcStat s = ProcFs.stat(pid);
            if (s.comm().equals(comm) || System.nanoTime() > deadline) {
                assertEquals(comm, s.comm());
                return s;
            }
            Thread.sleep(10);
        }
    }
}
