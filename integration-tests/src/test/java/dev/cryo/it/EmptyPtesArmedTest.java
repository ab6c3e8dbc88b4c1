package dev.cryo.it;

import dev.cryo.engine.dump.MemoryPlan;
import dev.cryo.engine.dump.PageRun;
import dev.cryo.engine.dump.PreCopyTracker;
import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.ptrace.Tracer;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Before a likely last round's freeze the pre-copy write-protects the empty ptes of anonymous memory
 * (PreCopyTracker#armEmpty), which no round arms: a heap with a page dropped or never touched every
 * few pages made the frozen round read the categories of all of it (the dirtier: a whole GiB in the
 * freeze). Driven step by step on droparm's 512 pages, one dropped in 32.
 */
class EmptyPtesArmedTest {
    @TempDir
    Path tmp;

    private static final long PAGE = 4096;

    /** Pages dropped before tracking began, then armed: the frozen round looks at none of them (the same freeze looked before and after). */
    @Test
    void theFrozenRoundLooksOnlyAtWhatChangedSinceTheArming() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("out"), TestPrograms.compile("/c/droparm.c").toString(), "early")) {
            Workloads.readyWords(p, 1);
            try (PreCopyTracker tracker = PreCopyRoundWalksTest.startTracking(p.pid())) {
                tracker.round(PreCopyRoundWalksTest.stopper(p.pid()));
                // the frozen round's look as it was: every gap between two dropped pages is under the quick
                // walk's GAP, so the categories of pages 7 to 488 of the area are read
                frozenRuns(p, tracker);
                long before = tracker.categorized();
                long armed = tracker.armEmpty();
                assertTrue(armed >= 16, "droparm's 16 dropped pages armed: " + armed);
                frozenRuns(p, tracker);
                assertTrue(before - tracker.categorized() >= 400, "pages whose categories the frozen round read: "
                        + before + " before the arming, " + tracker.categorized() + " after");
            }
        }
    }

    /**
     * A page sent, dropped, armed, then read (which maps a page that keeps the write-protect bit, so
     * the quick walk does not see it) is in the frozen round: the restore must show what the task sees
     * now, not the copy sent before the drop.
     */
    @Test
    void aPageSentThenDroppedArmedAndReadIsInTheFrozenRound() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("out"), TestPrograms.compile("/c/droparm.c").toString())) {
            long mem = Long.parseLong(Workloads.readyWords(p, 1)[1]);
            long page7 = mem + 7 * PAGE;
            try (PreCopyTracker tracker = PreCopyRoundWalksTest.startTracking(p.pid())) {
                List<PageRun> first = tracker.round(PreCopyRoundWalksTest.stopper(p.pid()));
                assertTrue(covers(first, page7), "the first round sends page 7: " + first);
                Sys.kill(p.pid(), Signals.SIGUSR1);
                p.awaitOutput("dropped", Duration.ofSeconds(30));
                tracker.round(PreCopyRoundWalksTest.stopper(p.pid()));
                assertTrue(tracker.armEmpty() >= 16, "droparm's dropped pages armed");
                Sys.kill(p.pid(), Signals.SIGUSR1);
                p.awaitOutput("read 0", Duration.ofSeconds(30));
                List<PageRun> frozen = frozenRuns(p, tracker);
                assertTrue(covers(frozen, page7), "the frozen round sends page 7 again as the task sees it: " + frozen);
            }
        }
    }

    /** The frozen round's runs, with the task seized as a freeze holds it. */
    private static List<PageRun> frozenRuns(DetachedProcess p, PreCopyTracker tracker) {
        Tracer tracer = new Tracer();
        List<Integer> tids = TaskSeizer.seize(tracer, p.pid());
        try {
            return tracker.finalRuns(MemoryPlan.of(p.pid())).runs();
        } finally {
            TaskSeizer.release(tracer, p.pid(), tids);
            tracer.close();
        }
    }

    private static boolean covers(List<PageRun> runs, long address) {
        return runs.stream().anyMatch(r -> r.address() <= address && address < r.end());
    }
}
