package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code cryo dump --pre-copy}: memory is copied in rounds while the tree keeps writing to it, then
 * frozen for the rest; the restored workload finds every page as it last wrote it.
 */
class PreCopyDumpTest {
    @TempDir
    Path tmp;

    static DetachedProcess dirtier(Path dir, int mib, int mibPerSecond) throws Exception {
        return Workloads.ready(DetachedProcess.start(dir.resolve("dirtier.out"),
                TestPrograms.compile("/c/dirtier.c", "-O2").toString(), Integer.toString(mib),
                Integer.toString(mibPerSecond)));
    }

    @Test
    void aWorkloadThatKeepsWritingComesBackWithEveryPageAsItLastWroteIt() throws Exception {
        try (DetachedProcess p = dirtier(tmp, 64, 10)) {
            Thread.sleep(200);
            int pid = p.pid().value();
            Path img = tmp.resolve("img");
            Path log = tmp.resolve("dump.log");
            DumpRestore dumped = DumpRestore.dump(List.of("-vv", "--log-file", log.toString()), pid, img, "--pre-copy");
            Cli dump = dumped.dumpOutput();
            Matcher m = Pattern.compile("pre-copy: (\\d+) rounds while running").matcher(dump.out());
            assertTrue(m.find(), dump.out());
            assertTrue(Integer.parseInt(m.group(1)) >= 1, dump.out());
            assertRaisedAfterTheFirstRoundOf32MiBOrLess(Files.readString(log));
            assertEquals(0, dev.cryo.kernel.Sched.getNice(DumpTest.selfTid()), "cryo's threads set back");
            // the frozen round writes pages the plan never scanned (the tracker found them): not "absent" pages
            Matcher pages = Pattern.compile("pages: (\\d+) scanned, (-?\\d+) absent, (\\d+) written").matcher(dump.out());
            assertTrue(pages.find(), dump.out());
            assertTrue(Long.parseLong(pages.group(2)) >= 0, dump.out());
            assertTrue(Long.parseLong(pages.group(2)) <= Long.parseLong(pages.group(1)), dump.out());
            DetachedProcess r = dumped.restoreDetached(p.output());
            Thread.sleep(300); // it writes on after the restore, too
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out + "\n" + dump.out());
        }
    }

    /**
     * brkmoves.c moves its break by a page whenever its mappings change (cryo mapping its scratch area ahead among them). The freeze used
     * the break read when cryo's scratch area was mapped ahead, trusting a watch of memory calls that
     * began only after the task had run on: a break moved in between came back wrong (CI: a heap that
     * could not grow after a migration, "the break did not move"; here 1 run in 4 by hand). The watch
     * now begins before the task runs again.
     */
    @Test
    void aBreakMovingWhileTheRoundsRunComesBackWhereTheFrozenTaskHadIt() throws Exception {
        String exe = TestPrograms.compile("/c/brkmoves.c").toString();
        for (int run = 0; run < 3; run++) {
            try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("brk" + run + ".out"), exe))) {
                DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img" + run), "--pre-copy");
                DetachedProcess r = dumped.restoreDetached(p.output());
                String out = RestoreTest.checkAndReap(r);
                assertTrue(out.contains("PASS"), "run " + run + ": " + out + "\n" + dumped.dumpOutput().out());
            }
        }
    }

    /**
     * The rounds after the first of at most cryo.pre-copy.raise-below (32 MiB) run at freeze-nice
     * (a loaded host's rounds waited for a CPU while the tree wrote on); none before it. Before,
     * no running round was raised (the log had no such line, though a round of 64 MiB's dirtier
     * after the first is a few MiB).
     */
    static void assertRaisedAfterTheFirstRoundOf32MiBOrLess(String log) {
        Matcher round = Pattern.compile("pre-copy round (\\d+): (\\d+) pages").matcher(log);
        int small = 0; // the first round of 8192 pages or less
        int rounds = 0;
        while (round.find()) {
            rounds = Integer.parseInt(round.group(1));
            if (small == 0 && Long.parseLong(round.group(2)) <= 8192) {
                small = rounds;
            }
        }
        Matcher raised = Pattern.compile("pre-copy round (\\d+) on: cryo's threads raised").matcher(log);
        if (small > 0 && small < rounds) {
            assertTrue(raised.find(), "no raise after round " + small + "\n" + log);
            assertEquals(small + 1, Integer.parseInt(raised.group(1)), log);
            assertFalse(raised.find(), "raised once: " + log);
        } else {
            assertFalse(raised.find(), "the last running round is the first small one: no round after it to raise\n" + log);
        }
    }

    /**
     * A task without CAP_SYS_PTRACE (any non-root one: a worker that dropped privileges, a
     * browser's renderer) may only make a userfaultfd for user-mode faults; the tracker's was
     * refused with EPERM. Half of its writes here are made by the kernel (read(2) from a pipe).
     */
    @Test
    void anUnprivilegedTaskWhoseKernelWritesIntoItsPagesIsPreCopied() throws Exception {
        String dirtier = TestPrograms.compile("/c/dirtier.c", "-O2").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("nobody.out"), "setpriv",
                "--reuid=65534", "--regid=65534", "--clear-groups", dirtier, "16", "10", "kernel"))) {
            Thread.sleep(200);
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            DetachedProcess r = dumped.restoreDetached(p.output());
            Thread.sleep(300);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out + "\n" + dumped.dumpOutput().out());
        }
    }

    /**
     * An address-space reservation (PROT_NONE, as V8's cage: terabytes in a Chromium renderer) is not
     * write-protected: that put a marker in each of its ptes, page tables for all of it (128 MiB for
     * these 64 GiB, 3 GiB per renderer), kept after the dump. Chunks of it committed and decommitted
     * meanwhile come back as the task last left them, the decommitted one zero.
     */
    @Test
    void aReservationCostsNoPageTablesAndItsDecommittedChunksComeBackZero() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("reserve.out"),
                TestPrograms.compile("/c/reserve.c", "-O2").toString()))) {
            preCopiedWithoutPageTablesThenRestored(p);
        }
    }

    /**
     * Memory a task maps read-write and touches only later (a heap growing into its arena; a
     * MAP_NORESERVE area left to fault in, as ASan's shadow or a runtime's heap) is tracked without a
     * write-protect marker in each of its empty ptes: markers took page tables for all of it (128 MiB
     * for these 64 GiB, 2 GiB per TiB, kept after the dump) and the rounds' walks over them took seconds.
     * Pages written for the first time while the rounds run, and again after a MADV_DONTNEED, come back.
     */
    @Test
    void anAreaTouchedOnlyWhileTheRoundsRunCostsNoPageTablesAndItsFirstWritesComeBack() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("firsttouch.out"), "firsttouch", "64", "64")) {
            preCopiedWithoutPageTablesThenRestored(p);
        }
    }

    /**
     * {@code p} dumped with --pre-copy -R leaves its page tables as they were (within 16 MiB), then
     * dumped with --pre-copy and restored passes its own check.
     */
    private void preCopiedWithoutPageTablesThenRestored(DetachedProcess p) throws Exception {
        int pid = p.pid().value();
        long before = vmPteKib(pid);
        Cli running = Cli.run("dump", "--pre-copy", "-R", "-t", Integer.toString(pid), "-D",
                tmp.resolve("img1").toString(), "--no-progress");
        assertEquals(0, running.code(), running.toString());
        long grown = vmPteKib(pid) - before;
        assertTrue(grown < 16 * 1024, "the task's page tables grew by " + grown + " KiB\n" + running.out());
        DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--pre-copy");
        DetachedProcess r = dumped.restoreDetached(p.output());
        String out = RestoreTest.checkAndReap(r);
        assertTrue(out.contains("PASS"), out + "\n" + dumped.dumpOutput().out());
    }

    private static long vmPteKib(int pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmPTE:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new AssertionError("no VmPTE in /proc/" + pid + "/status");
    }

    /**
     * A task that maps pieces of an area again as fast as it can (zdtm's transition/maps007): a round
     * found part of a mapping it had read from the maps not registered for tracking any more and failed
     * the dump, and the failed scan had already taken the written marks of the part before.
     */
    @Test
    void aTaskRemappingItsMemoryWhileTheRoundsRunIsPreCopied() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("remapchurn.out"), "remapchurn")) {
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            String out = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A mostly idle area whose pages are dropped (read again: the zero page; or left empty), written anew,
     * or made guard pages (in an area of their own) one at a time while the rounds run: the frozen round
     * reads only the write-protect bits of such an area and looks closer where a bit is missing, or where
     * a round re-armed a page sent before as the zero page (with only the bits read, such a page came back
     * with its first round's copy: 'FAIL: area page 18 (state 1) word 0 is be1e08c47287358f, not 0'). The
     * guard pages failed the dump before ('copying memory failed: process_vm_readv(...): EFAULT'), read as
     * stale pages: a round had sent them.
     */
    @Test
    void pagesDroppedGuardedOrWrittenOneByOneWhileTheRoundsRunComeBackAsLeft() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("quietdrops.out"), "quietdrops", "128")) {
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            String out = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A tree whose children come and go while the rounds run (PostgreSQL forking a backend per
     * connection under {@code pgbench -C}): one that exits before its tracking starts or during a round
     * is no part of the dump; the dump failed ("exited while being seized").
     */
    @Test
    void aTreeWhoseChildrenComeAndGoWhileItRunsIsPreCopied() throws Exception {
        Path count = tmp.resolve("count");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("loop.out"), "/bin/sh", "-c",
                "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); /bin/sleep 0.005; echo $i > " + count + "; done")) {
            DetachedProcess.awaitCondition(() -> counted(count) > 20, Duration.ofSeconds(60), "the loop to run");
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            try (DetachedProcess r = dumped.restoreDetached(p.output())) {
                long at = counted(count);
                DetachedProcess.awaitCondition(() -> counted(count) > at + 20, Duration.ofSeconds(60),
                        "the restored loop to fork on (at " + at + ")");
            }
        }
    }

    /**
     * A tree that forks a child every millisecond, nonstop (zdtm's transition/fork2), is pre-copied with a
     * bounded number of looks for its forks: two per round at most, each tracking at most the 64 children
     * it has then, and no round is added for forks when the last look still found new ones; the freeze
     * takes the children forked since whole, as a plain dump does. The restored parent reaps every child
     * with its exit status. Before, a round looked again after tracking each batch and went on only when a
     * look found none: 1323 and 2118 children tracked in 9 and 11 rounds (31 and 43 s), and zdtm's fork2
     * never reached the freeze at load 20.
     */
    @Test
    void aTreeForkingNonstopIsLookedAtForForksABoundedNumberOfTimes() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("forknonstop.out"), "forknonstop")) {
            Path log = tmp.resolve("dump.log");
            DumpRestore dumped = DumpRestore.dump(List.of("-vv", "--log-file", log.toString()), p.pid().value(),
                    tmp.resolve("img"), "--pre-copy");
            String dump = dumped.dumpOutput().out();
            Matcher m = Pattern.compile("pre-copy: (\\d+) rounds while running").matcher(dump);
            assertTrue(m.find(), dump);
            int rounds = Integer.parseInt(m.group(1));
            long tracked;
            try (var lines = Files.lines(log)) {
                tracked = lines.filter(l -> l.contains("forked during the rounds: tracked")).count();
            }
            assertTrue(rounds <= 3, rounds + " rounds: rounds were added for forks\n" + dump);
            assertTrue(tracked <= 2L * 64 * rounds, tracked + " children tracked in " + rounds + " rounds\n" + dump);
            String out = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * The tree's root exiting while the rounds run (here as soon as its memory is tracked) fails the dump
     * with an error naming it. Before, the freeze's walk of the tree threw from the supervisor: 'the dump of
     * pid N stopped without an outcome (a bug; the log says more)' and a stack trace in the log.
     */
    @Test
    void aRootExitingWhileTheRoundsRunFailsTheDumpNamingIt() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("exitwhentracked.out"), "exitwhentracked")) {
            int pid = p.pid().value();
            Cli dump = Cli.run("dump", "--pre-copy", "-t", Integer.toString(pid), "-D", tmp.resolve("img").toString(),
                    "--no-progress");
            assertNotEquals(0, dump.code(), dump.toString());
            assertTrue(dump.err().contains("pid " + pid + ", the root of the tree, exited before the freeze"), dump.toString());
            assertFalse(dump.toString().contains("a bug"), dump.toString());
            assertTrue(Files.readString(p.output()).contains("tracked: exiting"), Files.readString(p.output()));
        }
    }

    private static long counted(Path file) {
        try {
            return Long.parseLong(Files.readString(file).trim());
        } catch (Exception notYet) {
            return 0;
        }
    }

    /**
     * Shared memory is pre-copied: a shared anonymous area, a memfd whose fd is closed and a SysV segment
     * marked for removal, all three written by two tasks through their own mappings while the rounds run,
     * are sent running (each object once, by one task) and only what changed since goes frozen; a memfd
     * whose fd stays open, written by pwrite(2) (no page table sees that), goes whole into the frozen
     * round. Every page of every object holds what its writer last wrote after the restore. Before, the
     * frozen round held all 3224 pages the four objects hold (the frozen count fails); a missed write fails
     * the workload's own check.
     */
    @Test
    void sharedMemoryWrittenByTwoTasksIsPreCopiedAndComesBackExact() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("shmdirty.out"), "shmdirty", "512")) {
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            Cli dump = dumped.dumpOutput();
            Matcher m = Pattern.compile("pages per round: \\[([0-9, ]+)]").matcher(dump.out());
            assertTrue(m.find(), dump.out());
            String[] rounds = m.group(1).split(",\\s*");
            long frozen = Long.parseLong(rounds[rounds.length - 1].trim());
            // S + M + V hold 2976 pages (3072 less the 96 never written); K's 256 are sent frozen, whole
            assertTrue(Long.parseLong(rounds[0].trim()) >= 2976, "the first round sends the shared objects: " + dump.out());
            assertTrue(frozen < 2048, "the frozen round sent " + frozen + " pages: the shared objects went whole?\n"
                    + dump.out());
            String out = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out + "\n" + dump.out());
        }
    }

    /**
     * Shared anonymous memory without access (PROT_NONE) while the rounds run: their copies through it
     * failed, and the object came back all zeros with no word (sharednone.c); now read frozen.
     */
    @Test
    void sharedMemoryWithoutAccessIsPreCopiedAndComesBackWhole() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("sharednone.out"), "sharednone")) {
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            String out = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out + "\n" + dumped.dumpOutput().out());
        }
    }

    /**
     * Memory the kernel writes through pages it pinned takes no write fault, so no scan reports it: a
     * buffer registered with an io_uring and read into by READ_FIXED over and over while the rounds
     * run ("fixed"; before, the restored buffer held what the first round had copied: "buffer page 0
     * holds neither slot ..."), a buffer read into by AIO or pread(2) from an O_DIRECT file ("aio",
     * "direct": each read pins the pages anew, which the tracking sees; the device's write lands after
     * the pin, unseen if a scan comes between). The buffer holds the slot last read after the restore.
     */
    @ParameterizedTest
    @ValueSource(strings = {"fixed", "aio", "direct"})
    void memoryTheKernelWritesThroughPinnedPagesComesBackAsLastWritten(String mode) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("pinwrites.out"),
                TestPrograms.compile("/c/pinwrites.c", "-O2", "-luring").toString(), mode, dir.toString()))) {
            Thread.sleep(200);
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            String out = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out + "\n" + dumped.dumpOutput().out());
        }
    }

    /**
     * State the frozen collect of a pre-copy refuses (here a session keyring holding a logon key) is named,
     * and the tree runs on untraced. Before, the abort closed the process events connector a second
     * time (the shared memory's frozen round had closed it) and the supervisor failed on that: "the
     * dump of pid N stopped without an outcome (a bug; the log says more)", the reason lost. Its maps
     * are as they were: cryo's scratch area, mapped while the rounds ran, is gone.
     */
    @Test
    void stateTheFrozenCollectRefusesIsNamedAndTheTreeRunsOn() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("keyring.out"), "/usr/bin/python3", "-c",
                "import ctypes, os, time\nsys = ctypes.CDLL(None).syscall\n"
                        + "assert sys(250, 1, b'cryo-it-%d' % os.getpid()) > 0\n"
                        + "assert sys(248, b'logon', b'cryo:secret', b'hunter2', ctypes.c_size_t(7), ctypes.c_long(-3)) > 0\n"
                        + "print('ready', flush=True)\ntime.sleep(600)\n"))) {
            int pid = p.pid().value();
            String maps = Files.readString(Path.of("/proc/" + pid + "/maps"));
            Cli r = Cli.run("dump", "--pre-copy", "-t", Integer.toString(pid), "-D", tmp.resolve("img").toString(),
                    "--no-progress");
            assertEquals(1, r.code(), r.toString());
            String err = r.err().strip();
            assertTrue(err.contains("pid " + pid + " (python3): session keyring") && err.contains("logon key 'cryo:secret'"), err);
            assertFalse(err.contains("a bug") || err.contains("\tat "), err);
            Workloads.awaitUntraced(pid);
            assertTrue(Files.exists(Path.of("/proc/" + pid)), "pid " + pid + " runs on");
            // nothing of cryo's left in it: the scratch area mapped before the freeze went with the refusal
            assertEquals(maps, Files.readString(Path.of("/proc/" + pid + "/maps")));
        }
    }

    /**
     * A child forked while the rounds run (PostgreSQL's autovacuum worker) is tracked from the next
     * round: its 2048 pages are copied while it runs and the frozen round sends only what it wrote
     * since. Before, the rounds tracked only the tasks there at the start, and the frozen round sent
     * the child whole (the count fails). Its memory, rewritten page after page, comes back exact.
     */
    @Test
    void aChildForkedWhileTheRoundsRunIsPreCopiedToo() throws Exception {
        childForkedDuringTheRoundsIsPreCopied("64", "8");
    }

    /**
     * Forked right after the last running round's walk (the parent waits for that walk to protect a
     * page it wrote): before, the freeze found the child and took it whole, 18463 pages frozen of
     * [16409, 9, 18463] (one in ten CI runs, when the parent forked late under load).
     */
    @Test
    void aChildForkedRightAfterTheLastRoundsWalkIsPreCopiedToo() throws Exception {
        childForkedDuringTheRoundsIsPreCopied("64", "8", "late");
    }

    private void childForkedDuringTheRoundsIsPreCopied(String... args) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("forkmid.out"), "forkmid", args)) {
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy");
            Cli dump = dumped.dumpOutput();
            // the parent forks once the first round has registered its area: the child exists before the freeze
            assertTrue(Files.readString(p.output()).contains("forked"), "not forked during the rounds\n" + dump.out());
            Matcher m = Pattern.compile("pages per round: \\[([0-9, ]+)]").matcher(dump.out());
            assertTrue(m.find(), dump.out());
            String[] rounds = m.group(1).split(",\\s*");
            long frozen = Long.parseLong(rounds[rounds.length - 1].trim());
            // taken whole by the freeze the child sends some 18000 pages (its 8 MiB and the 64 MiB it shares
            // copy-on-write: 18017 and 18467 with max-rounds 2); pre-copied, at most what its fill had not
            // reached when the round looked (2048 pages and its table; 1066-1333 under load, which failed a
            // bound of 1024)
            assertTrue(frozen < 4096, "the frozen round sent " + frozen + " pages: the child went whole?\n" + dump.out());
            String out = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out + "\n" + dump.out());
        }
    }

    /**
     * A child that grows a shared anonymous mapping and a private one page by page with
     * mremap(MREMAP_MAYMOVE), and shrinks them back to one page (CRIU's zdtm transition/shmem), runs on
     * with every mremap succeeding after a pre-copy dump that leaves it running, and after the restore of
     * one; every page holds its last token. Before, tracking registered a mapping over the range the maps
     * showed while the task ran: the child had grown it since, the register split it in two, and the
     * child's next mremap over the whole failed ("mremap of the shared mapping 0x7f90f1178000 from 633 to
     * 634 pages: Bad address", 3 of 4 runs, the private one too).
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void aChildGrowingItsMappingsWithMremapWhileTheRoundsRunKeepsEveryMremapWorking(boolean leftRunning) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("remapgrow.out"), "remapgrow")) {
            String out;
            if (leftRunning) {
                Cli dump = Cli.run("dump", "--pre-copy", "-R", "-t", Integer.toString(p.pid().value()), "-D",
                        tmp.resolve("img").toString(), "--no-progress");
                assertEquals(0, dump.code(), dump.toString());
                Thread.sleep(300); // the child steps on, tracked no more
                out = Workloads.check(p);
            } else {
                out = RestoreTest.checkAndReap(DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--pre-copy")
                        .restoreDetached(p.output()));
            }
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void aPreCopyDumpThatLeavesTheTreeRunningLeavesItWritingCorrectly() throws Exception {
        try (DetachedProcess p = dirtier(tmp, 16, 10)) {
            int pid = p.pid().value();
            Cli dump = Cli.run("dump", "--pre-copy", "-R", "-t", Integer.toString(pid), "-D", tmp.resolve("img").toString(),
                    "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            Thread.sleep(300); // tracking ended: its writes go on unhindered
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }
}
