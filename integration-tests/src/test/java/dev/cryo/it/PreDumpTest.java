package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * CRIU's iterative dump across two commands: {@code cryo pre-dump -D 1} leaves the tree running with
 * its writes tracked (a small process holds the uffds), and {@code cryo dump -D 2 --prev-images-dir ../1}
 * takes the tracking back, copies the pre-dump's pages not written since from its image while the tree
 * runs, and freezes the tree only for the rest. The second image is whole: it restores with the first
 * one deleted.
 */
class PreDumpTest {
    /** predumped.c's memory: 64 MiB, 16384 pages (every 64th never touched). */
    private static final int MIB = 64, PAGES = MIB * 256, WRITTEN = 256;

    @TempDir
    Path tmp;

    private final List<Integer> holders = new ArrayList<>();

    @AfterEach
    void noHolderLeft() {
        holders.forEach(h -> dev.cryo.engine.dump.TrackingHolder.kill(Pid.of(h)));
    }

    private DetachedProcess workload() throws Exception {
        return Workloads.program(tmp.resolve("predumped.out"), "predumped", Integer.toString(MIB), Integer.toString(WRITTEN));
    }

    /** {@code cryo pre-dump} of {@code pid} into tmp/img1; returns the holder's pid it names. */
    private int preDump(int pid) {
        Cli pre = Cli.run("pre-dump", "-t", Integer.toString(pid), "-D", tmp.resolve("img1").toString(), "--no-progress");
        assertEquals(0, pre.code(), pre.toString());
        Matcher m = Pattern.compile("stay tracked for at most \\d+ s \\(by pid (\\d+)\\)").matcher(pre.out());
        assertTrue(m.find(), pre.out());
        int holder = Integer.parseInt(m.group(1));
        holders.add(holder);
        assertTrue(pre.out().contains("the tree was left running"), pre.out());
        return holder;
    }

    /** The workload rewrites its next {@link #WRITTEN} pages, drops one and maps and fills a new MiB. */
    private static void write(DetachedProcess p, int times) throws Exception {
        Sys.kill(p.pid(), Signals.SIGUSR1);
        p.awaitOutput("wrote " + times + "\n", Duration.ofSeconds(30));
    }

