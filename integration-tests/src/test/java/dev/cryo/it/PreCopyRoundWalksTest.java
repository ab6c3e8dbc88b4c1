package dev.cryo.it;

import dev.cryo.engine.dump.PageRun;
import dev.cryo.engine.dump.PreCopyTracker;
import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pre-copy round after the first walks each tracked mapping's page tables once: the same
 * PAGEMAP_SCAN that re-arms the written pages says which of them hold a page a dump carries. It
 * took two walks per mapping with writes (the second to sort out absent and zero pages), so a
 * GiB's rounds lasted longer and the frozen round carried what was written meanwhile.
 */
class PreCopyRoundWalksTest {
    @TempDir
    Path tmp;

    @Test
    void aRoundWalksEachTrackedMappingOnce() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/dirtier.c", "-O2").toString(), "16", "10"))) {
            try (PreCopyTracker tracker = startTracking(p.pid())) {
                tracker.round(stopper(p.pid())); // a first round walks each mapping more than once
                // then rounds until one finds the dirtier's writes (it writes all the time; bounded)
                boolean found = false;
                long deadline = System.nanoTime() + 30_000_000_000L;
                for (int round = 2; !found && System.nanoTime() < deadline; round++) {
                    long before = tracker.walks();
                    List<PageRun> runs = tracker.round(stopper(p.pid()));
                    long tracked = ProcFs.maps(p.pid()).stream().filter(PreCopyRoundWalksTest::tracked).count();
                    assertTrue(tracked >= 2, "the dirtier's heap and its area at least: " + tracked);
                    assertEquals(tracked, tracker.walks() - before, "page-table walks in round " + round
                            + (runs.isEmpty() ? " (no writes)" : " (with writes)"));
                    found = !runs.isEmpty();
                    Thread.onSpinWait();
                }
                assertTrue(found, "no round found the dirtier's writes");
            }
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS"), "the dirtier ran on correctly: " + verdict);
        }
    }

    /** A pre-copy's tracking of a running task, started as a dump starts it (a brief seize). */
    static PreCopyTracker startTracking(dev.cryo.kernel.Pid pid) {
        Tracer tracer = new Tracer();
        List<Integer> tids = TaskSeizer.seize(tracer, pid);
        try {
            return PreCopyTracker.start(tracer, pid);
        } finally {
            TaskSeizer.release(tracer, pid, tids);
            tracer.close();
        }
    }

    /** Stops the task around a round's registration of a new mapping, as a dump's task dumper does. */
    static PreCopyTracker.Stopper stopper(dev.cryo.kernel.Pid pid) {
        return r -> {
            Tracer tracer = new Tracer();
            List<Integer> tids = TaskSeizer.seize(tracer, pid);
            try {
                r.run();
            } finally {
                TaskSeizer.release(tracer, pid, tids);
                tracer.close();
            }
        };
    }

    /** What a round looks at (PreCopyTracker.round): the private mappings it copies while the task runs. */
    private static boolean tracked(MapsEntry m) {
        return !m.isSpecial() && !m.path().startsWith("/SYSV") && PreCopyTracker.preCopied(MemoryKinds.kindOf(m), m);
    }
}
