package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * dump → restore on real workloads, as a user runs it: each workload carries on after the
 * restore and checks its own state (zdtm style) when sent SIGUSR2.
 */
class RestoreTest {
    @TempDir
    Path tmp;

    /** Dumps (killing the original), restores detached, compares the state, and returns the restored root. */
    static DetachedProcess dumpAndRestore(DetachedProcess p, Path img, String... dumpOptions) throws Exception {
        return DumpRestore.dumpAndRestore(p, img, dumpOptions);
    }

    /** Kills a restored root (our child) and reaps it; quiet if it is gone already. */
    static void killAndReap(DetachedProcess restored) {
        try {
            Sys.kill(restored.pid(), Signals.SIGKILL);
        } catch (RuntimeException ignored) {
            // it exited by itself
        }
        try {
            Sys.wait4(restored.pid().value(), 0);
        } catch (RuntimeException ignored) {
            // reaped already
        }
    }

    /** Sends the check signal to a restored root (our child) and reaps it. */
    static String checkAndReap(DetachedProcess restored) throws Exception {
        try {
            return Workloads.check(restored);
        } finally {
            try {
                Sys.kill(restored.pid(), Signals.SIGKILL);
            } catch (RuntimeException ignored) {
                // it exited by itself after its verdict
            }
            Sys.wait4(restored.pid().value(), 0);
        }
    }

