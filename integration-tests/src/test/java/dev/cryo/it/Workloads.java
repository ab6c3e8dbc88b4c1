package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** Starts the zdtm-style workloads of src/test/c and src/test/scripts, detached from the JVM. */
final class Workloads {
    private Workloads() {}

    static DetachedProcess counter(Path dir) throws Exception {
        return ready(DetachedProcess.start(dir.resolve("counter.out"), TestPrograms.compile("/c/counter.c").toString(),
                dir.resolve("counter.txt").toString()));
    }

    /**
     * vforkhold.c: a vfork parent in uninterruptible sleep until the test writes to {@code dir/go},
     * the FIFO its child blocks on; then it prints "resumed".
     */
    static DetachedProcess vforkHeld(Path dir) throws Exception {
        Path fifo = dir.resolve("go");
        if (new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() != 0) {
            throw new IOException("mkfifo " + fifo + " failed");
        }
        DetachedProcess p = program(dir.resolve("vforkhold.out"), "vforkhold", fifo.toString());
        // "ready" comes before the vfork: under load a dump began while the parent still ran toward it. Nor
        // is its state D proof: "ready" is in the file while its write still sleeps in D (dirty-page
        // throttling), and CI's dump then found it running, not in vfork. Once the child exists the parent
        // is in the kernel's vfork wait, or on its way there with no return to user space in between: runnable
        // on that way under load, a dump with --timeout 1 found it in state R at its deadline ("did not stop
        // within the seize timeout (state R)"), so the wait is for the parent asleep in vfork too.
        DetachedProcess.awaitCondition(() -> dev.cryo.kernel.proc.ProcFs.children(p.pid()).stream()
                        .anyMatch(dev.cryo.engine.dump.SeizeDelay::borrowsParentMemory)
                        && dev.cryo.engine.dump.SeizeDelay.inVforkWait(p.pid(), p.pid()),
                java.time.Duration.ofSeconds(30), "pid " + p.pid() + " to wait for its vfork child");
        return p;
    }

    static DetachedProcess threads(Path dir) throws Exception {
        return ready(DetachedProcess.start(dir.resolve("threads.out"),
                TestPrograms.compile("/c/threads.c", "-pthread").toString()));
    }

    static DetachedProcess tree(Path dir) throws Exception {
        return program(dir.resolve("tree.out"), "tree");
    }

    static DetachedProcess events(Path dir) throws Exception {
        return program(dir.resolve("events.out"), "events");
    }

    /** caps.c: "ambient" (uid 1000 with ambient caps, no_new_privs, dumpable 0, subreaper) or "root". */
    static DetachedProcess caps(Path dir, String mode) throws Exception {
        return ready(DetachedProcess.start(dir.resolve("caps-" + mode + ".out"),
                TestPrograms.compile("/c/caps.c", "-pthread").toString(), mode));
    }

    /** seccomp.c: "tsync", "inherit" or "notif" (a filter with a user-space listener). */
    static DetachedProcess seccomp(Path dir, String mode) throws Exception {
        return ready(DetachedProcess.start(dir.resolve("seccomp-" + mode + ".out"),
                TestPrograms.compile("/c/seccomp.c", "-pthread").toString(), mode));
    }

    /** strict.c: a parent whose child runs in seccomp strict mode. */
    static DetachedProcess strict(Path dir) throws Exception {
        return program(dir.resolve("strict.out"), "strict");
    }

    static DetachedProcess bigmem(Path dir, int mib) throws Exception {
        return program(dir.resolve("bigmem.out"), "bigmem", Integer.toString(mib));
    }

    /** The test script src/test/resources/scripts/NAME, copied into {@code dir} (once). */
    static Path script(Path dir, String name) throws IOException {
        Path script = dir.resolve(name);
        if (!Files.exists(script)) {
            try (InputStream in = Workloads.class.getResourceAsStream("/scripts/" + name)) {
                Files.write(script, in.readAllBytes());
            }
        }
        return script;
    }

