package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
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
}
