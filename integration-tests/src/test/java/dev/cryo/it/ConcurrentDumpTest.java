package dev.cryo.it;

import dev.cryo.api.Cryo;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.engine.dump.DumpLock;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Dumps at the same time: one per tree (the second is refused clearly), any number of different trees. */
class ConcurrentDumpTest {
    @TempDir
    Path tmp;

    private static DumpRequest leaveRunning(DetachedProcess p, Path dir) {
        return DumpRequest.of(p.pid().value(), dir).leavingRunning(true);
    }

    @Test
    void twoDumpsOfTheSameTreeAtOnceThroughOneCryoTheSecondIsRefused() throws Exception {
        try (DetachedProcess p = Workloads.bigmem(tmp, 256); Cryo cryo = Cryo.create()) {
            CompletableFuture<DumpReport> first = cryo.dump(leaveRunning(p, tmp.resolve("a"))).toCompletableFuture();
            CompletableFuture<DumpReport> second = cryo.dump(leaveRunning(p, tmp.resolve("b"))).toCompletableFuture();
            CompletionException refused = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
                    second::join);
            assertTrue(refused.getCause().getMessage().contains("pid " + p.pid() + " is already being dumped (by cryo "
                    + "process " + ProcessHandle.current().pid() + ")"), refused.getCause().getMessage());
            first.join();
            assertTrue(Files.exists(tmp.resolve("a/image.cryo")));
            assertFalse(Files.exists(tmp.resolve("b/image.cryo")));
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void anotherCryoProcessIsRefusedWhileATreeIsLocked() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp); DumpLock held = DumpLock.acquire(p.pid())) {
            Path log = tmp.resolve("second.log");
            Process second = CryoProcess.start(log, "dump", "-t", p.pid().toString(), "-D", tmp.resolve("b").toString(),
                    "--leave-running", "--no-progress");
            assertTrue(second.waitFor(120, TimeUnit.SECONDS));
            String out = Files.readString(log);
            assertEquals(1, second.exitValue(), out);
            assertTrue(out.contains("cryo: dump failed: pid " + p.pid() + " is already being dumped (by cryo process "
                    + ProcessHandle.current().pid() + "); one dump of a tree at a time"), out);
            assertFalse(Files.exists(tmp.resolve("b/image.cryo")));
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void aTreeTracedBySomeoneElseIsRefusedNamingTheTracer() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Tracer tracer = new Tracer();
            tracer.seizeAndInterrupt(p.pid().value(), 0);
            tracer.waitForStop(p.pid().value());
            try {
                Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "-R",
                        "--no-progress");
                assertEquals(1, r.code(), r.toString());
                assertTrue(r.err().contains("pid " + p.pid() + " is already traced by pid "), r.err());
                assertTrue(r.err().contains("(another cryo dump or a debugger)"), r.err());
            } finally {
                tracer.close();
            }
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void twoDumpsOfDifferentTreesAtOnceThroughOneCryoBothSucceed() throws Exception {
        Path one = Files.createDirectories(tmp.resolve("one"));
        Path two = Files.createDirectories(tmp.resolve("two"));
        try (DetachedProcess a = Workloads.counter(one); DetachedProcess b = Workloads.threads(two);
             Cryo cryo = Cryo.create()) {
            CompletableFuture<DumpReport> da = cryo.dump(leaveRunning(a, one.resolve("img"))).toCompletableFuture();
            CompletableFuture<DumpReport> db = cryo.dump(leaveRunning(b, two.resolve("img"))).toCompletableFuture();
            assertEquals(java.util.List.of(a.pid().value()), da.join().pids());
            assertEquals(java.util.List.of(b.pid().value()), db.join().pids());
            for (DetachedProcess p : java.util.List.of(a, b)) { // a finished dump takes its lock file away
                try (var left = Files.list(Path.of("/run/cryo"))) {
                    assertEquals(java.util.List.of(), left.map(f -> f.getFileName().toString())
                            .filter(f -> f.startsWith("dump-") && f.endsWith("-" + p.pid() + ".lock")).toList());
                }
            }
            assertTrue(Workloads.check(a).contains("PASS"), a.outputText());
            assertTrue(Workloads.check(b).contains("PASS"), b.outputText());
            assertEquals(0, Cli.run("show", one.resolve("img").toString()).code());
            assertEquals(0, Cli.run("show", two.resolve("img").toString()).code());
        }
    }
}