    private static void deleteTree(Path dir) throws Exception {
        try (var files = Files.walk(dir)) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    /** The pages each round read: those it sent with their bytes and those it recorded without (zero, one byte repeated). */
    private static List<Long> rounds(String out) {
        Matcher m = Pattern.compile("pages per round: \\[([0-9, ]+)], zero or one-byte pages per round: \\[([0-9, ]+)]")
                .matcher(out);
        assertTrue(m.find(), out);
        List<Long> sent = Arrays.stream(m.group(1).split(", ")).map(Long::parseLong).toList();
        List<Long> without = Arrays.stream(m.group(2).split(", ")).map(Long::parseLong).toList();
        return java.util.stream.IntStream.range(0, sent.size()).mapToObj(i -> sent.get(i) + without.get(i)).toList();
    }

    private static boolean readyTwice(DetachedProcess p) {
        try {
            String o = p.outputText();
            return o.indexOf("ready\n") != o.lastIndexOf("ready\n");
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static boolean gone(int pid) {
        return !Files.exists(Path.of("/proc/" + pid)) || stateOf(pid) == 'Z';
    }

    private static char stateOf(int pid) {
        try {
            return dev.cryo.kernel.proc.ProcFs.stat(Pid.of(pid)).state();
        } catch (RuntimeException e) {
            return 'X';
        }
    }

    /**
     * The dump after the pre-dump reads from the running tree only the pages written since (256
     * rewritten, 256 of a new area) and freezes it for fewer still; every other page comes from the
     * pre-dump's image. Before, it was a whole dump: its first round read all 16,000 pages again.
     */
    @Test
    void theDumpAfterAPreDumpReadsAndFreezesOnlyForThePagesWrittenSince() throws Exception {
        try (DetachedProcess p = workload()) {
            int pid = p.pid().value();
            int holder = preDump(pid);
            assertEquals(0, Cli.run("show", tmp.resolve("img1").toString()).code());
            Cli preStats = Cli.run("show", tmp.resolve("img1").toString(), "stats");
            assertTrue(preStats.out().contains("dump trackingHolder") && preStats.out().contains(String.valueOf(holder)),
                    preStats.toString());
            write(p, 1);
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--prev-images-dir", "../img1");
            String out = dumped.dumpOutput().out();
            List<Long> rounds = rounds(out);
            long running = rounds.get(0), frozen = rounds.get(rounds.size() - 1);
            assertTrue(running >= 2 * WRITTEN && running < 2 * WRITTEN + 200, "the first round reads what was written: " + out);
            assertTrue(frozen < WRITTEN, "frozen for less than what was written: " + out);
            Matcher carried = Pattern.compile("(\\d+) pages of 1 task carried from the pre-dump").matcher(out);
            assertTrue(carried.find(), out);
            assertTrue(Long.parseLong(carried.group(1)) > PAGES - PAGES / 64 - 100, out);
            DetachedProcess.awaitCondition(() -> gone(holder), Duration.ofSeconds(10), "the holder " + holder + " to end");
            assertFalse(Files.exists(tmp.resolve("img1").resolve("tracking")), "a tracking is taken once");
            deleteTree(tmp.resolve("img1")); // the second image is whole
            assertEquals(0, Cli.run("show", tmp.resolve("img2").toString()).code());
            Cli stats = Cli.run("show", tmp.resolve("img2").toString(), "stats");
            assertTrue(stats.out().contains("dump carriedPages") && stats.out().contains(carried.group(1)), stats.toString());
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=1"), verdict + "\n" + out);
        }
    }

    /**
     * The pre-dump's tracking gone (its holder killed, its time run out): the dump says so and copies
     * every page again, while the tree runs; the image is right all the same.
     */
    @Test
    void aTrackingGoneSinceThePreDumpIsSaidAndEveryPageCopiedAgain() throws Exception {
        try (DetachedProcess p = workload()) {
            int pid = p.pid().value();
            int holder = preDump(pid);
            dev.cryo.engine.dump.TrackingHolder.kill(Pid.of(holder));
            DetachedProcess.awaitCondition(() -> gone(holder), Duration.ofSeconds(10), "the holder " + holder + " to end");
            write(p, 1);
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--prev-images-dir", "../img1");
            String out = dumped.dumpOutput().out();
            assertTrue(out.contains("the pre-dump's tracking is gone (its holder, pid " + holder + ", exited"), out);
            assertFalse(out.contains("carried from the pre-dump"), out);
            assertTrue(rounds(out).get(0) > PAGES - PAGES / 64 - 100, "every page read again: " + out);
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=1"), verdict + "\n" + out);
        }
    }

    /**
     * A task that ran exec since the pre-dump is another program: its tracking, of the memory it had, is
     * not taken over, the dump says so and reads all of it again.
     */
    @Test
    void aTaskThatRanExecSinceThePreDumpIsSaidAndReadAgain() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("predumped.out"), "predumped", Integer.toString(MIB),
                Integer.toString(WRITTEN), "exec")) {
            int pid = p.pid().value();
            int holder = preDump(pid);
            Sys.kill(p.pid(), Signals.SIGUSR1);
            DetachedProcess.awaitCondition(() -> readyTwice(p), Duration.ofSeconds(30), "the workload to run itself again");
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--prev-images-dir", "../img1");
            String out = dumped.dumpOutput().out();
            assertTrue(out.contains("pid " + pid + " ran exec since the pre-dump: its memory is copied again"), out);
            assertFalse(out.contains("carried from the pre-dump"), out);
            assertTrue(rounds(out).get(0) > PAGES - PAGES / 64 - 100, "every page read again: " + out);
            DetachedProcess.awaitCondition(() -> gone(holder), Duration.ofSeconds(10), "the holder " + holder + " to end");
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=0"), verdict + "\n" + out);
        }
    }

