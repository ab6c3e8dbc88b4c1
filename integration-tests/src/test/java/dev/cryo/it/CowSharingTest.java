package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import dev.cryo.engine.memory.ParentSharing;
import dev.cryo.kernel.Pid;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Private pages a parent and its forked children share copy-on-write (zdtm cow00; a prefork
 * server's workers and the heap their master preloaded) are shared again after a restore: the
 * restore forks such children once their parent's memory is in place. Before, each task got its
 * own copy of every page, and the tree's memory use grew with every child.
 */
class CowSharingTest {
    @TempDir
    Path tmp;

    /**
     * cowshare: 64 MiB filled by the parent, kept by 4 children, each with a few pages of its own
     * and a few dropped. Every page shared before is one frame with the parent's after (the
     * workload checks the PFNs), the contents are intact, and the tree's Pss stays within a quarter
     * of what it was (it was 5 times as much: 64 MiB came back 320 MiB). With --pre-copy, the rounds
     * read the shared pages without pinning them too (a pin gives the reader its own copy). With
     * `restore --lazy-pages`, the parent's shared area is left eager (LazyPages), the rest comes lazily.
     */
    @ParameterizedTest
    @ValueSource(strings = {"", "--pre-copy", "restore --lazy-pages"})
    void pagesSharedSinceAForkComeBackSharedAndTheTreeUsesNoMoreMemory(String option) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("cowshare.out"), "cowshare")) {
            long before = Workloads.pssKib(p.pid().value());
            Path img = tmp.resolve("img");
            DetachedProcess r;
            if (option.startsWith("restore ")) { // a lazy restore: the shared area is in before the children's fork
                DumpRestore d = DumpRestore.dump(p.pid().value(), img);
                r = d.restoreDetached(p.output(), option.substring("restore ".length()));
                assertTrue(d.restoreOutput().err().contains("lazy pages: "), d.restoreOutput().err());
            } else {
                r = DumpRestore.dumpAndRestore(p, img, option.isEmpty() ? new String[0] : new String[] {option});
            }
            long after;
            try {
                after = Workloads.pssKib(r.pid().value());
            } finally {
                String out = RestoreTest.checkAndReap(r);
                assertTrue(out.contains("PASS") && !out.contains("FAIL"), out);
            }
            assertTrue(after < before + before / 4, "the tree used " + before + " KiB before, " + after + " KiB after");
            Matcher m = Pattern.compile("\"sharedWithParentPages\" : (\\d+)").matcher(Cli.run("show", img.toString()).out());
            int big = 0;
            while (m.find()) {
                big += Long.parseLong(m.group(1)) >= 16000 ? 1 : 0;
            }
            assertEquals(4, big, "each child's shared area in the image");
        }
    }

    /**
     * A tree the dump lets run on (`dump -R`) still shares its pages: the dump read each page with
     * process_vm_readv, whose pin gave every task it read a copy of its own (the tree's Pss went
     * from 64 MiB to 320 MiB, and no page was shared any more).
     */
    @Test
    void aTreeLeftRunningStillSharesItsPages() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("cowshare.out"), "cowshare")) {
            long before = Workloads.pssKib(p.pid().value());
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress", "-R");
            assertEquals(0, dump.code(), dump.toString());
            long after = Workloads.pssKib(p.pid().value());
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS") && !out.contains("FAIL"), out);
            assertTrue(after < before + before / 4, "the tree used " + before + " KiB before the dump, " + after + " KiB after");
        }
    }

    /**
     * Only where a child has pages are its and its parent's pagemaps compared: a reservation of the
     * parent's (V8's cage, a JVM's or Go's heap; here 64 GiB PROT_NONE and 64 GiB read-write never
     * touched), which every child inherits, was read entry by entry in each child and its parent, and
     * a headless Chromium's zygote-forked renderers stayed frozen 13 s for it. What is found is the same:
     * each child shares the whole area but the pages it or its parent wrote or dropped.
     */
    @Test
    void aChildIsComparedWithItsParentOnlyWhereItHasPagesNotAcrossReservations() throws Exception {
        int mib = 32, reserveGib = 64;
        try (DetachedProcess p = Workloads.program(tmp.resolve("cowshare.out"), "cowshare", Integer.toString(mib), "2",
                Integer.toString(reserveGib))) {
            List<Pid> tree = new ArrayList<>(List.of(p.pid()));
            for (String c : Files.readString(Path.of("/proc/" + p.pid() + "/task/" + p.pid() + "/children")).trim().split(" ")) {
                tree.add(Pid.of(Integer.parseInt(c)));
            }
            assertEquals(3, tree.size(), "the parent and its 2 children: " + tree);
            long readBefore = bytesRead();
            ParentSharing.Found found = ParentSharing.scan(tree, n -> {});
            long read = bytesRead() - readBefore;
            long reservations = 2L * 2 * ((long) reserveGib << 30); // both areas in each child
            // a pagemap entry is 8 bytes a page, read in the child and its parent: the reservations' 1 GiB before
            assertTrue(read < (64 << 20), read + " bytes read (pagemaps), for 2 children with " + mib
                    + " MiB of their own and " + (reservations >> 30) + " GiB reserved");
            for (Pid child : tree.subList(1, 3)) {
                long[] runs = found.inherited().get(child.value());
                assertNotNull(runs, "child " + child + " shares nothing found");
                long pages = 0;
                for (int i = 1; i < runs.length; i += 2) {
                    pages += runs[i];
                }
                // 4 written and 8 dropped by the child, 8 rewritten by the parent (cowshare.c)
                assertTrue(pages >= (mib << 8) - 20, "child " + child + " shares " + pages + " pages");
            }
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS") && !out.contains("FAIL"), out);
        }
    }

    /** Bytes this JVM has read with read(2) and pread(2) so far (rchar of /proc/self/io). */
    private static long bytesRead() throws java.io.IOException {
        return Files.readAllLines(Path.of("/proc/self/io")).stream().filter(l -> l.startsWith("rchar:"))
                .mapToLong(l -> Long.parseLong(l.substring(6).trim())).findFirst().orElseThrow();
    }
}
