package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A thread stopped by the dump inside an rseq critical section must go on through the section's
 * abort handler, as after any preemption: in the restored tree and in the tree a {@code dump -R}
 * lets go. Before, cryo's first injected syscall made the kernel clear the section pointer and the
 * thread ran on through the section unchecked (zdtm's transition/rseq01).
 */
class RseqTest {
    @TempDir
    Path tmp;

    @Test
    void aThreadStoppedInsideACriticalSectionComesBackThroughItsAbortHandler() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "rseqcs");
        assertTrue(out.contains("PASS"), out);
    }

    @Test
    void aTreeLeftRunningGoesOnThroughTheAbortHandlerToo() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("rseqcs.out"), "rseqcs")) {
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "-R",
                    "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }
}
