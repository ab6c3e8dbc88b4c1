package dev.cryo.it;

import dev.cryo.actors.dump.DumpSupervisor;
import dev.cryo.api.DumpRequest;
import dev.cryo.config.CryoConfig;
import dev.cryo.config.CryoSettings;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/** The dump supervisor's failure and timeout paths, driven with Pekko's test kit on real processes. */
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class DumpSupervisorTest {
    @JUnit5TestKit
    public ActorTestKit testKit = ActorTestKit.create(CryoConfig.loadConfig(Optional.empty(), Map.of()));

    @TempDir
    Path tmp;

    private static CryoSettings settings(String... overrides) {
        Map<String, String> m = new java.util.HashMap<>();
        for (int i = 0; i < overrides.length; i += 2) {
            m.put(overrides[i], overrides[i + 1]);
        }
        return CryoConfig.load(Optional.empty(), m);
    }

    /** Waits until {@code p} has no tracer (cryo's dumpers let it go). */
    private static void awaitUntraced(DetachedProcess p, Duration timeout) throws InterruptedException {
        DetachedProcess.awaitProbe(() -> Files.readString(Path.of("/proc/" + p.pid() + "/status")).contains("TracerPid:\t0"),
                timeout, "pid " + p.pid() + " to be untraced");
    }

    private static DumpSupervisor.ImageWriterFactory images() {
        return dir -> ImageWriter.create(dir, ModelCodecs.ALL, ImageOptions.defaults());
    }

    /**
     * A bug that stops the supervisor mid-dump (an observer throwing an Error at the freeze, past the catch for the
     * observers' exceptions) leaves no network lock behind: the seize's table held the tree's listener (its SYNs
     * dropped) and stayed for good before, while the tree, let go by its dumper, ran on. Its caller hears at once
     * why, where before it heard nothing until its own ask timed out (the dump's timeout + the seize's + 60 s).
     */
    @Test
    void aSupervisorStoppedByABugLeavesNoNetworkLockBehind() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.cryo.kernel.net.NetworkLock.available(), "no nf_tables");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tree.out"),
                TestPrograms.compile("/c/exitmutex.c", "-pthread").toString(), "tree"));
             AutoCloseable bug = dev.cryo.api.TreeObservers.register(new dev.cryo.api.TreeObservers.Observer() {
                 @Override
                 public void frozenForDump(int root, java.util.List<Integer> pids) {
                     if (root == p.pid().value()) {
                         throw new AssertionError("a bug");
                     }
                 }
             })) {
            TestProbe<DumpSupervisor.Outcome> probe = testKit.createTestProbe();
            var s = testKit.spawn(DumpSupervisor.create(DumpRequest.of(p.pid().value(), tmp.resolve("img")), settings(),
                    images(), probe.getRef()));
            DumpSupervisor.Failed f = probe.expectMessageClass(DumpSupervisor.Failed.class, Duration.ofSeconds(60));
            assertTrue(f.message().contains("pid " + p.pid() + ": the dump stopped before its end on a bug (a bug)"),
                    f.message());
            probe.expectTerminated(s, Duration.ofSeconds(60));
            probe.expectNoMessage(Duration.ofMillis(200)); // one answer
            assertEquals(java.util.List.of(), DumpFailureTest.lockTables(p.pid()), "the dump's network lock is gone");
            awaitUntraced(p, Duration.ofSeconds(30));
        }
    }

    @Test
    void aTaskThatCannotStopTimesOutTheSeizeAndIsLetGo() throws Exception {
        // the parent sleeps in D until its vfork child, blocked on the FIFO, is let go by the test
        try (DetachedProcess p = Workloads.vforkHeld(tmp)) {
            TestProbe<DumpSupervisor.Outcome> probe = testKit.createTestProbe();
            Path img = tmp.resolve("img");
            testKit.spawn(DumpSupervisor.create(DumpRequest.of(p.pid().value(), img),
                    settings("cryo.dump.seize-timeout", "1s"), images(), probe.getRef()));
            DumpSupervisor.Failed f = probe.expectMessageClass(DumpSupervisor.Failed.class, Duration.ofSeconds(40));
            // refused once it is seen waiting for its vfork child (the timeout would end the same way)
            assertTrue(f.message().contains("did not stop within") || f.message().contains("timed out seizing")
                    || f.message().contains("waits for its vfork child to exec or exit"), f.message());
            assertTrue(f.message().contains(p.pid().toString()), f.message());
            assertTrue(f.message().contains("waits for its vfork child"), "the timeout says why: " + f.message());
            assertFalse(f.message().contains("already traced"), "cryo's own seize is not another tracer: " + f.message());
            assertFalse(Files.exists(img.resolve("image.cryo")));
            // once the vfork child is done, the parent runs on: not stopped, not traced
            Files.writeString(tmp.resolve("go"), "x");
            p.awaitOutput("resumed", Duration.ofSeconds(20));
            awaitUntraced(p, Duration.ofSeconds(10));
            int lines = p.outputText().split("\n").length;
            Thread.sleep(500);
            assertTrue(p.outputText().split("\n").length > lines, "it keeps printing");
        }
    }

    @Test
    void aWriterThatCannotCreateTheImageFailsBeforeAnythingIsSeized() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            TestProbe<DumpSupervisor.Outcome> probe = testKit.createTestProbe();
            testKit.spawn(DumpSupervisor.create(DumpRequest.of(p.pid().value(), tmp.resolve("img")), settings(),
                    dir -> {
                        throw new java.io.IOException("disk on fire");
                    }, probe.getRef()));
            DumpSupervisor.Failed f = probe.expectMessageClass(DumpSupervisor.Failed.class, Duration.ofSeconds(10));
            assertEquals("disk on fire", f.message());
            assertTrue(Files.readString(Path.of("/proc/" + p.pid() + "/status")).contains("TracerPid:\t0"));
            assertTrue(Workloads.check(p).contains("PASS"));
        }
    }

    /** A bug before the seize (ns13 met one: a zombie's /proc status) is told at once, not at the caller's 670 s timeout. */
    @Test
    void anUnexpectedFailureBeforeTheSeizeIsToldAtOnceAndTheTreeRunsOn() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            TestProbe<DumpSupervisor.Outcome> probe = testKit.createTestProbe();
            testKit.spawn(DumpSupervisor.create(DumpRequest.of(p.pid().value(), tmp.resolve("img")), settings(),
                    dir -> {
                        throw new IllegalStateException("a bug");
                    }, probe.getRef()));
            DumpSupervisor.Failed f = probe.expectMessageClass(DumpSupervisor.Failed.class, Duration.ofSeconds(10));
            assertEquals("pid " + p.pid() + ": the dump failed before the seize, nothing was frozen: a bug", f.message());
            assertTrue(Files.readString(Path.of("/proc/" + p.pid() + "/status")).contains("TracerPid:\t0"));
            assertTrue(Workloads.check(p).contains("PASS"));
        }
    }

    @Test
    void aDumpThroughTheSupervisorSucceedsAndReportsStatistics() throws Exception {
        try (DetachedProcess p = Workloads.bigmem(tmp, 64)) {
            TestProbe<DumpSupervisor.Outcome> probe = testKit.createTestProbe();
            testKit.spawn(DumpSupervisor.create(DumpRequest.of(p.pid().value(), tmp.resolve("img")).leavingRunning(true),
                    settings("cryo.parallelism.regions", "2"), images(), probe.getRef()));
            DumpSupervisor.Succeeded s = probe.expectMessageClass(DumpSupervisor.Succeeded.class, Duration.ofSeconds(60));
            var stats = s.report().stats();
            assertEquals(1, stats.tasks());
            assertTrue(stats.pagesWritten() > 0);
            assertTrue(stats.zeroPages() > 0, "bigmem keeps zero-filled pages: they are recorded, not written");
            assertTrue(stats.imageBytes() < 64L * 1024 * 1024 + 8 * 1024 * 1024);
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }
}
