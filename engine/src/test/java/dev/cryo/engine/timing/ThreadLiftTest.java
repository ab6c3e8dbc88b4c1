package dev.cryo.engine.timing;

import dev.cryo.kernel.Sched;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** cryo's own thread at SCHED_FIFO while a tree waits for its round trips, then back with its nice. */
class ThreadLiftTest {
    @Test
    void theThreadRunsFirstUntilClosedThenHasItsPolicyAndNiceBackAndNothingItStartsKeepsTheLift() throws Exception {
        CompletableFuture<String> seen = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                int tid = ownTid();
                Sched.setNice(tid, 3); // FreezePriority's, say: kept through the lift
                ThreadLift lift = ThreadLift.ofThisThread(1);
                assertNotNull(lift, "lifted");
                Sched.Attr during = Sched.getattr(tid);
                assertNull(ThreadLift.ofThisThread(1), "a real-time thread is not lifted again");
                CompletableFuture<Integer> child = new CompletableFuture<>();
                Thread c = new Thread(() -> child.complete(Sched.getattr(ownTid()).policy()));
                c.start();
                int childPolicy = child.get(30, TimeUnit.SECONDS);
                lift.close();
                lift.close(); // once
                Sched.Attr after = Sched.getattr(tid);
                seen.complete(Sched.Attr.policyName(during.policy()) + " " + during.priority() + ", started "
                        + Sched.Attr.policyName(childPolicy) + ", after " + Sched.Attr.policyName(after.policy()) + " nice "
                        + Sched.getNice(tid));
            } catch (Throwable e) {
                seen.completeExceptionally(e);
            }
        });
        t.start();
        assertEquals("SCHED_FIFO 1, started SCHED_OTHER, after SCHED_OTHER nice 3", seen.get(60, TimeUnit.SECONDS));
    }

    @Test
    void priorityZeroLiftsNothing() {
        assertNull(ThreadLift.ofThisThread(0));
    }

    private static int ownTid() {
        try {
            String self = Files.readSymbolicLink(Path.of("/proc/thread-self")).toString();
            return Integer.parseInt(self.substring(self.lastIndexOf('/') + 1));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
