package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** A restore that cannot be done fails with a clear cause, leaves no process, and never touches the image. */
class RestoreFailureTest {
    @TempDir
    Path tmp;

    private static byte[] imageBytes(Path img) throws Exception {
        return Files.readAllBytes(img.resolve("image.cryo"));
    }

    private static void assertNothingLeft(int pid) {
        assertFalse(Files.exists(Path.of("/proc/" + pid)) && !zombieOfOther(pid), "pid " + pid + " must not exist");
    }

    private static boolean zombieOfOther(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void aBusyPidIsRefusedNamingItsOwner() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path img = tmp.resolve("img");
            assertEquals(0, Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress").code());
            byte[] before = imageBytes(img);
            Cli r = Cli.run("-Dcryo.restore.pid-wait=0s", "restore", "-D", img.toString(), "-d");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().contains("pid " + p.pid() + " is in use by 'counter'"), r.err());
            assertArrayEquals(before, imageBytes(img));
            assertTrue(Workloads.check(p).contains("PASS"), "the process holding the pid is unharmed");
        }
    }

    /**
     * Two trees of the host restored one after the other by {@code cryo restore} in a pid namespace of its own, as b's
     * agent restores trees migrated from a, with programs of that namespace holding the pids it hands out in between,
     * as the agent's new threads do. A restore moves the namespace's next pid past its tree's (host pids, far ahead of
     * the namespace's own), and it stayed there: the namespace's own forks climbed from it into the pids the host gave
     * next, the next tree's ("pid N is in use by 'process reaper'", MigrationOfServicesTest in CI). Now it is put back
     * once the restore ends, and the second tree gets its pid. Before: 'the namespace's next pid 3355725 was left
     * past the first tree's pid 3355713', and the second restore failed 'pid N is in use by 'sleep''.
     */
    @Test
    void restoresInAPidNamespaceLeaveItsNextPidWhereItWas() throws Exception {
        Path one = tmp.resolve("one"), two = tmp.resolve("two");
        int p1, p2;
        try (DetachedProcess a = DetachedProcess.start(tmp.resolve("a.out"), "sleep", "600")) {
            // the second tree's pid at least 60 past the first's: beyond the pids the first restore's JVM takes after it
            new ProcessBuilder("sh", "-c", "i=0; while [ $i -lt 60 ]; do /bin/true; i=$((i+1)); done").start().waitFor();
            try (DetachedProcess b = DetachedProcess.start(tmp.resolve("b.out"), "sleep", "600")) {
                p1 = a.pid().value();
                p2 = b.pid().value();
                DumpRestore.dump(p1, one);
                DumpRestore.dump(p2, two);
            }
        }
        int held = Math.min(p2 - p1 + 20, 1000); // from where the first restore left the next pid, past the second's
        String cryo = String.join(" ", CryoProcess.command());
        String script = "echo before $(cat /proc/sys/kernel/ns_last_pid)\n"
                + cryo + " restore -D " + one + " -d >" + tmp.resolve("r1.log") + " 2>&1; echo rc1 $?\n"
                + "echo after $(cat /proc/sys/kernel/ns_last_pid)\n"
                + "i=0; while [ $i -lt " + held + " ]; do sleep 600 & i=$((i+1)); done\n" // held, as an agent's threads
                + cryo + " restore -D " + two + " -d >" + tmp.resolve("r2.log") + " 2>&1; echo rc2 $?\n"
                + "[ -d /proc/" + p1 + " ] && [ -d /proc/" + p2 + " ] && echo both\n"
                + "kill -9 -1\n"; // every process of the namespace but this shell, its init: the namespace goes with it
        Files.writeString(tmp.resolve("ns.sh"), script);
        Process ns = new ProcessBuilder("unshare", "--pid", "--fork", "--mount-proc", "sh", tmp.resolve("ns.sh").toString())
                .redirectErrorStream(true).start();
        String out = new String(ns.getInputStream().readAllBytes());
        ns.waitFor();
        String logs = out + "\nrestore 1:\n" + Files.readString(tmp.resolve("r1.log")) + "\nrestore 2:\n"
                + (Files.exists(tmp.resolve("r2.log")) ? Files.readString(tmp.resolve("r2.log")) : "");
        assertTrue(out.contains("rc1 0\n") && out.contains("rc2 0\n") && out.contains("both\n"), logs);
        int after = Integer.parseInt(out.replaceAll("(?s).*after (\\d+)\n.*", "$1"));
        assertTrue(after < p1, "the namespace's next pid " + after + " was left past the first tree's pid " + p1 + "\n" + logs);
    }

    @Test
    void aChangedFileIsRefused() throws Exception {
        Path bin = tmp.resolve("counter-copy");
        Files.copy(TestPrograms.compile("/c/counter.c"), bin, StandardCopyOption.COPY_ATTRIBUTES);
        int pid;
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("c.out"), bin.toString(),
                tmp.resolve("c.txt").toString()))) {
            pid = p.pid().value();
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress").code());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10), "reaped");
        }
        Files.write(bin, new byte[]{1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
        byte[] before = imageBytes(img);
        Cli r = Cli.run("restore", "-D", img.toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains(bin + " changed since the dump"), r.err());
        assertArrayEquals(before, imageBytes(img));
        assertNothingLeft(pid);
    }

    /**
     * A restore that fails after it made a task's SEM_UNDO adjustments again kills that task, whose exit
     * gives them back to the host's semaphore: a lock the image still holds was released (semundoexit's
     * child holds 2 of 5: 5 after the failed restore). The restore takes them back: 3 again.
     */
    @Test
    void aFailedRestoreTakesBackWhatTheKilledTasksExitsGaveToTheHostsSemaphores() throws Exception {
        Path img = tmp.resolve("img");
        int pid;
        int set;
        try (DetachedProcess p = Workloads.program(tmp.resolve("semundoexit.out"), "semundoexit")) {
            pid = p.pid().value();
            Cli d = Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress");
            assertEquals(0, d.code(), d.toString());
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"set\"\\s*:\\s*(\\d+)")
                    .matcher(Cli.run("show", img.toString()).out());
            assertTrue(m.find(), "the image holds the child's adjustment");
            set = Integer.parseInt(m.group(1));
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10), "reaped");
        }
        try {
            assertEquals(3, dev.cryo.kernel.SysvIpc.semValues(set, 1)[0], "the dump put back what its kill gave");
            Cli r;
            try (AutoCloseable killer = dev.cryo.api.TreeObservers.register(new dev.cryo.api.TreeObservers.Observer() {
                @Override
                public void restoredBeforeResume(int root, java.util.List<Integer> pids) {
                    dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(root), dev.cryo.kernel.Signals.SIGKILL);
                }
            })) {
                r = Cli.run("restore", "-D", img.toString(), "-d");
            }
            assertEquals(1, r.code(), r.toString());
            assertEquals(3, dev.cryo.kernel.SysvIpc.semValues(set, 1)[0], "the killed child's exit gave its 2 back: " + r);
            assertNothingLeft(pid);
        } finally {
            dev.cryo.kernel.Sys.call(() -> "semctl(IPC_RMID)", dev.cryo.kernel.SyscallNr.SEMCTL, set, 0,
                    dev.cryo.kernel.SysvIpc.IPC_RMID, 0);
        }
    }

    /**
     * A failure at the very end of a restore (the restored process killed before it is let go)
     * also leaves nothing behind: a JVM perf-data file made again for the restored process goes.
     */
    @Test
    void aLateFailureRemovesTheFilesTheRestoreMade() throws Exception {
        Path img = tmp.resolve("img");
        int pid;
        Path perfData;
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("perf.out"), "/usr/bin/python3", "-c", String.join("\n",
                "import ctypes, os, time",
                "d = '/tmp/hsperfdata_root'; os.makedirs(d, exist_ok=True)",
                "fd = os.open(os.path.join(d, str(os.getpid())), os.O_RDWR | os.O_CREAT, 0o600); os.ftruncate(fd, 32768)",
                // mapped and closed as a JVM does (Python's mmap module would keep a dup of the fd)
                "libc = ctypes.CDLL(None); libc.mmap.restype = ctypes.c_void_p",
                "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]",
                "a = libc.mmap(None, 32768, 3, 1, fd, 0); ctypes.memmove(a, b'cafe', 4); os.close(fd)",
                "print('ready', flush=True)",
                "time.sleep(600)"))) {
            p.awaitOutput("ready", Duration.ofSeconds(30));
            pid = p.pid().value();
            perfData = Path.of("/tmp/hsperfdata_root", Integer.toString(pid));
            Cli d = Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress");
            assertEquals(0, d.code(), d.toString());
            assertTrue(Cli.run("show", img.toString(), "mems").out().contains("JVM_PERF_DATA"), "mapped as a JVM's perf data");
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10), "reaped");
        }
        Files.deleteIfExists(perfData); // as any JVM starting on the host would
        byte[] before = imageBytes(img);
        Cli r;
        java.util.concurrent.atomic.AtomicBoolean made = new java.util.concurrent.atomic.AtomicBoolean();
        try (AutoCloseable killer = dev.cryo.api.TreeObservers.register(new dev.cryo.api.TreeObservers.Observer() {
            @Override
            public void restoredBeforeResume(int root, java.util.List<Integer> pids) {
                made.set(Files.exists(perfData)); // an observer's exception is only logged
                dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(root), dev.cryo.kernel.Signals.SIGKILL);
            }
        })) {
            r = Cli.run("restore", "-D", img.toString(), "-d");
        }
        assertEquals(1, r.code(), r.toString());
        assertTrue(made.get(), "the perf-data file was not made again for the restored process");
        assertFalse(Files.exists(perfData), "the perf-data file the failed restore made is left behind: " + r);
        assertArrayEquals(before, imageBytes(img));
        assertNothingLeft(pid);
    }

    /**
     * A tree holding more sockets than cryo may have files open (RLIMIT_NOFILE, whose hard limit only
     * CAP_SYS_RESOURCE raises): stress-ng's sockpair stressor, 20 000 sockets in two processes, failed its
     * restore part way with "Too many open files" while reading some /proc file, as the restore builds every
     * socket in cryo's own process first. Now refused before any task is made, naming the limit.
     */
    @Test
    void moreSocketsThanCryoMayOpenAreRefusedNamingTheLimit() throws Exception {
        long hard = Long.parseLong(Files.readAllLines(Path.of("/proc/self/limits")).stream()
                .filter(l -> l.startsWith("Max open files")).findFirst().orElseThrow().trim().split("\\s+")[4]);
        org.junit.jupiter.api.Assumptions.assumeTrue(hard <= 65536, "cryo's hard limit on open files is " + hard
                + ": too many sockets to make here");
        long pairs = hard / 4 + 500; // in each of two processes: more sockets in all than cryo's hard limit
        Path img = tmp.resolve("img");
        int pid;
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("pairs.out"), "/usr/bin/python3", "-c", String.join("\n",
                "import os, resource, socket, time",
                "h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))",
                "child = os.fork()",
                "pairs = [socket.socketpair() for _ in range(" + pairs + ")]",
                "print('ready', flush=True) if child else None",
                "time.sleep(600)"))) {
            p.awaitOutput("ready", Duration.ofSeconds(60));
            pid = p.pid().value();
            Cli d = Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress");
            assertEquals(0, d.code(), d.toString());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10), "reaped");
        }
        long openBefore;
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            openBefore = fds.count();
        }
        Cli r = Cli.run("restore", "-D", img.toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(openBefore < 1000, "open before the restore: " + openBefore);
        assertTrue(r.err().contains("the image holds " + 4 * pairs + " sockets") && r.err().contains("RLIMIT_NOFILE"), r.err());
        assertNothingLeft(pid);
    }

    @Test
    void aCorruptImageIsRefusedAndNothingIsLeft() throws Exception {
        int pid;
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            pid = p.pid().value();
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress").code());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10), "reaped");
        }
        flipByte(img, f -> f.length() / 2);
        byte[] before = imageBytes(img);
        Cli r = Cli.run("restore", "-D", img.toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("image.cryo chunk"), r.err());
        assertArrayEquals(before, imageBytes(img));
        assertNothingLeft(pid);
    }

    /**
     * A page chunk is checked by the page writer right before its pages go into the task (the
     * image is read once): a damaged one fails the restore, which kills what it created.
     */
    @Test
    void aDamagedPageChunkFailsTheRestoreNamingItAndLeavesNothing() throws Exception {
        int pid;
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            pid = p.pid().value();
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress").code());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10), "reaped");
        }
        dev.cryo.engine.image.IndexEntry last;
        try (var reader = dev.cryo.engine.image.ImageReader.open(img, dev.cryo.engine.model.codec.ModelCodecs.ALL)) {
            java.util.List<dev.cryo.engine.image.IndexEntry> pages = reader.pageChunks();
            last = pages.get(pages.size() - 1);
        }
        flipByte(img, f -> last.offset() + last.totalLength() - 1); // the chunk's last page byte
        byte[] before = imageBytes(img);
        Cli r = Cli.run("restore", "-D", img.toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().startsWith("cryo: "), r.err());
        assertTrue(r.err().contains("image.cryo chunk " + last.number()), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
        assertArrayEquals(before, imageBytes(img));
        assertNothingLeft(pid);
    }

    private interface Where {
        long at(RandomAccessFile f) throws Exception;
    }

    private static void flipByte(Path img, Where where) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(img.resolve("image.cryo").toFile(), "rw")) {
            long at = where.at(f);
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 1);
        }
    }

    @Test
    void aMissingImageIsNamed() throws Exception {
        Cli r = Cli.run("restore", "-D", tmp.resolve("nothing-here").toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("nothing-here"), r.err());
        // -D a file (the image file itself, say): it said "no image in" the file
        Path file = tmp.resolve("a-file");
        Files.writeString(file, "x");
        r = Cli.run("restore", "-D", file.toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains(file + " is a file, not an image directory"), r.err());
    }
}
