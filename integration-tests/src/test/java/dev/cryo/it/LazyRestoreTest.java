package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code cryo restore --lazy-pages}: the tree runs before its private anonymous memory is in, each page
 * brought from the image on its first touch or copied ahead (LazyPages). lazymem.c touches its memory at once
 * in every way the page server must follow: two threads reading, MADV_DONTNEED (must read zero, not the
 * image's bytes), mremap (the bytes move), fork (the child reads pages not in yet), a pipe read into a page
 * (a fault taken by the kernel's own copy). A tree whose children share pages with their parent since a fork:
 * CowSharingTest.
 */
class LazyRestoreTest {
    @TempDir
    Path tmp;

    private static final Pattern SUMMARY = Pattern.compile("lazy pages: (\\d+) pages came lazily in (\\d+) ms after the"
            + " tree ran: (\\d+) on demand, (\\d+) ahead, (\\d+) thrown away or unmapped by the program first, (\\d+) zero"
            + " pages on demand, (\\d+) events");

    @Test
    void aTreeRunsBeforeItsMemoryIsInAndEveryPageItTouchesIsTheDumpedOne() throws Exception {
        String prog = TestPrograms.compile("/c/lazymem.c", "-pthread").toString();
        Path forks = tmp.resolve("fork");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("lazymem.out"), prog, forks.toString()))) {
            DumpRestore d = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            java.nio.file.Files.createFile(forks); // it forks from now on: no child was caught by the dump
            DetachedProcess r = d.restoreDetached(p.output(), "--lazy-pages");
            String err = d.restoreOutput().err();
            Matcher m = SUMMARY.matcher(err);
            assertTrue(m.find(), err);
            assertTrue(Long.parseLong(m.group(3)) > 0, "no page came on demand: " + m.group());
            assertTrue(Long.parseLong(m.group(1)) >= 96 * 256, "fewer pages than area A alone: " + m.group());
            assertEquals(Long.parseLong(m.group(1)), Long.parseLong(m.group(3)) + Long.parseLong(m.group(4))
                    + Long.parseLong(m.group(5)), "every page came, or was thrown away first: " + m.group());
            String verdict = RestoreTest.checkAndReap(r);
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /**
     * cryo killed (-9) while pages still come, after the tree forked a child that reads pages not in yet: the
     * child's uffd (which only cryo held, from the fork event) must be held by the watcher, and the child killed
     * with the rest. Before, the child's missing pages became the kernel's zero pages and it ran on, reparented.
     * lazyfork.c's child prints FAIL on any page that is not its dumped self. "exits": its parent exits once it
     * forked, the child an orphan that no look for the tree's descendants finds: cryo found its pid and told the
     * watcher (the test waits for cryo's debug line saying so before it kills cryo).
     */
    @ParameterizedTest
    @ValueSource(strings = {"stays", "exits"})
    void cryoKilledWhilePagesComeLeavesNoTaskRunningOnZeros(String parent) throws Exception {
        String prog = TestPrograms.compile("/c/lazyfork.c").toString();
        Path forks = tmp.resolve("fork");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("lazyfork.out"), prog, forks.toString(),
                "512", parent))) {
            int root = p.pid().value();
            DumpRestore.dump(root, tmp.resolve("img"));
            java.nio.file.Files.createFile(forks); // it forks from now on
            long dumped = java.nio.file.Files.size(p.output());
            Path log = tmp.resolve("cryo.log");
            List<Integer> children = new java.util.ArrayList<>();
            try {
                for (int attempt = 1; ; attempt++) {
                    int from = (int) dumped; // this attempt's lines
                    Process cryo = CryoProcess.start(log, "-vv", "restore", "-D", tmp.resolve("img").toString(), "-d",
                            "--lazy-pages", "--no-progress");
                    int child;
                    try {
                        DetachedProcess.awaitCondition(() -> !cryo.isAlive() || childOf(p, from) > 0, Duration.ofSeconds(60),
                                "the restored tree to fork");
                        child = childOf(p, from);
                        children.add(child);
                        if (parent.equals("exits")) {
                            String watched = "lazy pages: pid " + child + ", forked since the tree ran";
                            DetachedProcess.awaitCondition(() -> !cryo.isAlive() || gone(root) && logHas(log, watched),
                                    Duration.ofSeconds(60), "the root to exit and cryo to find its child");
                        }
                        Workloads.killQuietly((int) cryo.pid()); // -9: no chance to tell its watcher "done"
                    } finally {
                        cryo.destroyForcibly();
                        cryo.waitFor();
                    }
                    String out = java.nio.file.Files.readString(log);
                    assertTrue(child > 0, out + "\n" + p.outputText());
                    // a loaded machine may have brought every page in before the kill: that tried nothing, again
                    if (out.contains("cryo: lazy pages:") && attempt < 3) {
                        Workloads.killQuietly(child);
                        Workloads.killQuietly(root);
                        DetachedProcess.awaitCondition(() -> gone(root) && gone(child), Duration.ofSeconds(30), "a retry");
                        try (var f = java.nio.channels.FileChannel.open(p.output(), java.nio.file.StandardOpenOption.WRITE)) {
                            f.truncate(dumped); // as dumped, or the restore refuses it
                        }
                        continue;
                    }
                    assertFalse(out.contains("cryo: lazy pages:"), "every page was in before cryo was killed, 3 times: " + out);
                    DetachedProcess.awaitCondition(() -> gone(root) && gone(child), Duration.ofSeconds(30),
                            "pids " + root + " and " + child + " to be killed by the watcher; it printed " + p.outputText());
                    break;
                }
            } finally { // on the old code the child runs on
                children.forEach(Workloads::killQuietly);
            }
            assertFalse(p.outputText().contains("FAIL"), p.outputText());
        }
    }

    /**
     * A dump while the pages still come: pagemap shows a page not in yet as never touched, so the dump would drop
     * it (a restore of that image read zeros there: lazyfork at 2 GiB, 123,229 of 524,313 pages missing from the
     * image). It is refused, naming the area, and the tree runs on; once the lazy restore has ended, a dump carries
     * every page. The page server is held stopped (SIGSTOP) so that the dump surely meets pages not in yet.
     */
    @Test
    void aDumpWhilePagesStillComeIsRefusedAndOneAfterCarriesEveryPage() throws Exception {
        String prog = TestPrograms.compile("/c/lazyfork.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("lazyfork.out"), prog,
                tmp.resolve("never").toString(), "1024", "stays"))) {
            int root = p.pid().value();
            DumpRestore.dump(root, tmp.resolve("img"));
            Path log = tmp.resolve("cryo.log");
            for (int attempt = 1; ; attempt++) {
                Process cryo = CryoProcess.start(log, "restore", "-D", tmp.resolve("img").toString(), "-d",
                        "--lazy-pages", "--no-progress");
                boolean caught;
                try {
                    // stopped once the tree runs (no longer traced by the restore) with pages still to come
                    DetachedProcess.awaitCondition(() -> !cryo.isAlive() || runsWithPagesToCome(root),
                            Duration.ofSeconds(60), "the lazy restore to run the tree");
                    Workloads.signalQuietly((int) cryo.pid(), dev.cryo.kernel.Signals.SIGSTOP);
                    caught = cryo.isAlive() && runsWithPagesToCome(root);
                    if (caught) {
                        Cli during = Cli.run("dump", "-t", Integer.toString(root), "-D",
                                tmp.resolve("during" + attempt).toString(), "--leave-running", "--no-progress");
                        assertNotEquals(0, during.code(), during.toString());
                        assertTrue(during.err().contains("registered for missing pages on a userfaultfd (VmFlags um)")
                                && during.err().contains("pid " + root), during.toString());
                        assertFalse(during.err().contains("Exception"), during.toString());
                        assertTrue("SR".indexOf(p.state()) >= 0, "pid " + root + " is in state " + p.state());
                    }
                } finally {
                    Workloads.signalQuietly((int) cryo.pid(), dev.cryo.kernel.Signals.SIGCONT);
                }
                assertTrue(cryo.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the lazy restore did not end");
                assertTrue(logHas(log, "cryo: lazy pages:"), java.nio.file.Files.readString(log));
                if (caught) {
                    break;
                }
                // every page was in before the stop (a loaded machine): again, or give up
                assertTrue(attempt < 3, "every page was in before the page server could be stopped, 3 times");
                Workloads.killQuietly(root);
                DetachedProcess.awaitCondition(() -> gone(root), Duration.ofSeconds(30), "a retry");
            }
            DumpRestore after = DumpRestore.dump(root, tmp.resolve("after"));
            DetachedProcess r = after.restoreDetached(p.output());
            String verdict = RestoreTest.checkAndReap(r);
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /** Whether {@code pid} runs untraced with areas still registered for missing pages (VmFlags um). */
    private static boolean runsWithPagesToCome(int pid) {
        try {
            String status = java.nio.file.Files.readString(Path.of("/proc/" + pid + "/status"));
            return status.contains("TracerPid:\t0\n")
                    && java.nio.file.Files.readString(Path.of("/proc/" + pid + "/smaps")).matches("(?s).* um[ \\n].*");
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** The pid lazyfork's child printed after {@code from} characters of its output, or 0. */
    private static int childOf(DetachedProcess p, int from) {
        try {
            String text = p.outputText();
            Matcher m = Pattern.compile("child (\\d+)").matcher(text.substring(Math.min(from, text.length())));
            return m.find() ? Integer.parseInt(m.group(1)) : 0;
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private static boolean logHas(Path log, String text) {
        try {
            return java.nio.file.Files.readString(log).contains(text);
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static boolean gone(int pid) {
        char s = DetachedProcess.stateOf(pid);
        return s == 'X' || s == 'Z';
    }
}
