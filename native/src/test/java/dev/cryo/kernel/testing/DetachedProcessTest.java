package dev.cryo.kernel.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** The test frame's own help: a wait for output that times out says what was printed and where the tree waits. */
class DetachedProcessTest {
    @TempDir
    Path tmp;

    @Test
    void aWaitForOutputThatTimesOutSaysWhatWasPrintedAndWhereTheTreeWaits() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("out"), "sh", "-c", "echo started; sleep 600; true")) {
            AssertionError e = assertThrows(AssertionError.class, () -> p.awaitOutput("ready", Duration.ofMillis(500)));
            assertTrue(e.getMessage().contains("it printed 'started\n'"), e.getMessage());
            assertTrue(e.getMessage().matches("(?s).*pid " + p.pid() + " state S wchan \\S+ syscall .*; pid \\d+ state S .*"),
                    e.getMessage());
        }
    }
}
