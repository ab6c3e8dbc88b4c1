package dev.cryo.it;

import dev.cryo.api.Cryo;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A restored root's parent is the restorer, and the kernel tracks a parent's end per thread: a
 * root forked from a pool thread would get its parent-death signal when that thread ends, though
 * the restorer lives on (an agent restores for hours). The root must be the child of a thread
 * that lives as long as the restorer.
 */
class ParentDeathSignalTest {
    @TempDir
    Path tmp;

    @Test
    void aRestoredRootIsTheChildOfAThreadThatLivesAsLongAsTheRestorer() throws Exception {
        Path out = tmp.resolve("pdeathsig.out");
        try (Cryo cryo = Cryo.create();
             DetachedProcess p = Workloads.ready(DetachedProcess.start(out, TestPrograms.compile("/c/pdeathsig.c").toString()))) {
            Path img = tmp.resolve("img");
            StateComparator.Snapshot before = StateComparator.takeFrozen(p.pid().value());
            cryo.dump(DumpRequest.of(p.pid().value(), img)).toCompletableFuture().join();
            RestoreReport r = cryo.restore(new RestoreRequest(img)).toCompletableFuture().join();
            DetachedProcess restored = DetachedProcess.restored(Pid.of(r.rootPid()), out);
            try {
                assertEquals("cryo-stubparent", parentThread(r.rootPid()), "the thread the restored root is a child of");
                StateComparator.assertSame(before, StateComparator.takeFrozen(r.rootPid()));
                String verdict = Workloads.check(restored);
                assertTrue(verdict.contains("PASS"), verdict);
            } finally {
                restored.close();
            }
        }
    }

    /**
     * {@code cryo restore -d} exits once the tree runs: a root's parent-death signal set again would
     * come right then, and with SIGKILL the restored program died the moment the restore returned.
     * The setting is dropped with a warning naming it.
     */
    @Test
    void aDetachedRestoresRootOutlivesTheRestorerItsParent() throws Exception {
        Path out = tmp.resolve("pdeathkill.out");
        Path log = tmp.resolve("restore.log");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(out,
                TestPrograms.compile("/c/pdeathsig.c").toString(), "detached"))) {
            Path img = tmp.resolve("img");
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            DetachedProcess.awaitCondition(() -> !p.alive(), java.time.Duration.ofSeconds(10), "the dumped tree to be gone");
            Process cryo = CryoProcess.start(log, "restore", "-D", img.toString(), "-d", "--no-progress");
            assertTrue(cryo.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "cryo restore -d did not return");
            assertEquals(0, cryo.exitValue(), Files.readString(log));
            assertTrue(Files.readString(log).contains("pid " + p.pid() + ": its parent-death signal (SIGKILL) is not set again"),
                    Files.readString(log));
            DetachedProcess restored = DetachedProcess.restored(p.pid(), out);
            Thread.sleep(200); // the restorer's exit is behind us: a SIGKILL would have come by now
            assertTrue(restored.alive(), "the restored root died with its restorer\n" + Files.readString(log));
            String verdict = Workloads.check(restored); // not our child: it exits by itself after the check
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /** The name of the thread of this JVM whose children include {@code pid}. */
    private static String parentThread(int pid) throws Exception {
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                for (String c : Files.readString(t.resolve("children")).trim().split(" ")) {
                    if (c.equals(Integer.toString(pid))) {
                        return Files.readString(t.resolve("comm")).trim();
                    }
                }
            }
        }
        return "(none: pid " + pid + " is not a child of this JVM)";
    }
}
