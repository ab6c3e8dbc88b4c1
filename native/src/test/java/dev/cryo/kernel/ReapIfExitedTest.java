package dev.cryo.kernel;

import dev.cryo.kernel.ptrace.Tracer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A child of this process traced by one of its threads while another thread polls for its end (a
 * local agent reaps the roots it restored, and may be dumping one of them): the poll must never take
 * a ptrace stop the tracing thread waits for. wait4(pid, WNOHANG) took them (the kernel reports a
 * stop of a child traced by its parent's own process to every thread there), and the tracer waited
 * for ever; {@link Sys#reapIfExited} leaves them.
 */
class ReapIfExitedTest {
    private static final int ROUNDS = 3000;

    @Test
    void pollingForTheEndOfATracedChildTakesNoneOfItsStops() throws Exception {
        Pid child = Spawner.spawn("/bin/sleep", List.of("sleep", "1000"), List.of(), false);
        try {
            assertTrue(Spawner.awaitSleeping(child, "sleep", 5000));
            AtomicBoolean tracing = new AtomicBoolean(true);
            AtomicInteger polls = new AtomicInteger();
            Thread poller = new Thread(() -> {
                while (tracing.get()) {
                    assertNull(Sys.reapIfExited(child.value()), "the child runs");
                    polls.incrementAndGet();
                }
            }, "poller");
            CompletableFuture<Integer> rounds = new CompletableFuture<>();
            Thread tracer = new Thread(() -> {
                int done = 0;
                try (Tracer t = new Tracer()) {
                    t.seizeAndInterrupt(child.value(), 0);
                    t.waitForStop(child.value(), TimeUnit.SECONDS.toNanos(20));
                    for (; done < ROUNDS; done++) {
                        t.cont(child.value(), 0);
                        t.interrupt(child.value());
                        t.waitForStop(child.value(), TimeUnit.SECONDS.toNanos(20)); // a stolen stop never comes
                    }
                    t.detach(child.value(), child.value());
                    rounds.complete(done);
                } catch (RuntimeException e) {
                    rounds.completeExceptionally(new AssertionError("round " + done + " of " + ROUNDS + ": "
                            + e.getMessage(), e));
                }
            }, "tracer");
            poller.start();
            tracer.start();
            try {
                assertEquals(ROUNDS, rounds.get());
            } finally {
                tracing.set(false);
                poller.join();
                tracer.join();
            }
            assertTrue(polls.get() > 0);
        } finally {
            Sys.kill(child, Signals.SIGKILL);
        }
        WaitStatus end = null;
        for (int i = 0; i < 1000 && end == null; i++) {
            end = Sys.reapIfExited(child.value());
            if (end == null) {
                Thread.sleep(5);
            }
        }
        assertNotNull(end, "the killed child is reaped");
        assertTrue(end.gone());
    }
}
