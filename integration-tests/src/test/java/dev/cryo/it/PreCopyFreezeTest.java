package dev.cryo.it;

import dev.cryo.engine.dump.GhostFiles;
import dev.cryo.engine.dump.MemoryPlan;
import dev.cryo.engine.dump.SharedMemoryClaims;
import dev.cryo.engine.dump.SharedPreCopy;
import dev.cryo.engine.dump.PreCopyTracker;
import dev.cryo.engine.dump.VmFlagsWatch;
import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.memory.MappedFilesAhead;
import dev.cryo.engine.model.FileRef;
import dev.cryo.kernel.Pid;
import dev.cryo.engine.memory.VmAdvice;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.SyscallCounter;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcNetNetlink;
import dev.cryo.kernel.proc.SmapsEntry;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A pre-copy's freeze plans memory from smaps read just before it (MemoryPlan#provisional) and
 * takes VmFlags from smaps read again while frozen: advice given in place in between (the area's
 * maps line unchanged) must not be lost, and a changed list of areas must not be planned from
 * the early read at all. The frozen read is skipped when a {@link VmFlagsWatch} started before the
 * early read proves the task made no call that changes VmFlags since (a walk of every page table
 * fewer in the frozen window).
 */
class PreCopyFreezeTest {
    @TempDir
    Path tmp;

    @Test
    void adviceGivenBetweenTheEarlyReadAndTheFreezeIsTakenFromTheFrozenRead() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/adviselate.c", "-O2").toString()))) {
            long area = Long.decode(p.outputText().split("ready ")[1].trim().split("\\s")[0]);
            List<SmapsEntry> early = ProcFs.smaps(p.pid());
            Sys.kill(p.pid(), Signals.SIGUSR1);
            p.awaitOutput("advised", Duration.ofSeconds(30));

            MemoryPlan plan = MemoryPlan.of(p.pid(), new SharedMemoryClaims(), new GhostFiles(Long.MAX_VALUE),
                    (kind, m) -> true, early);
            assertTrue(plan.provisional(), "same areas: planned from the early read");
            VmaImage before = at(plan.vmas(), area);
            assertEquals(0, before.advice() & VmAdvice.DONTFORK, "the early read predates the advice");

