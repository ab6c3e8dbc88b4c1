package dev.cryo.engine.restore;

import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A migration's stub kept running now and then while the source is frozen, then let go as it was. */
class StubKeptWarmTest {
    @TempDir
    Path tmp;

    @Test
    void theStubReturnsToUserModeRepeatedlyThenSleepsOnUntraced() throws Exception {
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            StubKeptWarm warm = warmed(sleep, 3);
            warm.close();
            int returns = warm.returns();
            assertTrue(returns >= 3, "returns " + returns);
            assertEquals("0", ProcFs.status(sleep.pid()).value("TracerPid").orElseThrow(), "let go");
            DetachedProcess.awaitCondition(() -> sleep.state() == 'S', Duration.ofSeconds(30), "back in its sleep");
            assertEquals(returns, warm.returns(), "no getpid after close");
        }
    }

    @Test
    void afterAStopTheStubAsleepAgainIsNoLongerTraced() throws Exception {
        // what the restore relies on: it seizes the stub once its state says it sleeps again
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            StubKeptWarm warm = warmed(sleep, 3);
            warm.stop(); // returns without waiting for the let-go
            DetachedProcess.awaitCondition(() -> sleep.state() == 'S', Duration.ofSeconds(30), "back in its sleep");
            assertEquals("0", ProcFs.status(sleep.pid()).value("TracerPid").orElseThrow(), "let go");
            int returns = warm.returns();
            warm.close();
            assertEquals(returns, warm.returns(), "no getpid once asleep again");
        }
    }

    @Test
    void aStubKilledMeanwhileEndsTheTouchesQuietly() throws Exception {
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            StubKeptWarm warm = warmed(sleep, 1);
            Sys.kill(sleep.pid(), Signals.SIGKILL);
            warm.close(); // returns: the failed injection only ends the touches
            assertTrue(warm.returns() >= 1);
        }
    }

    @Test
    void theRestoreTakesTheStubSeizedAndRunsItsStepsOnTheThreadThatHoldsIt() throws Exception {
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            StubKeptWarm warm = warmed(sleep, 3);
            warm.handOver();
            dev.cryo.kernel.ptrace.Tracer tracer = warm.take();
            assertNotNull(tracer, "held");
            int returns = warm.returns();
            java.util.concurrent.CompletableFuture<String> step = new java.util.concurrent.CompletableFuture<>();
            warm.run(() -> { // no seize: the stub is stopped for this tracer already, at its own registers
                try (dev.cryo.kernel.ptrace.Injector inj = dev.cryo.engine.dump.RemoteTask.bareInjector(tracer, sleep.pid(),
                        sleep.pid().value(), ProcFs.maps(sleep.pid()))) {
                    step.complete(Thread.currentThread().getName() + " " + inj.raw(dev.cryo.kernel.SyscallNr.GETPID));
                } catch (RuntimeException e) {
                    step.completeExceptionally(e);
                }
            });
            assertEquals("cryo-stubwarm " + sleep.pid().value(), step.get(60, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals('t', sleep.state(), "still held between the steps");
            assertTrue(warm.returns() - returns <= 1, "no touches once taken (one may have been under way)");
            warm.run(() -> tracer.detach(sleep.pid().value(), sleep.pid().value()));
            warm.end();
            DetachedProcess.awaitCondition(() -> sleep.state() == 'S', Duration.ofSeconds(30), "back in its sleep");
            assertEquals("0", ProcFs.status(sleep.pid()).value("TracerPid").orElseThrow(), "let go by the last step");
            warm.close();
        }
    }

    @Test
    void fromTheHandOverTheStubIsHeldUntouchedUntilTaken() throws Exception {
        // a getpid under way at the take was waited for before the restore's first step
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            StubKeptWarm warm = warmed(sleep, 3);
            warm.handOver();
            int returns = warm.returns();
            Thread.sleep(300); // sixty touches' time
            assertTrue(warm.returns() - returns <= 1, "no touches after the hand-over (one may have been under way): "
                    + (warm.returns() - returns));
            assertTrue(ProcFs.status(sleep.pid()).value("TracerPid").map(t -> !t.equals("0")).orElse(false), "held still");
            dev.cryo.kernel.ptrace.Tracer tracer = warm.take();
            assertNotNull(tracer, "taken held");
            java.util.concurrent.CompletableFuture<Long> step = new java.util.concurrent.CompletableFuture<>();
            warm.run(() -> {
                try (dev.cryo.kernel.ptrace.Injector inj = dev.cryo.engine.dump.RemoteTask.bareInjector(tracer, sleep.pid(),
                        sleep.pid().value(), ProcFs.maps(sleep.pid()))) {
                    step.complete(inj.raw(dev.cryo.kernel.SyscallNr.GETPID));
                } catch (RuntimeException e) {
                    step.completeExceptionally(e);
                }
            });
            assertEquals(sleep.pid().value(), step.get(60, java.util.concurrent.TimeUnit.SECONDS).intValue());
            warm.run(() -> tracer.detach(sleep.pid().value(), sleep.pid().value()));
            warm.end();
            DetachedProcess.awaitCondition(() -> sleep.state() == 'S', Duration.ofSeconds(30), "back in its sleep");
            warm.close();
        }
    }

    @Test
    void aStubLetGoIsNotTakenAndSleepsOnUntraced() throws Exception {
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            StubKeptWarm warm = warmed(sleep, 1);
            warm.stop();
            assertNull(warm.take(), "the restore seizes it itself");
            DetachedProcess.awaitCondition(() -> sleep.state() == 'S', Duration.ofSeconds(30), "back in its sleep");
            assertEquals("0", ProcFs.status(sleep.pid()).value("TracerPid").orElseThrow(), "let go");
            warm.close();
        }
    }

    /** Keeps the asleep {@code sleep} warm until it has returned to user mode {@code returns} times. */
    private static StubKeptWarm warmed(DetachedProcess sleep, int returns) throws Exception {
        DetachedProcess.awaitCondition(() -> sleep.state() == 'S', Duration.ofSeconds(30), "sleep asleep");
        StubKeptWarm warm = new StubKeptWarm(sleep.pid());
        DetachedProcess.awaitCondition(() -> warm.returns() >= returns, Duration.ofSeconds(60), returns + " getpid in the stub");
        return warm;
    }
}