    /**
     * A tracking file naming a process that is not cryo's holder (a pid reused since, a file written by
     * hand) takes nothing from it and leaves it running; the dump reads every page again and says why.
     */
    @Test
    void aTrackingFileNamingAnotherProcessLeavesItAlone() throws Exception {
        try (DetachedProcess p = workload();
             DetachedProcess other = DetachedProcess.start(tmp.resolve("sleep.out"), "sleep", "600")) {
            other.awaitSleeping();
            Path img1 = Files.createDirectories(tmp.resolve("img1"));
            long start = dev.cryo.kernel.proc.ProcFs.stat(other.pid()).starttime();
            Files.writeString(img1.resolve("tracking"), "cryo-tracking 1\nholder " + other.pid() + " " + start
                    + "\ntask " + p.pid() + " 1 3 0 0 0\n");
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img2"), "--prev-images-dir", "../img1");
            String out = dumped.dumpOutput().out();
            assertTrue(out.contains("the pre-dump's tracking is gone"), out);
            assertTrue(out.contains("every page is copied again"), out);
            assertEquals('S', stateOf(other.pid().value()), "the other process runs on");
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=0"), verdict + "\n" + out);
        }
    }

    /**
     * A pre-copy dump of a tree a pre-dump keeps tracking (not taken with --prev-images-dir) ends that
     * tracking and tracks the tree afresh: its first round found the pages already write-protected and
     * read only those written since the pre-dump (518 of 16,000), so the image lacked the others and the
     * restored workload read zeros there.
     */
    @Test
    void aPreCopyDumpOfATreeAPreDumpTracksEndsThatTrackingAndReadsEveryPage() throws Exception {
        try (DetachedProcess p = workload()) {
            int pid = p.pid().value();
            int holder = preDump(pid);
            write(p, 1);
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--pre-copy");
            String out = dumped.dumpOutput().out();
            assertTrue(out.contains("the tracking a pre-dump kept of this tree (by pid " + holder + ") is ended"), out);
            assertTrue(rounds(out).get(0) > PAGES - PAGES / 64 - 100, "every page read: " + out);
            assertTrue(gone(holder), "the holder " + holder + " ended");
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=1"), verdict + "\n" + out);
        }
    }