    /**
     * A container init's shell line: waits for its veth end {@code dev} (the test moves it in), gives it
     * NET.2/24 ({@code net} is "10.83.0"; with {@code routed} a default route via NET.1) and runs
     * sockets.py's stream server on NET.2:8001.
     */
    static String vethStreamServer(Path script, String dev, String net, boolean routed) {
        return "ip link set lo up && i=0; while [ $i -lt 300 ] && ! ip link show " + dev + " >/dev/null 2>&1; do"
                + " i=$((i+1)); sleep 0.1; done; ip addr add " + net + ".2/24 dev " + dev + " && ip link set " + dev + " up"
                + (routed ? " && ip route add default via " + net + ".1" : "")
                + " && exec python3 " + script + " streamserver " + net + ".2 8001";
    }

    static DetachedProcess python(Path dir) throws Exception {
        Path script = script(dir, "counter.py");
        return ready(DetachedProcess.start(dir.resolve("counter-py.out"), "/usr/bin/python3", script.toString(),
                dir.resolve("counter-py.txt").toString()));
    }

    /** sockets.py in one of its modes (see the script). */
    static DetachedProcess sockets(Path dir, String mode, String... args) throws Exception {
        Path script = script(dir, "sockets.py");
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("/usr/bin/python3", script.toString(), mode));
        cmd.addAll(java.util.List.of(args));
        return ready(DetachedProcess.start(dir.resolve("sockets-" + mode + ".out"), cmd.toArray(String[]::new)));
    }

    /** A python process holding a netlink socket (route). */
    static DetachedProcess netlinkHolder(Path dir) throws Exception {
        return ready(DetachedProcess.start(dir.resolve("netlink.out"), "/usr/bin/python3", "-c",
                "import socket,time,sys\n"
                        + "s=socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\n"
                        + "print('ready', s.fileno(), flush=True)\n"
                        + "time.sleep(600)\n"));
    }

    /** The pid of the /bin/sleep somewhere under {@code parent} (e.g. the job script(1) runs on a pty). */
    static int sleepUnder(DetachedProcess parent) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            for (ProcessHandle h : ProcessHandle.of(parent.pid().value()).orElseThrow().descendants().toList()) {
                if (h.info().command().orElse("").endsWith("sleep")) {
                    return (int) h.pid();
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no sleep under pid " + parent.pid());
    }

    /** {@code /c/NAME.c} compiled (no extra flags) and started with args, its output in out; once it says ready. */
    static DetachedProcess program(Path out, String name, String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = TestPrograms.compile("/c/" + name + ".c").toString();
        System.arraycopy(args, 0, cmd, 1, args.length);
        return ready(DetachedProcess.start(out, cmd));
    }

    static DetachedProcess ready(DetachedProcess p) throws IOException, InterruptedException {
        p.awaitOutput("ready", Duration.ofSeconds(60));
        return p;
    }

    /**
     * The fd number a workload prints after "ready", once the whole line is there: a reader may see
     * the file while the line is still being written (CI caught "ready" alone once).
     */
    static String readyFd(DetachedProcess p) throws Exception {
        return readyWords(p, 1)[1];
    }

    /**
     * The "ready" line with the {@code numbers} numbers a workload prints after it, split into words,
     * once the whole line is there: a Python workload under PYTHONUNBUFFERED writes it word by word.
     */
    static String[] readyWords(DetachedProcess p, int numbers) throws Exception {
        String line = "(?s)ready" + " -?\\d+".repeat(numbers) + "\\s.*";
        DetachedProcess.awaitCondition(() -> {
            try {
                return p.outputText().matches(line);
            } catch (IOException e) {
                return false;
            }
        }, Duration.ofSeconds(30), "pid " + p.pid() + " to print its ready line");
        return p.outputText().trim().split("\\s+");
    }

    /** Waits until all {@code threads} threads of {@code pid} are stopped (state T), as after --leave-stopped. */
    static void awaitStopped(dev.cryo.kernel.Pid pid, int threads) throws Exception {
        java.util.List<java.nio.file.Path> tasks;
        try (var ts = java.nio.file.Files.list(java.nio.file.Path.of("/proc", pid.toString(), "task"))) {
            tasks = ts.toList();
        }
        org.junit.jupiter.api.Assertions.assertEquals(threads, tasks.size(), "threads of pid " + pid);
        DetachedProcess.awaitCondition(() -> tasks.stream().allMatch(t -> {
            try {
                String st = java.nio.file.Files.readString(t.resolve("stat"));
                return st.substring(st.lastIndexOf(')') + 2).startsWith("T");
            } catch (IOException e) {
                return false;
            }
        }), Duration.ofSeconds(10), "every thread of pid " + pid + " to be stopped");
    }

    /**
     * Sends the check signal once the workload's main thread sleeps in its wait, and waits for the
     * verdict line. A thread restored in an interrupted call re-runs it: a handled signal that arrives
     * while it is on its way back (runnable, the restart applied, preempted under load) runs the
     * handler and then the call again, and a {@code while (!check) pause();} sleeps on with its
     * check missed (the kernel's own window; CI saw memfdexec hang in pause once at load 10).
     */
    /** Until no tracer holds {@code pid} (a refused dump lets its tree go). */
    static void awaitUntraced(int pid) throws InterruptedException {
        DetachedProcess.awaitCondition(() -> {
            try {
                return java.nio.file.Files.readString(Path.of("/proc/" + pid + "/status")).contains("TracerPid:\t0\n");
            } catch (IOException e) {
                return false;
            }
        }, Duration.ofSeconds(10), "pid " + pid + " to be let go");
    }

    static String check(DetachedProcess p) throws Exception {
        awaitAsleep(p.pid().value());
        dev.cryo.kernel.Sys.kill(p.pid(), dev.cryo.kernel.Signals.SIGUSR2);
        try {
            DetachedProcess.awaitCondition(() -> {
                try {
                    String o = p.outputText();
                    return o.contains("PASS") || o.contains("FAIL");
                } catch (IOException e) {
                    return false;
                }
            }, Duration.ofSeconds(30), "pid " + p.pid() + " to print PASS or FAIL");
        } catch (AssertionError e) { // say where it is: gone, stopped, or blocked in which call
            throw new AssertionError(e.getMessage() + " (" + whereIs(p.pid().value()) + "; output: " + p.outputText() + ")", e);
        }
        return p.outputText();
    }

    /**
     * Until the main thread of {@code pid} is not runnable (asleep in a call, stopped or gone); a
     * workload that keeps computing is given 2 s, then its check is sent anyway.
     */
    private static void awaitAsleep(int pid) throws InterruptedException {
        Path stat = Path.of("/proc/" + pid + "/stat");
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                String st = java.nio.file.Files.readString(stat);
                if (st.charAt(st.lastIndexOf(')') + 2) != 'R') {
                    return;
                }
            } catch (IOException gone) {
                return;
            }
            Thread.sleep(2);
        }
    }

    /** A stuck workload's state letter, kernel wait channel and syscall line, for a failure message. */
    static String whereIs(int pid) {
        Path proc = Path.of("/proc/" + pid);
        try {
            String st = java.nio.file.Files.readString(proc.resolve("stat"));
            return "state " + st.charAt(st.lastIndexOf(')') + 2) + ", wchan " + java.nio.file.Files.readString(proc.resolve("wchan"))
                    + ", syscall " + java.nio.file.Files.readString(proc.resolve("syscall")).strip();
        } catch (IOException e) {
            return "gone";
        }
    }

    /** Lines of a file a workload writes (0 while it is missing or unreadable). */
    static int lines(Path f) {
        try {
            return java.nio.file.Files.exists(f) ? java.nio.file.Files.readAllLines(f).size() : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * The memory the tree of {@code root} uses: the sum of its tasks' proportional set sizes (Pss of
     * smaps_rollup, in KiB), where a page shared by n tasks counts 1/n in each.
     */
    static long pssKib(int root) throws IOException {
        long sum = 0;
        for (int pid : StateComparator.tree(root)) {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"))) {
                if (line.startsWith("Pss:")) {
                    sum += Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        }
        return sum;
    }

    /** SIGKILL to a process that may have exited already. */
    static void signalQuietly(int pid, int signal) {
        try {
            dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(pid), signal);
        } catch (RuntimeException gone) {
            // exited
        }
    }

    static void killQuietly(int pid) {
        signalQuietly(pid, dev.cryo.kernel.Signals.SIGKILL);
    }
}