            List<VmaImage> confirmed = plan.confirm(p.pid(), ProcFs.smaps(p.pid()));
            assertNotNull(confirmed);
            assertEquals(VmAdvice.DONTFORK, at(confirmed, area).advice() & VmAdvice.DONTFORK,
                    "the frozen read's VmFlags win");
            VmaImage after = at(confirmed, area);
            assertEquals(withAdvice(before, after.advice()), withAdvice(after, after.advice()), "only the advice differs");
        }
    }

    /** Stops {@code p} (SIGSTOP) and waits until it is: the watch is read as cryo reads it, frozen. */
    private static void stopAsFrozen(DetachedProcess p) throws Exception {
        Sys.kill(p.pid(), Signals.SIGSTOP);
        DetachedProcess.awaitCondition(() -> p.state() == 'T', Duration.ofSeconds(30), "the task to stop");
    }

    /**
     * The watch's counters are the kernel's (a perf counter on each thread's syscall exits): a task
     * that only waits made none of the calls, the advice given after the watch began is seen.
     * Mutation check: with madvise left out of VmFlagsWatch.CALLS the last assertion fails.
     */
    @Test
    void aWatchStartedBeforeTheEarlyReadSeesAdviceGivenAfterIt() throws Exception {
        assumeTrue(SyscallCounter.supported(), () -> "no perf counters on syscall exits: " + SyscallCounter.unsupportedReason());
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/adviselate.c", "-O2").toString()))) {
            try (VmFlagsWatch watch = VmFlagsWatch.start(p.pid())) {
                assertNotNull(watch, "perf counters on syscall exits are available here");
                List<Integer> tids = ProcFs.tasks(p.pid()).stream().map(Pid::value).toList();
                assertTrue(watch.unchanged(tids), "a task that only waited changed nothing");
                Sys.kill(p.pid(), Signals.SIGUSR1);
                p.awaitOutput("advised", Duration.ofSeconds(30));
                assertFalse(watch.unchanged(tids), "its madvise(MADV_DONTFORK) was counted");
            }
        }
    }

    /**
     * A task that frees pages all the time (madvise MADV_DONTNEED and MADV_FREE, as malloc and
     * garbage collectors do) changes no VmFlags: the watch holds, and the frozen smaps walk is
     * skipped for it too; advice that does change them (MADV_DONTFORK) is still seen. Failed before
     * (every madvise counted): 'the frees changed no VmFlags ==> expected: <true> but was: <false>'.
     * Mutation check: with MADV_DONTFORK (10) among VmFlagsWatch.NO_FLAGS the last assertion fails.
     */
    @Test
    void freeingPagesKeepsTheWatchButAdviceThatChangesVmFlagsIsSeen() throws Exception {
        assumeTrue(SyscallCounter.supported(), () -> "no perf counters on syscall exits: " + SyscallCounter.unsupportedReason());
        assumeTrue(SyscallCounter.madviseSupported(), "no syscalls:sys_enter_madvise tracepoint");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/advisebusy.c", "-O2", "-pthread").toString()))) {
            try (VmFlagsWatch watch = VmFlagsWatch.start(p.pid())) {
                assertNotNull(watch, "perf counters on syscall exits are available here");
                List<Integer> tids = ProcFs.tasks(p.pid()).stream().map(Pid::value).toList();
                Sys.kill(p.pid(), Signals.SIGUSR2);
                p.awaitOutput("freeing", Duration.ofSeconds(30));
                long switches = voluntarySwitches(p.pid());
                // each round of two frees ends in a 1 ms sleep: 20 sleeps, at least 40 frees counted
                DetachedProcess.awaitCondition(() -> voluntarySwitches(p.pid()) >= switches + 20, Duration.ofSeconds(30),
                        "the task to free pages for a while");
                stopAsFrozen(p); // its count final, as frozen
                assertTrue(watch.unchanged(tids), "the frees changed no VmFlags");
                Sys.kill(p.pid(), Signals.SIGCONT);
                Sys.kill(p.pid(), Signals.SIGUSR1);
                p.awaitOutput("advised", Duration.ofSeconds(30));
                // stopped again, as the watch is read frozen: a running task's free in flight (counted at its
                // entry, not yet at its return) made up for the advice once ('was counted ==> expected false')
                stopAsFrozen(p);
                assertFalse(watch.unchanged(tids), "its madvise(MADV_DONTFORK) was counted");
            }
        }
    }

    /**
     * A madvise already in the kernel when the watch begins may change an area after the early
     * read whatever its advice: it is counted at its return but not at its entry, and the watch
     * fails. Here a second thread waits inside madvise(MADV_POPULATE_WRITE) on a page a
     * userfaultfd holds missing, resolved only after the watch began. Mutation check: comparing
     * only the counts of calls other than madvise, the assertion fails.
     */
    @Test
    void adviceInTheKernelWhenTheWatchBeginsFailsIt() throws Exception {
        assumeTrue(SyscallCounter.supported(), () -> "no perf counters on syscall exits: " + SyscallCounter.unsupportedReason());
        assumeTrue(SyscallCounter.madviseSupported(), "no syscalls:sys_enter_madvise tracepoint");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/advisebusy.c", "-O2", "-pthread").toString()))) {
            String second = p.outputText().split("ready ")[1].trim().split("\\s")[1];
            Path syscall = Path.of("/proc/" + p.pid().value() + "/task/" + second + "/syscall");
            Sys.kill(p.pid(), Signals.SIGHUP);
            DetachedProcess.awaitCondition(() -> {
                try {
                    return Files.readString(syscall).startsWith("28 "); // madvise, waiting for its page
                } catch (java.io.IOException e) {
                    return false;
                }
            }, Duration.ofSeconds(30), "the second thread to wait inside madvise");
            try (VmFlagsWatch watch = VmFlagsWatch.start(p.pid())) {
                assertNotNull(watch, "perf counters on syscall exits are available here");
                List<Integer> tids = ProcFs.tasks(p.pid()).stream().map(Pid::value).toList();
                assertTrue(watch.unchanged(tids), "nothing returned yet");
                Sys.kill(p.pid(), Signals.SIGWINCH);
                p.awaitOutput("populated", Duration.ofSeconds(30));
                assertFalse(watch.unchanged(tids), "a madvise entered before the watch returned after it began");
            }
        }
    }

    /**
     * End to end: a pre-copy dump of a task that frees pages all the time reads no smaps frozen.
     * A free that happens to be in the kernel as the watch begins fails the watch (above), so of
     * three dumps left running at least one must have kept it. Failed before: the frozen read in
     * each ('VmFlags confirmed by a frozen smaps read (a watched call was made since ...)').
     */
    @Test
    void aTaskThatFreesPagesAllTheTimeIsFrozenWithoutAnotherSmapsRead() throws Exception {
        assumeTrue(SyscallCounter.supported(), () -> "no perf counters on syscall exits: " + SyscallCounter.unsupportedReason());
        assumeTrue(SyscallCounter.madviseSupported(), "no syscalls:sys_enter_madvise tracepoint");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/advisebusy.c", "-O2", "-pthread").toString(), "plain"))) {
            Sys.kill(p.pid(), Signals.SIGUSR2);
            p.awaitOutput("freeing", Duration.ofSeconds(30));
            List<String> logs = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Path log = tmp.resolve("dump" + i + ".log");
                Cli dump = Cli.run("-vv", "--log-file", log.toString(), "dump", "-t", p.pid().toString(), "-D",
                        tmp.resolve("img" + i).toString(), "--no-progress", "--pre-copy", "-R");
                assertEquals(0, dump.code(), dump.toString());
                String debug = Files.readString(log);
                if (debug.contains("VmFlags as read before the freeze")) {
                    assertFalse(debug.contains("waiting for the frozen smaps"), debug);
                    // a long-lived cryo (an agent) must get back every inotify instance its reads ahead took
                    int share = Math.max(1, Integer.parseInt(Files.readAllLines(
                            Path.of("/proc/sys/fs/inotify/max_user_instances")).get(0).trim()) / 8);
                    DetachedProcess.awaitCondition(() -> instancesToBeHad() == share, Duration.ofSeconds(30),
                            "every inotify instance of cryo's share to be given back after the dumps");
                    return;
                }
                logs.add(debug.lines().filter(l -> l.contains("VmFlags")).collect(java.util.stream.Collectors.joining("\n")));
            }
            fail("each of three dumps read smaps frozen:\n" + String.join("\n", logs));
        }
    }

    /** How many inotify instances cryo can open now (all closed again). */
    private static int instancesToBeHad() {
        List<dev.cryo.kernel.DirectoryChanges> held = new java.util.ArrayList<>();
        try {
            dev.cryo.kernel.DirectoryChanges c;
            while ((c = dev.cryo.kernel.DirectoryChanges.tryOpen()) != null) {
                held.add(c);
            }
            return held.size();
        } finally {
            held.forEach(dev.cryo.kernel.DirectoryChanges::close);
        }
    }

    private static long voluntarySwitches(Pid pid) {
        try {
            return Files.readAllLines(Path.of("/proc/" + pid.value() + "/status")).stream()
                    .filter(l -> l.startsWith("voluntary_ctxt_switches:")).mapToLong(l -> Long.parseLong(l.split("\\s+")[1]))
                    .findFirst().orElseThrow();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * End to end: a pre-copy dump of a task that only waits takes its VmFlags from the read before
     * the freeze and reads no smaps frozen (the debug log says which), nor its mapped files'
     * identities (failed before: no "mapped files' identities" in the log), closes the watch's
     * counters only after the kill (not in the frozen window), returns to user mode once before the
     * freeze (idle since its pages were write-protected: cryo's scratch area is mapped then), and comes
     * back as it was.
     */
    @Test
    void aTaskThatOnlyWaitsIsFrozenWithoutAnotherSmapsRead() throws Exception {
        assumeTrue(SyscallCounter.supported(), () -> "no perf counters on syscall exits: " + SyscallCounter.unsupportedReason());
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/adviselate.c", "-O2").toString()))) {
            Path log = tmp.resolve("dump.log");
            DumpRestore d = DumpRestore.dump(List.of("-vv", "--log-file", log.toString()), p.pid().value(),
                    tmp.resolve("img"), "--pre-copy");
            String debug = Files.readString(log);
            assertTrue(debug.contains("VmFlags as read before the freeze"), debug);
            assertFalse(debug.contains("waiting for the frozen smaps"), debug);
            assertTrue(debug.contains(" mapped files' identities"), "its files' identities read before the freeze:\n" + debug);
            // it never ran since the rounds write-protected its pages: it returns to user mode once before the
            // freeze (that cost its first injection frozen: 15 ms of its CPU for bigmem's GiB), before the watch,
            // as cryo maps its scratch area in it then
            assertTrue(debug.contains("scratch area mapped before the freeze in"), debug);
            // closing a tracepoint's last perf counter waits for an RCU grace period (30-140 ms under
            // load): never in the frozen window, only once the task runs again (or is killed)
            int freed = debug.indexOf(" killed after ");
            int closed = debug.indexOf("its syscall counters closed");
            assertTrue(freed >= 0 && closed > freed, "the counters are closed after the task is killed:\n" + debug);
            DetachedProcess r = d.restoreDetached(p.output());
            try {
                Sys.kill(r.pid(), Signals.SIGUSR1); // the restored task still has its area and can advise it
                r.awaitOutput("advised", Duration.ofSeconds(30));
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * A tree with no shared memory pre-copied: its freeze reads none of the host's process events
     * (the connector queues every fork, exec and exit of the host since the last round; draining
     * them took 8-36 ms of bigmem's freeze on this busy host): what was queued stays queued.
     * Failed before: the freeze drained the socket.
     */
    @Test
    void aFreezeWithNoSharedMemoryPreCopiedReadsNoProcessEvents() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/adviselate.c", "-O2").toString()))) {
            java.util.Set<Long> others = connectorSockets().keySet();
            List<String> said = new java.util.ArrayList<>();
            try (SharedPreCopy shared = SharedPreCopy.start(said::add)) {
                assumeTrue(said.isEmpty(), () -> String.join("; ", said));
                java.util.Set<Long> mine = new java.util.HashSet<>(connectorSockets().keySet());
                mine.removeAll(others);
                assertEquals(1, mine.size(), "the events connector's socket");
                long ino = mine.iterator().next();
                assertTrue(shared.round(java.util.Map.of()).isEmpty(), "nothing shared to pre-copy");
                for (int i = 0; i < 50; i++) { // forks, execs and exits for the connector to queue
                    new ProcessBuilder("/bin/true").start().waitFor();
                }
                long queued = connectorSockets().get(ino).unreadBytes();
                assertTrue(queued > 0, "the connector queued the host's events");
                shared.freeze(java.util.Map.of(), List.of(p.pid()), new SharedMemoryClaims());
                assertTrue(connectorSockets().get(ino).unreadBytes() >= queued, "the freeze read none of them");
            }
        }
    }

    /**
     * With shared memory pre-copied, the host's process events are read right before the seize
     * (SharedPreCopy.catchUp), so the freeze reads only those of its own few ms; a fork they told
     * of still counts at the freeze: shmforks' child wrote the shared page and exited (no page
     * table shows its write), so every page of the object is sent again. Failed before: no such
     * step (the freeze drained everything since the last round).
     */
    @Test
    void aForkHeardRightBeforeTheSeizeStillCountsAtTheFreeze() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/shmforks.c", "-O2").toString()))) {
            PreCopyTracker tracker = PreCopyRoundWalksTest.startTracking(p.pid());
            java.util.Set<Long> others = connectorSockets().keySet();
            List<String> said = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            try (tracker; SharedPreCopy shared = SharedPreCopy.start(said::add)) {
                assumeTrue(said.isEmpty(), () -> String.join("; ", said));
                java.util.Set<Long> mine = new java.util.HashSet<>(connectorSockets().keySet());
                mine.removeAll(others);
                long ino = mine.iterator().next();
                java.util.Map<Pid, PreCopyTracker> trackers = java.util.Map.of(p.pid(), tracker);
                assertFalse(shared.round(trackers).isEmpty(), "the first round sends the object: " + said);
                assertTrue(said.stream().anyMatch(l -> l.contains("is pre-copied, carried by pid " + p.pid())), said.toString());
                shared.round(trackers);
                Sys.kill(p.pid(), Signals.SIGUSR1);
                p.awaitOutput("forked 1", Duration.ofSeconds(30));
                for (int i = 0; i < 50; i++) { // more of the host's events
                    new ProcessBuilder("/bin/true").start().waitFor();
                }
                long queued = connectorSockets().get(ino).unreadBytes();
                shared.catchUp();
                assertTrue(connectorSockets().get(ino).unreadBytes() < queued, "the catch-up read the queued events");
                said.clear();
                shared.freeze(trackers, List.of(p.pid()), new SharedMemoryClaims());
                assertTrue(said.stream().anyMatch(l -> l.contains("every page counts as written (pid " + p.pid() + " forked)")),
                        "the fork the catch-up heard counts at the freeze: " + said);
            }
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /** This namespace's NETLINK_CONNECTOR sockets, by inode. */
    private static java.util.Map<Long, ProcNetNetlink.Entry> connectorSockets() throws Exception {
        java.util.Map<Long, ProcNetNetlink.Entry> all = ProcNetNetlink.parse("/proc/net/netlink",
                Files.readString(Path.of("/proc/net/netlink")));
        all.values().removeIf(e -> e.protocol() != 11 /* NETLINK_CONNECTOR */);
        return all;
    }

    @Test
    void areasThatChangedAreNotPlannedFromTheEarlyRead() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"),
                TestPrograms.compile("/c/adviselate.c", "-O2").toString()))) {
            List<SmapsEntry> early = ProcFs.smaps(p.pid());
            List<SmapsEntry> shifted = early.subList(1, early.size()); // one area fewer than the task has
            MemoryPlan plan = MemoryPlan.of(p.pid(), new SharedMemoryClaims(), new GhostFiles(Long.MAX_VALUE),
                    (kind, m) -> true, shifted);
            assertFalse(plan.provisional());
            assertEquals(early.size(), plan.vmas().size());
            // a frozen read that lacks one of the plan's areas (cryo's scratch area merged into it) confirms nothing
            MemoryPlan provisional = MemoryPlan.of(p.pid(), new SharedMemoryClaims(), new GhostFiles(Long.MAX_VALUE),
                    (kind, m) -> true, early);
            assertTrue(provisional.provisional());
            assertNull(provisional.confirm(p.pid(), shifted));
        }
    }

    /**
     * A mapped file's identity read beside the early smaps (MappedFilesAhead) is the frozen task's
     * only while nothing changed it: its times set after that read (inotify IN_ATTRIB) make the
     * plan read it again, and the image records the file as it is at the freeze. Mutation check:
     * with MappedFilesAhead.confirm skipped (the read ahead always taken) the assertions after the touch fail.
     */
    @Test
    void aMappedFileChangedAfterItsIdentityWasReadAheadIsReadAgain() throws Exception {
        Path exe = tmp.resolve("adviselate");
        Files.copy(TestPrograms.compile("/c/adviselate.c", "-O2"), exe);
        assertTrue(exe.toFile().setExecutable(true));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("out"), exe.toString()))) {
            List<SmapsEntry> early = ProcFs.smaps(p.pid());
            try (MappedFilesAhead ahead = MappedFilesAhead.read(p.pid(), early)) {
                assertNotNull(ahead, "an inotify instance to be had");
                MemoryPlan same = MemoryPlan.of(p.pid(), new SharedMemoryClaims(), new GhostFiles(Long.MAX_VALUE),
                        (kind, m) -> true, early, ahead);
                assertTrue(same.filesAhead() > 0, "nothing changed: the identities read ahead are taken");
                FileRef now = FileIdentity.of(exe.toString(), exe);
                assertEquals(now, mapped(same.vmas(), exe), "the read ahead is the file's identity");

                java.nio.file.attribute.FileTime later = java.nio.file.attribute.FileTime.fromMillis(
                        Files.getLastModifiedTime(exe).toMillis() + 3_600_000);
                Files.setLastModifiedTime(exe, later); // as a touch between the early read and the freeze
                MemoryPlan changed = MemoryPlan.of(p.pid(), new SharedMemoryClaims(), new GhostFiles(Long.MAX_VALUE),
                        (kind, m) -> true, early, ahead);
                assertTrue(changed.provisional(), "the areas are the same");
                assertEquals(0, changed.filesAhead(), "a watched file changed: none taken from the read ahead");
                assertEquals(FileIdentity.of(exe.toString(), exe), mapped(changed.vmas(), exe),
                        "the file as the frozen task has it");
            }
        }
    }

    private static FileRef mapped(List<VmaImage> vmas, Path file) {
        return vmas.stream().filter(v -> v.file() != null && v.file().path().equals(file.toString())).findFirst()
                .orElseThrow(() -> new AssertionError("no mapping of " + file + " in " + vmas)).file();
    }

    private static VmaImage at(List<VmaImage> vmas, long start) {
        return vmas.stream().filter(v -> v.start() == start).findFirst()
                .orElseThrow(() -> new AssertionError("no area at 0x" + Long.toHexString(start) + " in " + vmas));
    }

    private static VmaImage withAdvice(VmaImage v, int advice) {
        return new VmaImage(v.start(), v.end(), v.prot(), v.flags(), v.offset(), v.kind(), v.file(), 0, 0, advice);
    }
}
