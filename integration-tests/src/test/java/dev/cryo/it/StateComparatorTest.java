package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The comparator itself: it sees a change of state and ignores what only moves. */
class StateComparatorTest {
    @TempDir
    Path tmp;

    @Test
    void aChangeOfNiceOrOfAnFdIsADifferenceAndTimePassingIsNot() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "600")) {
            DetachedProcess.awaitCondition(() -> p.state() == 'S', java.time.Duration.ofSeconds(10), "sleep");
            int pid = p.pid().value();
            StateComparator.Snapshot a = StateComparator.take(pid);
            Thread.sleep(50);
            assertEquals(java.util.List.of(), StateComparator.diff(a, StateComparator.take(pid), java.util.List.of()));

            assertEquals(0, new ProcessBuilder("renice", "-n", "5", "-p", Integer.toString(pid)).start().waitFor());
            String diffs = String.join("\n", StateComparator.diff(a, StateComparator.take(pid), java.util.List.of()));
            assertTrue(diffs.contains("stat nice: dumped '0', restored '5'"), diffs);

            AssertionError e = assertThrows(AssertionError.class,
                    () -> StateComparator.assertSame(a, StateComparator.take(pid)));
            assertTrue(e.getMessage().contains("pid " + pid + " tid " + pid + ": stat nice"), e.getMessage());
        }
    }
}
