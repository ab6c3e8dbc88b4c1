package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The README's "Not carried yet" list, one row per item: a process holding that state is refused
 * at dump time with a message naming the pid, the object and the reason, no image is left, and
 * the process runs on untouched (not stopped, not traced). When cryo learns to carry an item,
 * its row goes (and the README line with it); a new refusal gets a row.
 *
 * <p>Items proven by their owner's tests instead: a zombie that dumped core (ZombieTest), a pidfd
 * of a task outside the tree (PidFdTest), the seccomp, dumpable and per-thread-id refusals
 * (security tests), an fd shared with a process outside the tree and SysV shared memory
 * (DumpFailureTest).
 */
class NotCarriedTest {
    @TempDir
    Path tmp;

    /** {@code command} runs in the test's directory; {@code message} is what the error must say after "pid N". */
    record Item(String name, List<String> command, String message) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Item python(String name, String code, String message) {
        return new Item(name, List.of("/usr/bin/python3", "-c", code + "\nimport time\nprint('ready', flush=True)\n"
                + "time.sleep(600)\n"), message);
    }

    private static Item unshare(String ns, String message) {
        return new Item(ns + " namespace", List.of("unshare", "--" + ns, "/bin/sh", "-c", "echo ready; exec /bin/sleep 600"),
                message);
    }

    static Stream<Item> items() {
        return Stream.of(
                python("a packet socket", "import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
                        " fd 3: packet socket is not supported yet"),
                python("inotify", "import ctypes\nfd = ctypes.CDLL(None).inotify_init1(0)\nassert fd == 3",
                        " fd 3: inotify is not supported yet"),
                python("a memfd fd", "import os\nfd = os.memfd_create('kept')\nassert fd == 3",
                        " fd 3: .*memfd:?kept.* not supported yet"),
                new Item("a deleted file", List.of("/bin/sh", "-c",
                        "echo x > gone && exec 3<gone && rm gone && echo ready && exec /bin/sleep 600"),
                        " fd 3: .*/gone \\(deleted\\) is a deleted file; deleted files are not supported yet"),
                new Item("a file lock", List.of("/bin/sh", "-c",
                        "exec 3>locked && flock 3 && echo ready && exec /bin/sleep 600"),
                        " fd 3: holds a file lock \\(.*FLOCK.*\\); file locks are not supported yet"),
                unshare("uts", ": its uts namespace \\(uts:\\[\\d+\\]\\) is not cryo's .*namespaces other than the host's are not supported yet"),
                unshare("ipc", ": its ipc namespace .* is not cryo's"),
                unshare("net", ": its net namespace .* is not cryo's"),
                unshare("mount", ": its mnt namespace .* is not cryo's"),
                unshare("cgroup", ": its cgroup namespace .* is not cryo's"),
                unshare("user", ": its user namespace .* is not cryo's"),
                unshare("time", ": its time namespace .* is not cryo's"),
                new Item("pid namespace", List.of("unshare", "--pid", "--fork", "/bin/sh", "-c",
                        "echo ready; exec /bin/sleep 600"), ": the pid namespace its children will get .* is not cryo's"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("items")
    void isRefusedAtDumpTimeAndTheTreeRunsOn(Item item) throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("item.out"),
                item.command().toArray(String[]::new)))) {
            int pid = p.pid().value();
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress");
            assertEquals(1, r.code(), r.toString());
            String err = r.err().strip();
            assertTrue(java.util.regex.Pattern.compile("pid " + pid + item.message()).matcher(err).find(),
                    "expected 'pid " + pid + item.message() + "' in:\n" + err);
            assertFalse(err.contains("Exception") || err.contains("\tat "), "a message, not a stack trace:\n" + err);
            assertFalse(Files.exists(img.resolve("image.cryo")), "no image may be left");
            for (int t : StateComparator.tree(pid)) {
                String status = Files.readString(Path.of("/proc/" + t + "/status"));
                assertTrue(status.contains("TracerPid:\t0\n"), "pid " + t + " is left traced:\n" + status);
                assertTrue(status.matches("(?s).*State:\t[RS].*"), "pid " + t + " is left stopped:\n" + status);
            }
            Thread.sleep(50);
            assertTrue(Files.exists(Path.of("/proc/" + pid)), "pid " + pid + " runs on");
        }
    }
}
