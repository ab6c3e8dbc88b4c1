package dev.cryo.engine.restore;

import dev.cryo.kernel.Sched;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
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

    @Test
    void heldItRunsAtSchedFifoAndLetGoItGetsItsOwnPolicyNiceAndSlackBack() throws Exception {
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            int pid = sleep.pid().value();
            Sched.setattr(pid, new Sched.Attr(Sched.SCHED_BATCH, 0, 5, 0, 0, 0, 0, 0, Sched.UCLAMP_MAX));
            Files.writeString(Path.of("/proc/" + pid + "/timerslack_ns"), "70000");
            String before = sched(pid);
            StubKeptWarm warm = warmed(sleep, 2);
            assertEquals(Sched.SCHED_FIFO, Sched.getattr(pid).policy(), "held: lifted");
            assertNull(warm.lift(), "not taken: the lift is not the restore's");
            warm.close();
            assertEquals(before, sched(pid), "let go");
        }
    }

    @Test
    void theRestoreTakesTheLiftWithTheStub() throws Exception {
        try (DetachedProcess sleep = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "1000")) {
            int pid = sleep.pid().value();
            Files.writeString(Path.of("/proc/" + pid + "/timerslack_ns"), "70000");
            StubKeptWarm warm = warmed(sleep, 2);
            warm.handOver();
            dev.cryo.kernel.ptrace.Tracer tracer = warm.take();
            assertNotNull(tracer, "held");
            dev.cryo.engine.timing.SchedHandler.Lift lift = warm.lift();
            assertNotNull(lift, "taken lifted");
            assertEquals(Sched.SCHED_OTHER, lift.from().policy());
            assertEquals(70000, lift.slack());
            assertEquals(Sched.SCHED_FIFO, Sched.getattr(pid).policy(), "still lifted: the restore drops it");
            warm.run(() -> {
                dev.cryo.engine.timing.SchedHandler.drop(sleep.pid(), lift);
                tracer.detach(pid, pid);
            });
            warm.end();
            DetachedProcess.awaitCondition(() -> sleep.state() == 'S', Duration.ofSeconds(30), "back in its sleep");
            assertEquals(Sched.SCHED_OTHER + " 0 70000", sched(pid));
            warm.close();
        }
    }

    /** "policy nice slack" of the main thread of {@code pid}. */
    private static String sched(int pid) throws Exception {
        return Sched.getattr(pid).policy() + " " + Sched.getNice(pid) + " "
                + Files.readString(Path.of("/proc/" + pid + "/timerslack_ns")).strip();
    }

    /** Keeps the asleep {@code sleep} warm (lifted to SCHED_FIFO 1) until it has returned to user mode {@code returns} times. */
    private static StubKeptWarm warmed(DetachedProcess sleep, int returns) throws Exception {
        DetachedProcess.awaitCondition(() -> sleep.state() == 'S', Duration.ofSeconds(30), "sleep asleep");
        StubKeptWarm warm = new StubKeptWarm(sleep.pid(), 1);
        DetachedProcess.awaitCondition(() -> warm.returns() >= returns, Duration.ofSeconds(60), returns + " getpid in the stub");
        return warm;
    }
}
