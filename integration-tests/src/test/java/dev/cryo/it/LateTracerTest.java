package dev.cryo.it;

import dev.cryo.api.Cryo;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.StageHooks;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A task of the tree that starts tracing a process outside it after the dump's first look for
 * such tracers (OutsideTracees, on the running tree) and before the freeze: the frozen tree is
 * looked at again, and the dump is refused before its image is committed; the tree runs on.
 */
class LateTracerTest {
    @TempDir
    Path tmp;

    @Test
    void aTracerAttachingBetweenTheFirstLookAndTheFreezeIsRefused() throws Exception {
        Path attached = tmp.resolve("attached");
        // the tracee: a cat reparented out of the tree; the tree's python seizes it on SIGUSR1
        String script = "import ctypes, os, signal, time\nr, w = os.pipe()\nr2, w2 = os.pipe()\n"
                + "if os.fork() == 0:\n    c = os.fork()\n    if c == 0:\n        os.dup2(r, 0)\n"
                + "        os.close(w)\n        os.setsid()\n        os.execvp('cat', ['cat'])\n    os.write(w2, b'%d' % c)\n"
                + "    os._exit(0)\nos.wait()\nos.close(r)\nc = int(os.read(r2, 16))\n"
                // out of the tree's session before the dump looks: cat's name shows it ran setsid and exec'd
                + "for _ in range(1000):\n    if open('/proc/%d/comm' % c).read().strip() == 'cat':\n        break\n"
                + "    time.sleep(0.01)\n"
                + "def seize(*_):\n    assert ctypes.CDLL(None).ptrace(0x4206, c, None, None) == 0\n"
                + "    open('" + attached + "', 'w').write('%d' % c)\n"
                + "signal.signal(signal.SIGUSR1, seize)\nprint('ready', flush=True)\n"
                + "for _ in range(600):\n    time.sleep(1)\n";
        try (Cryo cryo = Cryo.create();
             DetachedProcess p = DetachedProcess.start(tmp.resolve("out"), "/usr/bin/python3", "-c", script)) {
            p.awaitOutput("ready", Duration.ofSeconds(10));
            StageHooks attachNow = new StageHooks() {
                @Override
                public void beforeFreeze(int root) {
                    try {
                        new ProcessBuilder("kill", "-USR1", Integer.toString(root)).start().waitFor();
                        DetachedProcess.awaitCondition(() -> Files.exists(attached), Duration.ofSeconds(10),
                                "the tree's python to seize its cat");
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            };
            Path img = tmp.resolve("img");
            CompletionException e = assertThrows(CompletionException.class,
                    () -> cryo.dump(DumpRequest.of(p.pid().value(), img).withHooks(attachNow)).toCompletableFuture().join());
            String why = e.getCause().getMessage();
            assertTrue(why.matches("(?s).*pid " + p.pid() + " \\(python3\\) traces pid \\d+ \\(cat\\), which is not in the tree.*"
                    + "attached while the dump was starting.*"), why);
            assertTrue(p.alive(), "the tree runs on");
            String cat = Files.readString(attached).trim();
            assertTrue(Files.readString(Path.of("/proc/" + cat + "/status")).contains("\nTracerPid:\t" + p.pid() + "\n"),
                    "the cat is still held by the tree's python");
            assertFalse(Files.exists(img.resolve("image.cryo")), "no image is left");
            assertFalse(Files.exists(img.resolve("image.cryo.partial")), "no partial image is left");
            new ProcessBuilder("kill", "-9", cat).start().waitFor();
        }
    }

    /**
     * A tree that calls no ptrace after the first look is not looked at again frozen (a read of every
     * process's and thread's status on the host, tens of ms of CPU in the frozen window at load 15): the
     * kernel counted its ptrace calls from before the first look (TracerWatch). The test above is the
     * other side: a tree that did attach is looked at again, and refused.
     */
    @Test
    void aTreeThatCallsNoPtraceIsNotLookedAtAgainFrozen() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.cryo.kernel.SyscallCounter.supported(),
                () -> "no perf counters on syscall exits: " + dev.cryo.kernel.SyscallCounter.unsupportedReason());
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path log = tmp.resolve("dump.log");
            Cli dump = Cli.run("-vv", "--log-file", log.toString(), "dump", "-t", p.pid().toString(), "-D",
                    tmp.resolve("img").toString(), "--no-progress", "-R");
            assertTrue(dump.code() == 0, dump.toString());
            String debug = Files.readString(log);
            assertTrue(debug.contains("called ptrace since the first look for tracers of outside processes: not looked for again"),
                    debug);
            assertTrue(p.alive(), "the tree runs on");
        }
    }
}
