package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The comparator itself: it sees a change of state and ignores what only moves. */
class StateComparatorTest {
    @TempDir
    Path tmp;

    @Test
    void aChangeOfNiceOrOfAnFdIsADifferenceAndTimePassingIsNot() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("sleep.out"), "/bin/sleep", "600")) {
            DetachedProcess.awaitCondition(() -> p.state() == 'S', java.time.Duration.ofSeconds(10), "sleep");
            int pid = p.pid().value();
            StateComparator.Snapshot a = StateComparator.take(pid);
            Thread.sleep(50);
            assertEquals(java.util.List.of(), StateComparator.diff(a, StateComparator.take(pid), java.util.List.of()));

            String nice = a.scopes().get("pid " + pid + " tid " + pid).get("stat nice"); // the build's own niceness
            String other = nice.equals("5") ? "6" : "5";
            assertEquals(0, new ProcessBuilder("renice", "-n", other, "-p", Integer.toString(pid)).start().waitFor());
            String diffs = String.join("\n", StateComparator.diff(a, StateComparator.take(pid), java.util.List.of()));
            assertTrue(diffs.contains("stat nice: dumped '" + nice + "', restored '" + other + "'"), diffs);

            AssertionError e = assertThrows(AssertionError.class,
                    () -> StateComparator.assertSame(a, StateComparator.take(pid)));
            assertTrue(e.getMessage().contains("pid " + pid + " tid " + pid + ": stat nice"), e.getMessage());
        }
    }

    /**
     * An ipc namespace's POSIX queue limits and SysV next ids are compared (a restore that left them
     * at a new namespace's defaults was silently wrong: zdtm ipc_namespace): before, a change of
     * either was no difference.
     */
    @Test
    void anIpcNamespacesQueueLimitsAndNextIdsAreCompared() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("unshare.out"), "/usr/bin/unshare", "--ipc",
                "--fork", "/bin/sleep", "600")) {
            int pid = p.pid().value();
            Path children = Path.of("/proc/" + pid + "/task/" + pid + "/children");
            DetachedProcess.awaitCondition(() -> !StateComparatorTest.read(children).isBlank(),
                    java.time.Duration.ofSeconds(10), "unshare's child");
            String child = StateComparatorTest.read(children).strip();
            StateComparator.Snapshot a = StateComparator.take(pid);
            assertEquals(0, new ProcessBuilder("nsenter", "--ipc=/proc/" + child + "/ns/ipc", "sh", "-c",
                    "echo 77 > /proc/sys/fs/mqueue/queues_max && echo 4242 > /proc/sys/kernel/msg_next_id")
                    .inheritIO().start().waitFor());
            String diffs = String.join("\n", StateComparator.diff(a, StateComparator.take(pid), java.util.List.of()));
            assertTrue(diffs.contains("ipc objects") && diffs.contains("queues_max 77") && diffs.contains("msg_next_id 4242"),
                    diffs);
        }
    }

    private static String read(Path p) {
        try {
            return java.nio.file.Files.readString(p);
        } catch (java.io.IOException e) {
            return "";
        }
    }

    /**
     * What only a syscall on the fd shows is compared too: a pipe's capacity and an fd's SIGIO signal,
     * changed here on a copy of the task's fd (the copy shares the task's open file).
     */
    @Test
    void aPipesCapacityAndAnFdsSignalSetBySyscallsAreDifferences() throws Exception {
        Process p = new ProcessBuilder("sleep", "600").start(); // fds 0, 1 and 2 are pipes to this JVM
        try {
            int pid = (int) p.pid();
            // in its sleep (nanosleep or clock_nanosleep): done loading, its mappings as they stay
            DetachedProcess.awaitCondition(() -> java.util.Set.of("35", "230").contains(sysCall(pid)),
                    java.time.Duration.ofSeconds(30), "sleep to be in its sleep");
            StateComparator.Snapshot a = StateComparator.take(pid);
            assertEquals(java.util.List.of(), StateComparator.diff(a, StateComparator.take(pid), java.util.List.of()));
            String size = a.scopes().get("pid " + pid).get("fd 0 F_GETPIPE_SZ");
            assertNotNull(size, a.toString());
            try (dev.cryo.kernel.Fd pidfd = dev.cryo.kernel.Sys.pidfdOpen(dev.cryo.kernel.Pid.of(pid));
                 dev.cryo.kernel.Fd f0 = dev.cryo.kernel.Sys.pidfdGetfd(pidfd, dev.cryo.kernel.Pid.of(pid), 0);
                 dev.cryo.kernel.Fd f1 = dev.cryo.kernel.Sys.pidfdGetfd(pidfd, dev.cryo.kernel.Pid.of(pid), 1)) {
                dev.cryo.kernel.Sys.call(() -> "fcntl(F_SETPIPE_SZ)", dev.cryo.kernel.SyscallNr.FCNTL, f0.value(),
                        dev.cryo.kernel.Fcntl.F_SETPIPE_SZ, 2 * Integer.parseInt(size), 0);
                dev.cryo.kernel.Sys.call(() -> "fcntl(F_SETSIG)", dev.cryo.kernel.SyscallNr.FCNTL, f1.value(),
                        dev.cryo.kernel.Fcntl.F_SETSIG, 10, 0);
            }
            String diffs = String.join("\n", StateComparator.diff(a, StateComparator.take(pid), java.util.List.of()));
            assertTrue(diffs.contains("fd 0 F_GETPIPE_SZ: dumped '" + size + "', restored '" + 2 * Integer.parseInt(size) + "'"), diffs);
            assertTrue(diffs.contains("fd 1 F_GETSIG: dumped (absent), restored '10'"), diffs);
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    /**
     * What only the task's own syscalls show (TaskProbe, read by seizing it for a moment): a signal
     * handler, an alternate signal stack, the parent-death signal and the child-subreaper flag set
     * after a first reading are differences; two readings of a task left alone are not, and the task
     * is not traced after them.
     */
    @Test
    void handlersAlternateStacksAndPrctlSwitchesAreDifferences() throws Exception {
        Path out = tmp.resolve("probe.out");
        String py = "import ctypes, faulthandler, signal, sys, time\n"
                + "def change(*a):\n    signal.signal(signal.SIGUSR2, lambda *b: None)\n    faulthandler.enable()\n"
                + "    libc = ctypes.CDLL(None)\n    libc.prctl(1, 15)\n    libc.prctl(36, 1)\n    print('changed', flush=True)\n"
                + "signal.signal(signal.SIGUSR1, change)\nprint('ready', flush=True)\nwhile True:\n    time.sleep(1)\n";
        try (DetachedProcess p = DetachedProcess.start(out, "python3", "-c", py)) {
            p.awaitOutput("ready", java.time.Duration.ofSeconds(30));
            int pid = p.pid().value();
            java.util.Map<String, java.util.Map<String, String>> a = TaskProbe.read(pid);
            assertEquals("0", a.get("pid " + pid).get("probe prctl CHILD_SUBREAPER"), a.toString());
            StateComparator.Snapshot empty = new StateComparator.Snapshot(pid, new java.util.LinkedHashMap<>(
                    java.util.Map.of("pid " + pid, new java.util.TreeMap<>(), "pid " + pid + " tid " + pid, new java.util.TreeMap<>())));
            java.util.Map<String, java.util.Map<String, String>> again = TaskProbe.read(pid);
            assertEquals(java.util.List.of(), StateComparator.diff(TaskProbe.with(empty, a, again),
                    TaskProbe.with(empty, again, a), java.util.List.of()));
            assertTrue(java.nio.file.Files.readString(Path.of("/proc/" + pid + "/status")).contains("TracerPid:\t0\n"));
            dev.cryo.kernel.Sys.kill(p.pid(), 10);
            p.awaitOutput("changed", java.time.Duration.ofSeconds(30));
            java.util.Map<String, java.util.Map<String, String>> b = TaskProbe.read(pid);
            String diffs = String.join("\n", StateComparator.diff(TaskProbe.with(empty, a, b), TaskProbe.with(empty, b, a),
                    java.util.List.of()));
            for (String item : new String[] {"probe sigaction 12: dumped (absent)", "probe sigaltstack: dumped 'disabled'",
                    "probe prctl PDEATHSIG: dumped '0', restored '15'", "probe prctl CHILD_SUBREAPER: dumped '0', restored '1'"}) {
                assertTrue(diffs.contains(item), item + " in:\n" + diffs);
            }
        }
    }

    /**
     * A thread with no room below its stack pointer (tinystack.c: a 1 KiB stack above an inaccessible page, as a
     * goroutine's small stack has memory of others below it) is probed whole, keyrings too: the probe's answers go to
     * a page it maps in the process for the moment and unmaps, no longer below the thread's stack pointer, where it
     * wrote over memory other threads may use (a Go program's keyrings once read back as zeros there: Go's
     * scavenger). Before, that thread's keyrings were left out without a word.
     */
    @Test
    void aThreadWithNoRoomBelowItsStackIsProbedWholeThroughAPageOfTheProbesOwn() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("tiny.out"),
                dev.cryo.kernel.testing.TestPrograms.compile("/c/tinystack.c").toString())) {
            String tid = Workloads.readyFd(p);
            int pid = p.pid().value();
            Path maps = Path.of("/proc/" + pid + "/maps");
            String before = java.nio.file.Files.readString(maps);
            java.util.Map<String, String> thread = TaskProbe.read(pid).get("pid " + pid + " tid " + tid);
            assertNotNull(thread, "pid " + pid + " tid " + tid + " probed");
            assertEquals("probe getters ran", thread.get("probe getters ran"), thread.toString());
            assertTrue(thread.containsKey("probe keyring thread") && thread.containsKey("probe keyring session"),
                    thread.toString());
            assertEquals(before, java.nio.file.Files.readString(maps), "the probe's page is gone, nothing else changed");
        }
    }

    /**
     * A process that exec'd between the probe's look at its [vdso] and its seize (a shell loop's
     * child becoming its command) has another [vdso]: the probe injects at the new one, and the
     * process is left as it was (injecting at the old address got "keeps receiving signals
     * (SIGSEGV ...)" in ZombieTest's shell loop).
     */
    @Test
    void aProcessThatExecdSinceItsVdsoWasFoundIsProbedThroughItsNewOne() throws Exception {
        Path out = tmp.resolve("exec.out");
        Path go = tmp.resolve("go");
        try (DetachedProcess p = DetachedProcess.start(out, "sh", "-c",
                "echo ready; while [ ! -e " + go + " ]; do sleep 0.05; done; exec sleep 60")) {
            p.awaitOutput("ready", java.time.Duration.ofSeconds(30));
            int pid = p.pid().value();
            long before = dev.cryo.kernel.ptrace.SyscallGadget.inVdso(p.pid());
            java.nio.file.Files.createFile(go);
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!java.nio.file.Files.readString(Path.of("/proc/" + pid + "/comm")).trim().equals("sleep")
                    || !java.nio.file.Files.readString(Path.of("/proc/" + pid + "/stat")).contains(") S ")) {
                assertTrue(System.nanoTime() < deadline, "the shell did not become sleep");
                Thread.sleep(20);
            }
            assertNotEquals(before, dev.cryo.kernel.ptrace.SyscallGadget.inVdso(p.pid()), "exec moved the [vdso] (ASLR)");
            java.util.Map<String, String> items = TaskProbe.readThread(pid, pid, before);
            assertEquals("probe getters ran", items.get("probe getters ran"), items.toString());
            p.awaitSleeping(); // the probe let it go: runnable until it is back in its wait
            String status = java.nio.file.Files.readString(Path.of("/proc/" + pid + "/status"));
            assertTrue(status.contains("TracerPid:\t0\n"), status);
        }
    }

    /**
     * A handler the program swapped for another between the probe and the freeze (vsftpd's SIGALRM)
     * is not a difference when the restored one is the image's, read at the freeze; against an image
     * taken before the swap, it still is.
     */
    @Test
    void aHandlerSwappedBeforeTheFreezeIsNotADifferenceWhenRestoredAsTheImageHasIt() throws Exception {
        Path out = tmp.resolve("swap.out");
        try (DetachedProcess p = DetachedProcess.start(out,
                dev.cryo.kernel.testing.TestPrograms.compile("/c/swaphandler.c").toString())) {
            p.awaitOutput("ready", java.time.Duration.ofSeconds(30));
            int pid = p.pid().value();
            Path before = tmp.resolve("before"), after = tmp.resolve("after");
            java.util.Map<String, java.util.Map<String, String>> a = TaskProbe.read(pid);
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", before.toString(), "--no-progress", "-R").code());
            dev.cryo.kernel.Sys.kill(p.pid(), 10);
            p.awaitOutput("swapped 1", java.time.Duration.ofSeconds(30));
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", after.toString(), "--no-progress", "-R").code());
            java.util.Map<String, java.util.Map<String, String>> b = TaskProbe.read(pid);
            StateComparator.Snapshot empty = new StateComparator.Snapshot(pid, new java.util.LinkedHashMap<>(
                    java.util.Map.of("pid " + pid, new java.util.TreeMap<>(), "pid " + pid + " tid " + pid, new java.util.TreeMap<>())));
            java.util.List<String> diffs = StateComparator.diff(TaskProbe.with(empty, a, b), TaskProbe.with(empty, b, a),
                    java.util.List.of());
            assertEquals(1, diffs.size(), diffs.toString());
            assertTrue(diffs.get(0).contains("probe sigaction 1: "), diffs.toString());
            assertEquals(java.util.List.of(), StateComparator.diff(TaskProbe.with(empty, a, b), TaskProbe.with(empty, b, a),
                    java.util.List.of(TaskProbe.actionsAsFrozen(after))));
            assertEquals(diffs, StateComparator.diff(TaskProbe.with(empty, a, b), TaskProbe.with(empty, b, a),
                    java.util.List.of(TaskProbe.actionsAsFrozen(before))));
        }
    }

    /**
     * A probe read while the tree ran, of a process whose caught signals are not those its
     * snapshot at the freeze shows (a worker still installing its handlers), is stale: left out on
     * both sides, not called a difference; one that agrees with its snapshot is compared.
     */
    @Test
    void aProbeOfAProcessThatChangedItsHandlersBeforeTheFreezeIsLeftOut() {
        java.util.function.Function<String, StateComparator.Snapshot> at = caught -> new StateComparator.Snapshot(7,
                java.util.Map.of("pid 7", java.util.Map.of(), "pid 7 tid 7",
                        java.util.Map.of("status SigCgt", caught, "status SigIgn", "0000000000000000")));
        java.util.Map<String, java.util.Map<String, String>> early = java.util.Map.of("pid 7", java.util.Map.of(
                "probe getters ran", "probe getters ran", "probe sigaction 15", "handler 1000 flags c000000"));
        java.util.Map<String, java.util.Map<String, String>> late = java.util.Map.of("pid 7", java.util.Map.of(
                "probe getters ran", "probe getters ran", "probe sigaction 15", "handler 1000 flags 1c000000",
                "probe sigaction 10", "handler 1000 flags 1c000000"));
        StateComparator.Snapshot frozen = at.apply("0000000000004200"); // 10 and 15 caught at both freezes
        assertEquals(java.util.List.of(), StateComparator.diff(TaskProbe.with(frozen, early, frozen, late),
                TaskProbe.with(frozen, late, frozen, early), java.util.List.of()));
        StateComparator.Snapshot onlyTerm = at.apply("0000000000004000");
        java.util.Map<String, java.util.Map<String, String>> lateLost = java.util.Map.of("pid 7", java.util.Map.of(
                "probe getters ran", "probe getters ran", "probe sigaction 15", "handler 1000 flags 1c000000"));
        assertEquals(1, StateComparator.diff(TaskProbe.with(onlyTerm, early, onlyTerm, lateLost),
                TaskProbe.with(onlyTerm, lateLost, onlyTerm, early), java.util.List.of()).size(),
                "flags lost by a settled process are a difference");
        // read right after its exec: the loader had mapped no libc yet, nor set the thread pointer
        StateComparator.Snapshot withLibc = new StateComparator.Snapshot(7, java.util.Map.of("pid 7", java.util.Map.of(
                "maps 7f00-7f10", "r-xp 00000000 08:01 12 /usr/lib/x86_64-linux-gnu/libc.so.6",
                "maps 7f20-7f30", "r-xp 00000000 08:01 13 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
                "pid 7 tid 7", java.util.Map.of()));
        java.util.Map<String, java.util.Map<String, String>> beforeLoader = java.util.Map.of("pid 7", java.util.Map.of(
                "probe getters ran", "probe getters ran", "probe libraries mapped",
                "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), "pid 7 tid 7", java.util.Map.of("probe fs_base", "0"));
        java.util.Map<String, java.util.Map<String, String>> loaded = java.util.Map.of("pid 7", java.util.Map.of(
                "probe getters ran", "probe getters ran", "probe libraries mapped",
                "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /usr/lib/x86_64-linux-gnu/libc.so.6"),
                "pid 7 tid 7", java.util.Map.of("probe fs_base", "7f6d9d1c3740"));
        assertEquals(java.util.List.of(), StateComparator.diff(TaskProbe.with(withLibc, beforeLoader, withLibc, loaded),
                TaskProbe.with(withLibc, loaded, withLibc, beforeLoader), java.util.List.of()));
        java.util.Map<String, java.util.Map<String, String>> lostPointer = java.util.Map.of("pid 7", loaded.get("pid 7"),
                "pid 7 tid 7", java.util.Map.of("probe fs_base", "0"));
        assertEquals(1, StateComparator.diff(TaskProbe.with(withLibc, loaded, withLibc, lostPointer),
                TaskProbe.with(withLibc, lostPointer, withLibc, loaded), java.util.List.of()).size(),
                "a thread pointer lost by a settled process is a difference");
        // libc mapped but no thread pointer nor rseq yet when probed at the dump: it set them up as it ran on
        java.util.Map<String, java.util.Map<String, String>> noTls = java.util.Map.of("pid 7", loaded.get("pid 7"),
                "pid 7 tid 7", java.util.Map.of("probe fs_base", "0", "probe rseq", "none"));
        java.util.Map<String, java.util.Map<String, String>> withTls = java.util.Map.of("pid 7", loaded.get("pid 7"),
                "pid 7 tid 7", java.util.Map.of("probe fs_base", "7f6d9d1c3740", "probe rseq", "7f6d9d1c4060 size 32 sig 53053053"));
        assertEquals(java.util.List.of(), StateComparator.diff(TaskProbe.with(withLibc, noTls, withLibc, withTls),
                TaskProbe.with(withLibc, withTls, withLibc, noTls), java.util.List.of()));
        assertEquals(2, StateComparator.diff(TaskProbe.with(withLibc, withTls, withLibc, noTls),
                TaskProbe.with(withLibc, noTls, withLibc, withTls), java.util.List.of()).size(),
                "a thread pointer and rseq lost by the restore are differences");
        // a thread caught between its clone and libc's rseq registration, as its sibling had done: it ran on to it
        String rseq = "7f6d9d1c4060 size 32 sig 53053053", newRseq = "7f6d9c1c3fe0 size 32 sig 53053053";
        StateComparator.Snapshot starting = new StateComparator.Snapshot(7, java.util.Map.of(
                "pid 7 tid 7", java.util.Map.of("probe rseq", rseq), "pid 7 tid 8", java.util.Map.of("probe rseq", "none")));
        StateComparator.Snapshot started = new StateComparator.Snapshot(7, java.util.Map.of(
                "pid 7 tid 7", java.util.Map.of("probe rseq", rseq), "pid 7 tid 8", java.util.Map.of("probe rseq", newRseq)));
        assertEquals(java.util.List.of(), StateComparator.diff(starting, started, java.util.List.of()));
        StateComparator.Snapshot alone = new StateComparator.Snapshot(7, java.util.Map.of(
                "pid 7 tid 7", java.util.Map.of("probe rseq", "none"), "pid 7 tid 8", java.util.Map.of("probe rseq", "none")));
        StateComparator.Snapshot bothRegistered = new StateComparator.Snapshot(7, java.util.Map.of(
                "pid 7 tid 7", java.util.Map.of("probe rseq", rseq), "pid 7 tid 8", java.util.Map.of("probe rseq", newRseq)));
        assertEquals(2, StateComparator.diff(alone, bothRegistered, java.util.List.of()).size(),
                "rseq registered where no thread of the process had it is a difference");
        assertEquals(1, StateComparator.diff(started, starting, java.util.List.of()).size(),
                "an rseq registration lost by the restore is a difference");
    }

    private static String sysCall(int pid) {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/syscall")).split(" ", 2)[0].strip();
        } catch (java.io.IOException e) {
            return "";
        }
    }

    @Test
    void onlyTheSignalsOfTheTasksTimersMayBecomePendingOnTheWay() {
        String timers = "ID: 0\nsignal: 10/0000000000000000\nnotify: signal/pid.12\nClockID: 1\n"
                + "ID: 1\nsignal: 35/00000000deadbeef\nnotify: thread/tid.13\nClockID: 0\n";
        long mask = StateComparator.timerSignals(timers);
        assertEquals((1L << 9) | (1L << 34) | (1L << 13) | (1L << 25) | (1L << 26), mask);
        StateComparator.Snapshot dumped = new StateComparator.Snapshot(1, java.util.Map.of("pid 1", java.util.Map.of(
                "status ShdPnd", "0000000000000000", "timer signals-may-advance", Long.toHexString(mask))));
        StateComparator.Snapshot firedSigusr1 = new StateComparator.Snapshot(1, java.util.Map.of("pid 1", java.util.Map.of(
                "status ShdPnd", "0000000000000200", "timer signals-may-advance", Long.toHexString(mask))));
        StateComparator.Snapshot gotSigterm = new StateComparator.Snapshot(1, java.util.Map.of("pid 1", java.util.Map.of(
                "status ShdPnd", "0000000000004000", "timer signals-may-advance", Long.toHexString(mask))));
        assertTrue(StateComparator.diff(dumped, firedSigusr1, java.util.List.of()).isEmpty());
        assertEquals(1, StateComparator.diff(dumped, gotSigterm, java.util.List.of()).size());
        StateComparator.Snapshot threadFired = new StateComparator.Snapshot(1, java.util.Map.of("pid 1", java.util.Map.of(
                "status SigPnd", "0000000000000200", "timer signals-may-advance", Long.toHexString(mask))));
        StateComparator.Snapshot threadNone = new StateComparator.Snapshot(1, java.util.Map.of("pid 1", java.util.Map.of(
                "status SigPnd", "0000000000000000", "timer signals-may-advance", Long.toHexString(mask))));
        assertEquals(1, StateComparator.diff(threadFired, threadNone, java.util.List.of()).size(), "a lost signal is a difference");
    }
}