    /** /c/NAME.c, dumped and restored, checks itself and passes. */
    private void passesAfterADumpAndRestore(String name) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve(name + ".out"), name)) {
            String out = checkAndReap(dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
        }
    }

    private static void assertPassOnce(String out) {
        assertTrue(out.contains("PASS"), out);
        assertEquals(1, out.split("ready", -1).length - 1, "the restored process did not start over:\n" + out);
    }

    @Test
    void aCounterContinuesWithNoGapNoRepeatAndItsSignalHandlerStillFires() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Sys.kill(p.pid(), Signals.SIGUSR1);
            Thread.sleep(50);
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            Thread.sleep(50);
            Sys.kill(r.pid(), Signals.SIGUSR1);
            Thread.sleep(50);
            Sys.kill(r.pid(), Signals.SIGUSR1);
            Thread.sleep(200);
            String out = checkAndReap(r);
            assertPassOnce(out);
            assertTrue(out.contains("sigusr1=3"), "the handler counted signals before and after the restore: " + out);
        }
    }

    /**
     * A program that ends itself as soon as it runs again (exitatresume.c: its main thread's wall-clock deadline
     * passed while it was frozen; 63 more threads): the restore lets its threads go one after the other, and those
     * still in their stop when the main thread's exit_group killed them made the detach fail with ESRCH, the
     * restore reporting a failure for a tree that had run (stress-ng's mq stressor, whose parent kills its workers
     * once its timer has run out: "restore failed: pid N (resume): ptrace(PTRACE_DETACH, pid M): ESRCH"). Such
     * threads are now reaped, and the restore succeeds.
     */
    @Test
    void aProgramThatEndsItselfAsItResumesIsRestoredAndEnds() throws Exception {
        long started = System.nanoTime();
        // the deadline leaves a cold CLI at load time enough to seize the program before it
        try (DetachedProcess p = Workloads.program(tmp.resolve("exit.out"), "exitatresume", "10")) {
            Path img = tmp.resolve("img");
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            long wait = 11_000 - (System.nanoTime() - started) / 1_000_000;
            if (wait > 0) {
                Thread.sleep(wait); // past the deadline: the main thread ends the process as soon as it runs
            }
            Cli r = Cli.run("restore", "-D", img.toString(), "-d");
            assertEquals(0, r.code(), r.toString());
            p.awaitOutput("ending", Duration.ofSeconds(30));
            DetachedProcess.awaitCondition(() -> {
                try { // ended: a zombie, ours to reap (a detached restore's root is the test's child)
                    return Files.readString(Path.of("/proc/" + p.pid() + "/stat")).replaceAll(".*\\) ", "").startsWith("Z");
                } catch (java.io.IOException gone) {
                    return true;
                }
            }, Duration.ofSeconds(30), "the restored process ended");
            Sys.wait4(p.pid().value(), 0);
        }
    }

    @Test
    void theThreadsOfAMultiThreadedProgramContinueAndTheirMutexWorks() throws Exception {
        try (DetachedProcess p = Workloads.threads(tmp)) {
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            Thread.sleep(300);
            assertPassOnce(checkAndReap(r));
        }
    }

    /**
     * zdtm's thread-bomb shape: threads that keep making short-lived threads (a busy thread pool). The
     * seize waited for each thread's stop before seizing the next, while the others made new ones, and
     * gave up: "timed out seizing the tree after 10 s (still waiting for pids [N]: pid N (state t))".
     * Every thread listed is now seized and interrupted before any stop is waited for.
     */
    @Test
    void threadsThatKeepMakingShortLivedThreadsAreSeizedAndChurnOn() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("threadchurn.out"), "threadchurn", "32")) {
            assertPassOnce(checkAndReap(dumpAndRestore(p, tmp.resolve("img"))));
        }
    }

    @Test
    void aProcessTreeKeepsPassingDataThroughItsPipe() throws Exception {
        try (DetachedProcess p = Workloads.tree(tmp)) {
            Thread.sleep(200);
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            Thread.sleep(300);
            assertPassOnce(checkAndReap(r));
        }
    }

    /** zdtm's session02 found it (refused since): a child forked before its parent's setsid keeps the old session. */
    @Test
    void aChildForkedBeforeItsParentsSetsidKeepsTheOldSession() throws Exception {
        passesAfterADumpAndRestore("earlysid");
    }

    /**
     * zdtm's session01 shape, refused at dump time: a task left in its great-grandparent's session
     * while its parent, grandparent and great-grandparent each made a session of their own after
     * forking the next one. The restore forks each of those before its parent makes its session.
     */
    @Test
    void aTaskKeepsASessionThreeLevelsUpWhoseMembersBelowMadeTheirOwn() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("sidchain.out"), "sidchain")) {
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            assertPassOnce(checkAndReap(r));
        }
    }

    /**
     * zdtm's session03 shape, refused at dump time ("is in session L, not its parent's ... and does
     * not lead it"): a child in the session of a sibling that made it, forked it with CLONE_PARENT and
     * exited unreaped. The restore forks the zombie-to-be, which makes the session and forks the
     * child; its death leaves the child to its parent, a subreaper for that time.
     */
    @Test
    void aChildInTheSessionOfAZombieSiblingThatLedItKeepsItAndItsParent() throws Exception {
        String[] cmd = {dev.cryo.kernel.testing.TestPrograms.compile("/c/zombielead.c").toString()};
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("zombielead.out"), cmd))) {
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            assertPassOnce(checkAndReap(r));
        }
    }

    /**
     * zdtm's session02 shape, and a daemon under tini or dumb-init: a subreaper's children in the
     * session of a leader that has exited come back in it (a helper at the leader's pid makes it).
     */
    @Test
    void aSubreapersChildrenInTheSessionOfADeadLeaderKeepIt() throws Exception {
        passesAfterADumpAndRestore("deadsid");
    }

    /**
     * A daemon's workers under a subreaper (tini, a supervisor), zdtm's child_subreaper_and_reparent
     * shape: orphans the subreaper reaped from the session of a live task two levels down, one in its
     * group and one leading its own. Refused before ("is in session L, not its parent's ... or it was
     * reparented"); the leader forks a helper that forks each and exits, and they come back to the
     * subreaper with their session and group.
     */
    @Test
    void aSubreapersOrphansInTheSessionOfATaskFurtherDownComeBackThere() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("subreapsid.out"), "subreapsid")) {
            assertPassOnce(checkAndReap(dumpAndRestore(p, tmp.resolve("img"))));
        }
    }

    /**
     * A subreaper's child in a process group whose leader has exited, in a session whose leader has
     * exited too (a job of a shell that a daemon ran): refused before ("is in process group N, whose
     * leader is not in the tree"); the session's helper forks a helper at the group leader's pid.
     */
    @Test
    void aSubreapersChildInADeadGroupOfADeadSessionKeepsBoth() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("deadsid.out"), "deadsid", "nested")) {
            String out = checkAndReap(dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A zombie that came to a subreaper from a session whose leader has exited (zdtm's
     * helper_zombie_child shape): the session's helper forks it too, and it dies in that session and
     * group; refused before ("is in session N, not its parent's").
     */
    @Test
    void aSubreapersZombieFromTheSessionOfADeadLeaderKeepsIt() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("deadsid.out"), "deadsid", "zombie")) {
            String out = checkAndReap(dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A daemon's worker that forked a child and then made a session of its own, under a subreaper
     * beside a sibling left in the daemon's session (a piece of zdtm's session02): the worker was born
     * in that session, whose leader has exited, so its helper forks the worker too, which forks its
     * child there before its setsid. Refused before ("is in session N, whose leader has exited, as are
     * children of pid R; a restore makes such a session again for the children of one parent only").
     */
    @Test
    void aWorkerThatLeftTheSessionOfADeadLeaderAfterForkingKeepsItsChildThere() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("deadsid.out"), "deadsid", "leads")) {
            String out = checkAndReap(dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * zdtm's session01 shape: tasks left in a process group whose leader has exited and was reaped
     * come back in it (a helper at the leader's pid makes the group); refused before.
     */
    @Test
    void tasksInTheGroupOfADeadLeaderKeepIt() throws Exception {
        passesAfterADumpAndRestore("deadpgid");
    }

    /**
     * zdtm's zombie01 shape: a zombie left in a process group whose leader has exited and was reaped
     * comes back a zombie in that group (the group's helper forks it too); refused before ("is in
     * process group N, whose leader is not in the tree and which is not its parent's").
     */
    @Test
    void aZombieInTheGroupOfADeadLeaderKeepsIt() throws Exception {
        passesAfterADumpAndRestore("zombiepgid");
    }

    @Test
    void anEventLoopKeepsItsEventfdTimerfdAndEpoll() throws Exception {
        try (DetachedProcess p = Workloads.events(tmp)) {
            Thread.sleep(100);
            Path img = tmp.resolve("img");
            DetachedProcess r = dumpAndRestore(p, img);
            String kinds = Cli.run("show", img.toString()).out();
            assertTrue(kinds.contains("\"eventfd\"") && kinds.contains("\"timerfd\"") && kinds.contains("\"epoll\"")
                    && kinds.contains("\"signalfd\""), kinds);
            Thread.sleep(200);
            assertPassOnce(checkAndReap(r));
        }
    }

    @Test
    void sharedAnonymousMemoryIsSharedAgainAfterTheRestore() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("shm.out"), "shm")) {
            Thread.sleep(100);
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            Thread.sleep(100);
            assertPassOnce(checkAndReap(r));
        }
    }

    @Test
    void aSysvSegmentAttachedByParentAndChildIsAttachedAgainWithItsContents() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("sysv.out"), "shm", "sysv")) {
            String shmid = p.outputText().lines().filter(l -> l.startsWith("shmid ")).findFirst().orElseThrow().substring(6);
            try {
                DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
                Thread.sleep(100);
                assertPassOnce(checkAndReap(r));
            } finally {
                new ProcessBuilder("ipcrm", "-m", shmid).start().waitFor();
            }
        }
    }

    /**
     * valgrind unmaps its guest's [vdso]: the dump found no syscall to inject through and refused. With
     * "all" the [vvar] areas too (zdtm's vdso02, a kernel booted with vdso=0): the restored task kept the
     * vDSO block it was made with ("a [vdso] is mapped again").
     */
    @ParameterizedTest
    @ValueSource(strings = {"vdso", "all"})
    void aTaskThatUnmappedItsVdsoIsDumpedAndRestoredWithoutIt(String what) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("novdso.out"), "novdso", what)) {
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            Thread.sleep(100);
            assertPassOnce(checkAndReap(r));
        }
    }

    /**
     * A thread that unshared its cwd, root and umask (unshare(CLONE_FS), as Samba's worker threads, each in a
     * directory of its own) was refused; before that it came back with its process's. It comes back with its own,
     * still its own: its chdir after the restore leaves its process's cwd (threadown.c: cwd /usr and umask 027, with
     * "root" chrooted into /usr too; the comparator compares each thread's cwd, root and umask). Likewise a thread
     * in a uts namespace it made alone (named cryo-thread, renamed after the restore while its process's name stays)
     * and one that joined a net namespace bound on the host (ip netns add, as Go's netns libraries do on a locked OS
     * thread), which were refused (the comparator compares which namespaces a thread is in that its process is not).
     * And a thread with an fd table of its own (unshare(CLONE_FILES)) holding some of its process's open files, at
     * numbers and with close-on-exec flags of its own (the comparator compares each thread's fd numbers and flags).
     * "alone": a thread that opened files of its own after unshare(CLONE_FILES) (a file at an offset, a pipe and a
     * socketpair holding unread bytes, an eventfd), which its process never held, was refused ("is in its own fd
     * table alone"); they come back in its table alone (the comparator compares them as it does a process's fds).
     * "netnew": a net namespace the thread made alone and bound nowhere (Go's netns.New()), lo up, was refused ("is
     * not its process's"); the thread makes one again, lo up (the comparator compares what a thread's own net
     * namespace holds). "cgroupns": a cgroup namespace the thread made alone, which was refused ("is not its
     * process's"); the thread makes one again where its process is (the comparator compares what the thread sees
     * of its cgroups from inside it). "ipcns": an empty ipc namespace the thread made alone, which was refused; the
     * thread makes one again (a queue it makes there is not its process's).
     */
    @ParameterizedTest
    @ValueSource(strings = {"cwd", "root", "uts", "net", "files", "alone", "netnew", "cgroupns", "ipcns"})
    void aThreadComesBackWithWhatItUnsharedAlone(String what) throws Exception {
        String netns = "cryo-thread-" + ProcessHandle.current().pid();
        if (what.equals("net")) {
            assertEquals(0, new ProcessBuilder("ip", "netns", "add", netns).inheritIO().start().waitFor());
        }
        try (DetachedProcess p = Workloads.program(tmp.resolve("threadown.out"), "threadown", what, "/run/netns/" + netns)) {
            assertPassOnce(checkAndReap(dumpAndRestore(p, tmp.resolve("img"))));
        } finally {
            if (what.equals("net")) {
                new ProcessBuilder("ip", "netns", "del", netns).inheritIO().start().waitFor();
            }
        }
    }

    /** fio's idiom (shmget, shmat, IPC_RMID, fork) was refused: the segment would vanish with the tree. */
    @Test
    void aSysvSegmentMarkedForRemovalComesBackSharedWithItsContentsAndStillMarked() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("rmid.out"), "shm", "rmid")) {
            Thread.sleep(100);
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            Thread.sleep(100);
            assertPassOnce(checkAndReap(r));
        }
    }

    /** zdtm's shm-mp: an attachment split by mprotect was refused as "only part of the segment is mapped". */
    @Test
    void aSysvAttachmentSplitByMprotectIsAttachedBackWholeWithEachPartsProtection() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("shmsplit.out"), "shmsplit")) {
            String shmid = p.outputText().lines().filter(l -> l.startsWith("shmid ")).findFirst().orElseThrow().substring(6);
            try {
                DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
                assertPassOnce(checkAndReap(r));
            } finally {
                new ProcessBuilder("ipcrm", "-m", shmid).start().waitFor();
            }
        }
    }

    @Test
    void aSysvSegmentRemovedSinceTheDumpIsRefusedBeforeAnyProcessIsCreated() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("sysv.out"), "shm", "sysv")) {
            String shmid = p.outputText().lines().filter(l -> l.startsWith("shmid ")).findFirst().orElseThrow().substring(6);
            int pid = p.pid().value();
            Path img = tmp.resolve("img");
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress").code());
            assertEquals(0, new ProcessBuilder("ipcrm", "-m", shmid).start().waitFor());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), java.time.Duration.ofSeconds(10),
                    "the dumped tree to be gone");
            Cli r = Cli.run("restore", "-D", img.toString(), "-d");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().contains("SysV shared memory segment shmid " + shmid) && r.err().contains("no longer exists"),
                    r.err());
            assertFalse(Files.exists(Path.of("/proc/" + pid)), "no process may be left");
        }
    }

    @Test
    void aPythonProgramContinues() throws Exception {
        try (DetachedProcess p = Workloads.python(tmp)) {
            Thread.sleep(200);
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            Thread.sleep(300);
            assertPassOnce(checkAndReap(r));
        }
    }

    @Test
    void aOneGibWorkloadComesBackWithEveryPageIntact() throws Exception {
        try (DetachedProcess p = Workloads.bigmem(tmp, 1024)) {
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            String out = checkAndReap(r);
            assertPassOnce(out);
        }
    }

    @Test
    void withoutDetachCryoWaitsForTheRestoredRootAndExitsWithItsStatus() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            int pid = p.pid().value();
            DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img"));
            AutoCloseable armed = dumped.armRestoreComparison();
            var restore = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> Cli.run("restore", "-D", tmp.resolve("img").toString()));
            DetachedProcess.awaitCondition(() -> {
                try {
                    return Files.readString(Path.of("/proc/" + pid + "/status")).contains("TracerPid:\t0");
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(30), "the restored counter to run untraced");
            dumped.compareRestored(restore);
            armed.close();
            Thread.sleep(200);
            Sys.kill(Pid.of(pid), Signals.SIGUSR2); // it checks itself, prints PASS and exits 0
            Cli r = restore.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(0, r.code(), r.toString() + p.outputText());
            assertTrue(p.outputText().contains("PASS"), p.outputText());
        }
    }

    @Test
    void aFifoComesBackWithTheBytesThatSatInIt() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("fifo.out"), "sh", "-c",
                "mkfifo fifo && exec 3<>fifo && printf hello >&3 && echo ready && exec /bin/sleep 600")) {
            Workloads.ready(p);
            DetachedProcess.awaitCondition(() -> p.state() == 'S' && status(p.pid().value()).contains("Name:\tsleep"),
                    Duration.ofSeconds(10), "sleep to hold the fifo");
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            try {
                assertEquals(tmp.resolve("fifo").toString(),
                        Files.readSymbolicLink(Path.of("/proc/" + r.pid() + "/fd/3")).toString());
                try (var ch = java.nio.channels.FileChannel.open(Path.of("/proc/" + r.pid() + "/fd/3"))) {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(64);
                    ch.read(b);
                    assertEquals("hello", new String(b.array(), 0, b.position()));
                }
            } finally {
                Sys.kill(r.pid(), Signals.SIGKILL);
                Sys.wait4(r.pid().value(), 0);
            }
        }
    }

    @Test
    void aShellJobGetsItsTerminalBack() throws Exception {
        // script(1) gives its shell a pseudo-terminal; the shell outlives the first sleep, keeping it open
        try (DetachedProcess script = DetachedProcess.start(tmp.resolve("script.out"), "script", "-qfec",
                "echo ready; /bin/sleep 600; /bin/sleep 600", "/dev/null")) {
            Workloads.ready(script);
            int sleeper = Workloads.sleepUnder(script);
            String tty = Files.readSymbolicLink(Path.of("/proc/" + sleeper + "/fd/0")).toString();
            int pid = sleeper;
            DumpRestore.dump(pid, tmp.resolve("img"), "--shell-job").restoreDetached(script.output());
            try {
                for (int fd = 0; fd < 3; fd++) {
                    assertEquals(tty, Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + fd)).toString());
                }
                DetachedProcess.awaitSleeping(pid);
            } finally {
                Sys.kill(Pid.of(pid), Signals.SIGKILL);
                Sys.wait4(pid, 0);
            }
        }
    }

    @Test
    void aProcessOfAnotherUserKeepsItsCredentials() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("nobody.out"), "setpriv", "--reuid=65534",
                "--regid=65534", "--clear-groups", "/bin/sleep", "600")) {
            DetachedProcess.awaitCondition(() -> p.state() == 'S' && status(p.pid().value()).contains("Uid:\t65534"),
                    Duration.ofSeconds(10), "sleep to run as nobody");
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            String status = status(r.pid().value());
            try {
                assertTrue(status.contains("Uid:\t65534\t65534\t65534\t65534"), status);
                assertTrue(status.contains("Gid:\t65534\t65534\t65534\t65534"), status);
                assertTrue(status.contains("Name:\tsleep"), status);
                // back in its sleep (on a loaded machine it may still be running its way there)
                DetachedProcess.awaitCondition(() -> r.state() == 'S', Duration.ofSeconds(30), "the restored sleep to sleep on");
            } finally {
                Sys.kill(r.pid(), Signals.SIGKILL);
                Sys.wait4(r.pid().value(), 0);
            }
        }
    }

    @Test
    void aProcessHoldingADirectoryAndAnAppendedLogRestoresAfterBothChanged() throws Exception {
        // on a live host a directory gains files and a log grows all the time: neither stops a restore
        Path dir = Files.createDirectory(tmp.resolve("d"));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("dir.out"), "sh", "-c",
                "cd d && exec 3<. 4>>../log && echo ready && exec /bin/sleep 600"))) {
            DetachedProcess.awaitCondition(() -> p.state() == 'S' && status(p.pid().value()).contains("Name:\tsleep"),
                    Duration.ofSeconds(10), "sleep to hold the directory");
            Files.writeString(tmp.resolve("log"), "before\n");
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            Files.writeString(dir.resolve("created-after-the-dump"), "x");
            Files.writeString(tmp.resolve("log"), "after\n", java.nio.file.StandardOpenOption.APPEND);
            DetachedProcess r = dumped.restoreDetached(p.output());
            try {
                int pid = r.pid().value();
                assertEquals(dir.toString(), Files.readSymbolicLink(Path.of("/proc/" + pid + "/cwd")).toString());
                assertEquals(dir.toString(), Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/3")).toString());
                assertEquals(tmp.resolve("log").toString(),
                        Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/4")).toString());
                // back in its sleep (on a loaded machine it may still be running its way there)
                DetachedProcess.awaitCondition(() -> r.state() == 'S', Duration.ofSeconds(30), "the restored sleep to sleep on");
            } finally {
                killAndReap(r);
            }
        }
    }

    /** Dumps {@code p} and restores it with {@code restore -d -s}, once its {@code threads} threads are seen stopped. */
    private DetachedProcess dumpAndRestoreLeftStopped(DetachedProcess p, int threads) throws Exception {
        DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
        Cli r = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d", "-s");
        assertEquals(0, r.code(), r.toString());
        DetachedProcess restored = DetachedProcess.restored(p.pid(), p.output());
        try {
            Workloads.awaitStopped(p.pid(), threads);
        } catch (Exception | AssertionError e) {
            killAndReap(restored);
            throw e;
        }
        return restored;
    }

    /** criu restore --leave-stopped: the tree comes back with every thread stopped; SIGCONT starts it. */
    @Test
    void leaveStoppedRestoresTheTreeStoppedAndSigcontStartsIt() throws Exception {
        try (DetachedProcess p = Workloads.threads(tmp)) {
            DetachedProcess restored = dumpAndRestoreLeftStopped(p, 5);
            try {
                Sys.kill(p.pid(), Signals.SIGCONT);
                assertTrue(Workloads.check(restored).contains("PASS"), restored.outputText());
            } finally {
                killAndReap(restored);
            }
        }
    }

    /**
     * A signal sent to a restored tree before it runs an instruction (here while it is left stopped,
     * the widest form of the moment right after {@code restore -d} returns) interrupts the syscall the
     * dump interrupted, as it would have: pause() returns EINTR after the handler. The restore used to
     * rewind pause() by hand, so the handler ran and pause() went on waiting: the check was lost.
     */
    @Test
    void aSignalSentBeforeTheRestoredTreeRunsInterruptsItsPause() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("pause.out"), "pauseloop")) {
            DetachedProcess restored = dumpAndRestoreLeftStopped(p, 1);
            try {
                Sys.kill(p.pid(), Signals.SIGUSR2); // pending in the stopped task
                Sys.kill(p.pid(), Signals.SIGCONT);
                try {
                    restored.awaitOutput("PASS", Duration.ofSeconds(30));
                } catch (AssertionError e) {
                    throw new AssertionError(e.getMessage() + " (" + Workloads.whereIs(p.pid().value()) + ")", e);
                }
            } finally {
                killAndReap(restored);
            }
        }
    }

    /**
     * DMTCP's sysv-sem found it: semop, epoll_wait and sigwaitinfo fail with EINTR when their thread
     * is merely stopped (signal(7)), and the seize is such a stop, so the program saw EINTR after a
     * dump that left it running and after a restore (sysv-sem's client exited). They wait on now.
     */
    @Test
    void waitsAStopWouldFailWithEintrGoOnWaitingAfterADumpLeftThemRunningAndAfterARestore() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("eintrwait.out"), "eintrwait")) {
            Cli left = Cli.run("dump", "-R", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("left").toString(),
                    "--no-progress");
            assertEquals(0, left.code(), left.toString());
            assertPassOnce(checkAndReap(dumpAndRestore(p, tmp.resolve("img"))));
        }
    }

    /** DMTCP's sysv-sem found it: the kill applied the tasks' SEM_UNDO adjustments to the host's semaphores. */
    @Test
    void theHostsSemaphoresKeepTheValuesTheTreeLeftThoughTheKillUndidItsSemUndoOperations() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "semundo"));
    }

    /**
     * zdtmf42's sem_undo: a task's SEM_UNDO adjustments were dropped, so after a restore (or a dump that
     * left it running, which reads them by applying them) its exit no longer gave back what it took.
     */
    @Test
    void aTaskStillGivesBackWhatItTookWithSemUndoWhenItExitsAfterADumpAndARestore() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("semundoexit.out"), "semundoexit")) {
            Cli left = Cli.run("dump", "-R", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("left").toString(),
                    "--no-progress");
            assertEquals(0, left.code(), left.toString());
            String shown = Cli.run("show", tmp.resolve("left").toString()).out();
            assertTrue(java.util.regex.Pattern.compile("\"adjustment\"\\s*:\\s*2\\b").matcher(shown).find(),
                    "the image holds the child's adjustment:\n" + shown);
            assertPassOnce(checkAndReap(dumpAndRestore(p, tmp.resolve("img"))));
        }
    }

    /**
     * The threads of a process share its SEM_UNDO list (glibc's pthread_create passes CLONE_SYSVSEM; a
     * JVM has one), and its adjustments were not carried: a restored child of three threads, killed, gave
     * back nothing of the 2 and the lock they took. The dump reads the list without changing the task:
     * -R leaves the original's exit to give them back, and the restored one's does too; also a post of 2
     * another process took since (the restore once added the -2 first, which could not go below 0: dropped).
     */
    @Test
    void aProcessOfSeveralThreadsStillGivesBackWhatTheyTookWithSemUndoAfterADumpLeftItRunningAndAfterARestore()
            throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("left.out"), "semundothreads")) {
            Cli left = Cli.run("dump", "-R", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("left").toString(),
                    "--no-progress");
            assertEquals(0, left.code(), left.toString());
            String shown = Cli.run("show", tmp.resolve("left").toString()).out();
            assertEquals(List.of("1", "1", "-2"), java.util.regex.Pattern.compile("\"adjustment\"\\s*:\\s*(-?\\d+)")
                    .matcher(shown).results().map(m -> m.group(1)).toList(), "the image holds the child's adjustments:\n" + shown);
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
        try (DetachedProcess p = Workloads.program(tmp.resolve("semundothreads.out"), "semundothreads")) {
            DetachedProcess r = dumpAndRestore(p, tmp.resolve("img"));
            try { // the restored child's threads share one list, as the dumped ones did
                long child = ProcessHandle.of(r.pid().value()).orElseThrow().children().findFirst().orElseThrow().pid();
                List<Integer> tids;
                try (var dir = Files.list(Path.of("/proc/" + child + "/task"))) {
                    tids = dir.map(d -> Integer.parseInt(d.getFileName().toString())).toList();
                }
                assertEquals(3, tids.size(), "threads of the restored child: " + tids);
                for (int tid : tids) {
                    assertTrue(Sys.shareResource(Pid.of((int) child), Pid.of(tid), Sys.KCMP_SYSVSEM),
                            "restored thread " + tid + " does not share its process's SEM_UNDO list");
                }
            } catch (Throwable t) {
                killAndReap(r);
                throw t;
            }
            assertPassOnce(checkAndReap(r));
        }
    }

    private static String status(int pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/status"));
        } catch (Exception e) {
            return "";
        }
    }

    /**
     * One image restored twice: the file its tree appends to (O_APPEND, as Redis's append-only log)
     * grew by what the first restored tree wrote, which the second one's memory lacks (Redis restored
     * again answered n=2 while its log, replayed at a restart, gave 3). The second restore names it.
     */
    @Test
    void aSecondRestoreNamesTheFileTheFirstRestoredTreeAppendedTo() throws Exception {
        Path journal = tmp.resolve("journal");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("appender.out"), "python3", "-c",
                "import sys, time\nf = open(sys.argv[1], 'a', buffering=1)\nprint('ready', flush=True)\ni = 0\n"
                        + "while True:\n    f.write('%d\\n' % i)\n    i += 1\n    time.sleep(0.05)\n", journal.toString()))) {
            Path img = tmp.resolve("img");
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), img);
            long atDump = Files.size(journal);
            DetachedProcess first = dumped.restoreDetached(p.output());
            DetachedProcess.awaitCondition(() -> journal.toFile().length() > atDump, Duration.ofSeconds(30),
                    "the restored tree to append");
            killAndReap(first);

            Path log = tmp.resolve("again.log");
            Cli again = Cli.run("-o", log.toString(), "restore", "-D", img.toString(), "-d", "--no-progress");
            try {
                assertEquals(0, again.code(), again.toString());
                String warned = Files.readString(log);
                assertTrue(warned.matches("(?s).*files open for appending grew since the dump, by the tree an earlier"
                        + " restore of this image made or by others: pid " + p.pid() + " fd \\d+: "
                        + java.util.regex.Pattern.quote(journal.toString()) + " grew by \\d+ bytes.*"), warned);
            } finally {
                killAndReap(DetachedProcess.restored(p.pid(), p.output()));
            }
        }
    }

    @Test
    void aRestoredProcessCanBeDumpedAndRestoredAgain() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            DetachedProcess once = dumpAndRestore(p, tmp.resolve("img1"));
            Thread.sleep(200);
            // the restored root is our child: after the second dump kills it, we reap it
            // the dump's tracer thread reaps it (we are both its parent and, then, its tracer)
            DetachedProcess twice = DumpRestore.dump(once.pid().value(), tmp.resolve("img2")).restoreDetached(p.output());
            Thread.sleep(200);
            assertPassOnce(checkAndReap(twice));
        }
    }

    /**
     * A daemon that forked, called setsid and forked again (its session's and group's leader
     * exited) comes back in that same session and group, still without a leader, not in cryo's:
     * a helper takes the dead leader's pid for an instant to make them.
     */
    @Test
    void aDaemonWhoseSessionLeaderExitedKeepsItsSessionAndGroup() throws Exception {
        int pid = pythonDaemon("pass", "while True: time.sleep(0.05)");
        var st = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(pid));
        int sid = st.session();
        DetachedProcess.awaitCondition(() -> !Sys.exists(Pid.of(sid)), Duration.ofSeconds(10), "the leader to be reaped");
        assertTrue(sid != pid && st.pgrp() == sid, "a daemon in a dead leader's session: " + st);
        // the comparator holds the restored session and group to the dumped ones
        DetachedProcess r = DumpRestore.dump(pid, tmp.resolve("img")).restoreDetached(tmp.resolve("daemon.out"));
        try {
            var after = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(pid));
            assertEquals(sid, after.session());
            assertEquals(sid, after.pgrp());
            assertFalse(Sys.exists(Pid.of(sid)), "the helper that made the session is still there");
        } finally {
            killAndReap(r);
        }
    }

    /**
     * A job whose session leader outside the tree (a python parent here, a shell in life) is still
     * there at the restore: no process can be forked into that session from outside it, so the tree
     * joins the restorer's session and group, as with --shell-job, and the restore now says so
     * naming that leader (silently before). Once the leader has exited, a helper with its pid makes
     * the session again (the daemon tests above; DumpRestore waits for such a parent to exit).
     */
    @Test
    void aJobWhoseSessionLeaderIsStillThereJoinsTheRestorersSessionSayingSo() throws Exception {
        Path out = tmp.resolve("counter.out");
        try (DetachedProcess leader = DetachedProcess.start(out, "/usr/bin/python3", "-c", "import signal, subprocess, sys, time\n"
                + "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\nsubprocess.Popen(sys.argv[1:])\ntime.sleep(600)",
                TestPrograms.compile("/c/counter.c").toString(), tmp.resolve("counter.txt").toString())) {
            leader.awaitOutput("ready", Duration.ofSeconds(60));
            int job = NamespaceTest.initUnder(leader.pid().value());
            int sid = leader.pid().value();
            assertEquals(sid, dev.cryo.kernel.proc.ProcFs.stat(Pid.of(job)).session());
            Path log = tmp.resolve("restore.log");
            // --shell-job: the comparator expects the restorer's session and group
            DetachedProcess r = DumpRestore.dump(job, tmp.resolve("img"), "--shell-job")
                    .restoreDetached(List.of("-o", log.toString()), out);
            try {
                String warned = Files.readString(log);
                assertTrue(warned.contains("pid " + job + " was in session " + sid + ", led by pid " + sid
                        + " outside the tree, which is still there ('python3', state "), warned);
                assertEquals(dev.cryo.kernel.proc.ProcFs.stat(Pid.of((int) ProcessHandle.current().pid())).session(),
                        dev.cryo.kernel.proc.ProcFs.stat(Pid.of(job)).session());
                assertPassOnce(checkAndReap(r));
            } finally {
                killAndReap(r);
            }
        }
    }

    /**
     * A daemon that listened on a unix socket in the session `setsid` made, then forked away from
     * it (gpg-agent started by `setsid gpg-agent --daemon`): the listener's peer credentials name
     * the dead leader, whose pid the restored session holds. Its stand-in could not take that pid,
     * so the restore failed after the killing dump ("pid N is in use"): the daemon was lost. The
     * helper that makes the session is that stand-in now, and leaves before the tree runs.
     */
    @Test
    void aDaemonThatListenedBeforeLeavingItsSessionComesBackWithTheDeadLeaderAsItsListenersPeer() throws Exception {
        Path sock = tmp.resolve("d.sock");
        int pid = pythonDaemon("s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[2]); s.listen(8)",
                "while True:\n    c, _ = s.accept(); c.sendall(b'served by %d' % os.getpid()); c.close()", sock.toString());
        int sid = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(pid)).session();
        DetachedProcess.awaitCondition(() -> !Sys.exists(Pid.of(sid)), Duration.ofSeconds(10), "the leader to be reaped");
        assertEquals(sid + " served by " + pid, peerAndReply(sock), "the listener names the leader that made it");
        // the comparator holds the restored listener's peer credentials to the dumped ones
        DetachedProcess r = DumpRestore.dump(pid, tmp.resolve("img")).restoreDetached(tmp.resolve("daemon.out"));
        try {
            assertEquals(sid, dev.cryo.kernel.proc.ProcFs.stat(Pid.of(pid)).session());
            assertFalse(Sys.exists(Pid.of(sid)), "the helper that made the session is still there");
            assertEquals(sid + " served by " + pid, peerAndReply(sock), "a new client, after the restore");
        } finally {
            killAndReap(r);
        }
    }

    /**
     * A python daemon: forks, calls setsid, runs {@code inSession} (argv[2...]: {@code args}), forks
     * again (the session's leader exits) and runs {@code loop}; its pid once it has written it.
     */
    private int pythonDaemon(String inSession, String loop, String... args) throws Exception {
        Path pidFile = tmp.resolve("daemon.pid");
        List<String> cmd = new java.util.ArrayList<>(List.of("/usr/bin/python3", "-c", String.join("\n",
                "import os, socket, sys, time",
                "if os.fork() > 0: os._exit(0)",
                "os.setsid()",
                inSession,
                "if os.fork() > 0: os._exit(0)",
                "open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid())); os.rename(sys.argv[1] + '.tmp', sys.argv[1])",
                loop), pidFile.toString()));
        cmd.addAll(List.of(args));
        Process start = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectErrorStream(true).start();
        assertEquals(0, start.waitFor());
        DetachedProcess.awaitCondition(() -> Files.exists(pidFile), Duration.ofSeconds(10), "the daemon's pid file");
        return Integer.parseInt(Files.readString(pidFile).strip());
    }

    /** A client of unix socket {@code sock}: the server's SO_PEERCRED pid and what it sends. */
    private static String peerAndReply(Path sock) throws Exception {
        Process c = new ProcessBuilder("/usr/bin/python3", "-c", String.join("\n",
                "import socket, struct, sys",
                "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])",
                "pid = struct.unpack('3i', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]",
                "print(pid, s.recv(100).decode())"), sock.toString()).redirectErrorStream(true).start();
        String out = new String(c.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
        assertEquals(0, c.waitFor(), out);
        return out;
    }
}
