package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The page figures a dump reports: pages written are pages whose bytes went into the image, zero pages
 * are counted apart, whether left out or recorded as zero (where a zero page hides a file's bytes, or an
 * earlier round's copy). zerowrites.c holds 64 data pages and 1024 zero pages in anonymous memory and as
 * many of each in a private file mapping. Before, the zero pages recorded as zero were counted as
 * written: 1024 more written pages in a plain dump, and every pre-copy round after the first, and the
 * frozen one, counted the 1024 anonymous pages the workload zeroes again and again (a MariaDB migration
 * reported a frozen round of its zeroed buffers' size).
 */
class PageFiguresTest {
    private static final int DATA = 64, ZERO = 1024;
    /** The rest of a small C program's memory: stack, libc's data, the heap. */
    private static final int OTHER = 400;

    @TempDir
    Path tmp;

    private Path file() throws Exception {
        byte[] bytes = new byte[(DATA + ZERO) * 4096];
        Arrays.fill(bytes, (byte) 'f');
        return Files.write(tmp.resolve("file"), bytes);
    }

    @Test
    void zeroPagesRecordedAsZeroAreNotCountedAsWritten() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("zerowrites.out"), "zerowrites", file().toString())) {
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            String out = dumped.dumpOutput().out();
            Matcher m = Pattern.compile("(\\d+) written, (\\d+) zero").matcher(out);
            assertTrue(m.find(), out);
            long written = Long.parseLong(m.group(1)), zero = Long.parseLong(m.group(2));
            assertTrue(written >= 2 * DATA && written < 2 * DATA + OTHER, "written: " + out);
            assertTrue(zero >= 2 * ZERO, "zero: " + out);
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS"), verdict + "\n" + out);
        }
    }

    @Test
    void preCopyRoundsCountTheZeroPagesApart() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("zerowrites.out"), "zerowrites", file().toString(), "keep")) {
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            String out = dumped.dumpOutput().out();
            Matcher m = Pattern.compile("pages per round: \\[([0-9, ]+)], zero or one-byte pages per round: \\[([0-9, ]+)]").matcher(out);
            assertTrue(m.find(), out);
            List<Long> sent = longs(m.group(1)), zero = longs(m.group(2));
            assertEquals(sent.size(), zero.size(), out);
            assertTrue(sent.size() >= 2, out);
            // the first round finds the anonymous data pages and zero pages (left out)
            assertTrue(sent.get(0) >= DATA && zero.get(0) >= ZERO, "first round: " + out);
            long zeroAfter = 0;
            for (int i = 1; i < sent.size(); i++) { // the data pages (the file's may wait for the freeze), little else
                assertTrue(sent.get(i) < 2 * DATA + OTHER, "round " + (i + 1) + " counts zero pages as sent: " + out);
                zeroAfter += zero.get(i);
            }
            assertTrue(zeroAfter > 0, "the pages zeroed again are found zero: " + out);
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS"), verdict + "\n" + out);
        }
    }

    private static List<Long> longs(String list) {
        return Arrays.stream(list.split(",\\s*")).map(String::trim).map(Long::parseLong).toList();
    }
}
