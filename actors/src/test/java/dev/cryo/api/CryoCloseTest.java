package dev.cryo.api;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.*;

/** What {@link Cryo#close} logs when its actors do not stop in time: the threads that hold them, not the idle ones. */
class CryoCloseTest {
    @Test
    void aBusyThreadIsNamedWithItsFramesAndAnIdleOneIsNot() throws Exception {
        CountDownLatch started = new CountDownLatch(3);
        java.util.concurrent.CompletableFuture<Void> never = new java.util.concurrent.CompletableFuture<>();
        Thread busy = new Thread(() -> {
            started.countDown();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                // the test is over
            }
        }, "cryo-test-busy");
        // parked in cryo's code (a stop waiting on a future): it holds a stop as much as a running one
        Thread waits = new Thread(() -> {
            started.countDown();
            never.join();
        }, "cryo-test-waits");
        // a pool thread waiting for work, as a dispatcher's: nothing of cryo's on its stack
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor(
                r -> new Thread(r, "cryo-test-idle"));
        pool.execute(started::countDown);
        busy.start();
        waits.start();
        try {
            started.await();
            String text = "";
            for (int i = 0; i < 200 && !(text.contains("cryo-test-busy") && text.contains("cryo-test-waits")
                    && !text.contains("cryo-test-idle")); i++) {
                Thread.sleep(10); // until each sits in its sleep, join and queue
                text = Cryo.busyThreads();
            }
            assertTrue(text.contains("cryo-test-busy (TIMED_WAITING)") && text.contains("java.lang.Thread.sleep("), text);
            assertTrue(text.contains("cryo-test-waits (WAITING)") && text.contains("dev.cryo.api.CryoCloseTest.lambda"), text);
            assertFalse(text.contains("cryo-test-idle"), text);
        } finally {
            busy.interrupt();
            never.complete(null);
            pool.shutdownNow();
            busy.join();
            waits.join();
        }
    }
}
