package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Shared memory in every shape (shmshapes.c): one 8-page object split by mprotect, moved in part
 * by mremap, punched by munmap, or mapped through different windows by parent and child; from
 * MAP_SHARED|MAP_ANONYMOUS, /dev/zero or a memfd. After the restore both tasks find every page of
 * their view and still share it, and the image holds each page of each object once.
 */
class SharedMemoryTest {
    @TempDir
    Path tmp;

    /** {@code pages}: the pages some task maps, + 1 for the control page; each carried by one task only. */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"anon, mprotect, 9", "anon, mremap, 9", "anon, munmap, 8", "anon, window, 9", "devzero, mprotect, 9",
            "devzero, window, 9", "memfd, mprotect, 9", "memfd, window, 9"})
    void everyMappingOfASharedObjectGetsItsPagesAndStaysShared(String source, String shape, int pages)
            throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("shapes.out"), "shmshapes", source, shape)) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            assertEquals(pages, sharedPagesInImage(img), Cli.run("show", img.toString()).out());
        }
    }

    /**
     * Pages of a shared object no area shows at the dump (shmoutside.c): left under other pages by
     * remap_file_pages (stress-ng's remap stressor), cut off by munmap, or dirtied by a child that is
     * gone, the parent's area cut to one page. The object keeps them natively, and the program finds
     * them again once its area shows them (remapped back, grown back with mremap); they came back as
     * zeros after a restore, silently. A pre-copy dump reads them in its freeze as well.
     */
    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({"anon, remap, ''", "memfd, remap, ''", "anon, shrunk, ''", "memfd, shrunk, ''", "anon, forked, ''",
            "memfd, forked, --pre-copy", "anon, remap, --pre-copy"})
    void pagesOfASharedObjectOutsideEveryAreaComeBack(String source, String shape, String dumpOption) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("outside.out"), "shmoutside", source, shape)) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img,
                    dumpOption.isEmpty() ? new String[0] : new String[]{dumpOption});
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            assertTrue(Cli.run("show", img.toString()).out().contains("\"sharedMemoryOutsideAreas\""),
                    "the pages outside every area are listed apart by cryo show");
        }
    }

    /**
     * Robust mutexes held in a file mapped shared (robustheld.c: a plain and a priority-inheriting one
     * held by the main thread, one by a second thread) across a dump that kills: the kill must not mark
     * them OWNER_DIED in the file. With the pages written back ({@code clean}) that write stamped the
     * file and the restore refused it as changed since the dump; with them dirty it went unseen and
     * the restored program found its own mutexes dead.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"clean", "dirty"})
    void robustMutexesHeldInASharedFileAreNotMarkedDeadByTheKill(String pages) throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "robustheld", tmp.toString(), pages);
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * 25 000 shared anonymous areas of a page each, each its own object (stress-ng's mlock stressor maps some 39 000):
     * the restore makes every object in cryo's own process and holds it until its task maps it, and past cryo's limit
     * on open files (20 000 here) it failed part way: "cannot start the root task: open(/proc/self/map_files/...):
     * EMFILE"; later it was refused by name where the limit cannot be raised (no CAP_SYS_RESOURCE, as in this
     * sandbox). Each shared anonymous object is now held by an inaccessible area of cryo's instead of an fd
     * (SharedMemoryFile#parkedAnonymous), which no file limit bounds: every page comes back with its own byte.
     */
    @org.junit.jupiter.api.Test
    void moreSharedObjectsThanCryosOpenFileLimitComeBack() throws Exception {
        String script = "import mmap, os, signal, sys\n"
                + "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])\n"
                + "areas = [mmap.mmap(-1, 4096, flags=mmap.MAP_SHARED) for i in range(25000)]\n"
                + "for i, a in enumerate(areas): a[0] = i % 251; a[4095] = (i * 7) % 251\n"
                + "print('ready', flush=True)\n"
                + "signal.sigwait([signal.SIGUSR2])\n"
                + "bad = [i for i, a in enumerate(areas) if a[0] != i % 251 or a[4095] != (i * 7) % 251]\n"
                + "print('FAIL %d areas: %s' % (len(bad), bad[:5]) if bad else 'PASS', flush=True)\n";
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("areas.out"), "/usr/bin/python3", "-c",
                script))) {
            int pid = p.pid().value();
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress").code());
            DetachedProcess.awaitCondition(() -> !java.nio.file.Files.exists(Path.of("/proc/" + pid)),
                    java.time.Duration.ofSeconds(10), "the dumped tree gone");
            Cli r = Cli.run("restore", "-D", img.toString(), "-d");
            assertEquals(0, r.code(), r.toString());
            String out = RestoreTest.checkAndReap(DetachedProcess.restored(p.pid(), p.output()));
            assertTrue(out.contains("PASS"), out);
        }
    }

    private static final Pattern SHARED = Pattern.compile(
            "\"kind\"\\s*:\\s*\"SHARED_ANON\"[^}]*?\"dumpedPages\"\\s*:\\s*(\\d+)\\s*,\\s*\"zeroPages\"\\s*:\\s*(\\d+)");

    static long sharedPagesInImage(Path img) {
        Cli show = Cli.run("show", img.toString());
        assertEquals(0, show.code(), show.toString());
        long pages = 0;
        Matcher m = SHARED.matcher(show.out());
        while (m.find()) {
            pages += Long.parseLong(m.group(1)) + Long.parseLong(m.group(2));
        }
        return pages;
    }
}
