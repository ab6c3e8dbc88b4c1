package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ptrace round trips of a restore's steps, from its debug log (counts, so they hold at any load:
 * in a migration's downtime each one waits for a CPU on a busy destination). A class of its own: the
 * in-process CLI's debug logging stays in this JVM.
 */
class RestoreRoundTripsTest {
    @TempDir
    Path tmp;

    /**
     * A one-thread task (the counter, its stderr its stdout's open file, as 2>&1 makes it): its cwd and
     * umask in the batch of its signal handlers and rlimits (then the exe's open, PR_SET_MM_MAP and
     * close, call by call), its stderr one dup3 of its stdout. They took 11 and 10 round trips.
     */
    @Test
    void aOneThreadTasksStateAndSharedStderrTakeFewRoundTrips() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path log = tmp.resolve("restore.log");
            DetachedProcess r = DumpRestore.dump(p.pid().value(), tmp.resolve("img"))
                    .restoreDetached(List.of("-vv", "--log-file", log.toString()), p.output());
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            String debug = Files.readString(log);
            assertEquals(7, trips(debug, "ProcessState"), debug);
            assertEquals(2, trips(debug, "files SHARED"), debug);
        }
    }

    private static int trips(String log, String step) {
        Matcher m = Pattern.compile(": " + step + ": (\\d+) ptrace round trips").matcher(log);
        assertTrue(m.find(), "no '" + step + "' step in the debug log");
        return Integer.parseInt(m.group(1));
    }
}
