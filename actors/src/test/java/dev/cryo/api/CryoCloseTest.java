package dev.cryo.api;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.*;

/** What {@link Cryo#close} logs when its actors do not stop in time: the threads that hold them, not the idle ones. */
class CryoCloseTest {
    @Test
    void aBusyThreadIsNamedWithItsFramesAndAnIdleOneIsNot() throws Exception {
        CountDownLatch started = new CountDownLatch(2);
        Thread busy = new Thread(() -> {
            started.countDown();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                // the test is over
            }
        }, "cryo-test-busy");
        Thread idle = new Thread(() -> {
            started.countDown();
            LockSupport.park();
        }, "cryo-test-idle");
        busy.start();
        idle.start();
        try {
            started.await();
            String text = "";
            for (int i = 0; i < 200 && !(text.contains("cryo-test-busy") && !text.contains("cryo-test-idle")); i++) {
                Thread.sleep(10); // until both sit in their sleep and park
                text = Cryo.busyThreads();
            }
            assertTrue(text.contains("cryo-test-busy (TIMED_WAITING)") && text.contains("java.lang.Thread.sleep("), text);
            assertFalse(text.contains("cryo-test-idle"), text);
        } finally {
            busy.interrupt();
            LockSupport.unpark(idle);
            busy.join();
            idle.join();
        }
    }
}