    /**
     * A tree of two: the child keeps the memory as it was at its fork, the parent rewrites pages it shared
     * with the child after the pre-dump. Both trackings are taken over, and each comes back exact: the
     * child's copies of the pages the parent wrote since are carried from the pre-dump's image.
     */
    @Test
    void aParentAndItsChildArePreDumpedAndEachComesBackExact() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("predumped.out"), "predumped", Integer.toString(MIB),
                Integer.toString(WRITTEN), "fork")) {
            int pid = p.pid().value();
            preDump(pid);
            write(p, 1);
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--prev-images-dir", "../img1");
            String out = dumped.dumpOutput().out();
            assertTrue(out.contains("pages of 2 tasks carried from the pre-dump"), out);
            assertTrue(rounds(out).get(0) < 2 * WRITTEN + 400, "only what the parent wrote is read: " + out);
            deleteTree(tmp.resolve("img1"));
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=1 child"), verdict + "\n" + out);
        }
    }

    /**
     * A pid the pre-dump tracked that names another process now (its start time differs: the task exited
     * and the pid was reused) is not taken over: the dump says so and reads that task's memory again.
     */
    @Test
    void aPidThatIsAnotherProcessSinceThePreDumpIsSaidAndReadAgain() throws Exception {
        try (DetachedProcess p = workload()) {
            int pid = p.pid().value();
            int holder = preDump(pid);
            Path tracking = tmp.resolve("img1").resolve("tracking");
            // the same pid, started at another time: as the file reads after a reuse of the pid
            Files.writeString(tracking, Files.readString(tracking).replaceAll("(?m)^(task " + pid + ") (\\d+) ", "$1 1 "));
            write(p, 1);
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--prev-images-dir", "../img1");
            String out = dumped.dumpOutput().out();
            assertTrue(out.contains("pid " + pid + " is another process since the pre-dump: its memory is copied again"), out);
            assertTrue(rounds(out).get(0) > PAGES - PAGES / 64 - 100, "every page read again: " + out);
            DetachedProcess.awaitCondition(() -> gone(holder), Duration.ofSeconds(10), "the holder " + holder + " to end");
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=1"), verdict + "\n" + out);
        }
    }

    /**
     * A pre-dump written compressed (zstd chunks): the dump after it decompresses the chunks it carries and
     * takes the pages it needs of each; the restore is exact.
     */
    @Test
    void aCompressedPreDumpsPagesAreCarried() throws Exception {
        try (DetachedProcess p = workload()) {
            int pid = p.pid().value();
            Cli pre = Cli.run("-Dcryo.image.compression=zstd", "pre-dump", "-t", Integer.toString(pid), "-D",
                    tmp.resolve("img1").toString(), "--no-progress");
            assertEquals(0, pre.code(), pre.toString());
            Matcher h = Pattern.compile("\\(by pid (\\d+)\\)").matcher(pre.out());
            assertTrue(h.find(), pre.out());
            holders.add(Integer.parseInt(h.group(1)));
            write(p, 1);
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--prev-images-dir", "../img1");
            String out = dumped.dumpOutput().out();
            assertTrue(out.contains("pages of 1 task carried from the pre-dump"), out);
            deleteTree(tmp.resolve("img1"));
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=1"), verdict + "\n" + out);
        }
    }

    /** Pre-dumps chain (CRIU's pre-dump --prev-images-dir): each takes the tracking over and keeps it for the next. */
    @Test
    void preDumpsChainAndTheLastDumpStillFreezesOnlyForWhatChanged() throws Exception {
        try (DetachedProcess p = workload()) {
            int pid = p.pid().value();
            preDump(pid);
            write(p, 1);
            Cli second = Cli.run("pre-dump", "-t", Integer.toString(pid), "-D", tmp.resolve("img2").toString(),
                    "--prev-images-dir", "../img1", "--no-progress");
            assertEquals(0, second.code(), second.toString());
            Matcher m = Pattern.compile("\\(by pid (\\d+)\\)").matcher(second.out());
            assertTrue(m.find(), second.out());
            holders.add(Integer.parseInt(m.group(1)));
            assertTrue(second.out().contains("carried from the pre-dump"), second.out());
            write(p, 2);
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img3"), "--prev-images-dir", "../img2");
            String out = dumped.dumpOutput().out();
            assertTrue(rounds(out).get(0) < 2 * WRITTEN + 200, out);
            deleteTree(tmp.resolve("img1"));
            deleteTree(tmp.resolve("img2"));
            String verdict = RestoreTest.checkAndReap(dumped.restoreDetached(p.output()));
            assertTrue(verdict.contains("PASS pages=" + PAGES + " writes=2"), verdict + "\n" + out);
        }
    }

    /**
     * A server with a connected client pre-dumped as CRIU users do ({@code cryo pre-dump}, no TCP option):
     * it was refused ("established TCP connection ... --tcp-established"); CRIU's pre-dump reads memory only.
     * The client is answered after the pre-dump and after the restore of the dump that follows.
     */
    @Test
    void aServerWithAConnectedClientIsPreDumpedWithoutATcpOption() throws Exception {
        String py = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n"
                + "print('ready', s.getsockname()[1], flush=True)\nc, _ = s.accept()\n"
                + "while True:\n    d = c.recv(100)\n    if not d:\n        break\n    c.sendall(d)\n";
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("echo.out"), "/usr/bin/python3", "-c", py)) {
            int port = Integer.parseInt(Workloads.readyWords(p, 1)[1]);
            try (java.net.Socket c = new java.net.Socket("127.0.0.1", port)) {
                c.setSoTimeout(30_000);
                assertEquals('a', echo(c, 'a'));
                int pid = p.pid().value();
                preDump(pid);
                assertEquals('b', echo(c, 'b'));
                DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img2"), "--prev-images-dir", "../img1",
                        "--tcp-established");
                assertTrue(dumped.dumpOutput().out().contains("carried from the pre-dump"), dumped.dumpOutput().out());
                DetachedProcess r = dumped.restoreDetached(p.output());
                try {
                    assertEquals('c', echo(c, 'c'));
                } finally {
                    RestoreTest.killAndReap(r);
                }
            }
        }
    }

    private static int echo(java.net.Socket c, char b) throws java.io.IOException {
        c.getOutputStream().write(b);
        return c.getInputStream().read();
    }
}
