package dev.cryo.it;

import dev.cryo.api.TreeObservers;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The one dump → restore path of the tests. Every test that dumps a tree and restores it goes
 * through here, so the {@link StateComparator} holds every workload of the suite to the rule
 * that a restored task is the task that was dumped. The tree's /proc state is snapshotted at the
 * two moments it stands still with exactly the image's state (through {@link TreeObservers}):
 * when the dump has stopped every task and before it reads anything, and when the restore has
 * given every task its state and before it releases them. Workloads that churn memory or write
 * files every few milliseconds are thus compared without a race.
 */
final class DumpRestore {
    private final int pid;
    private final Path img;
    private final StateComparator.Snapshot before;
    private final List<StateComparator.Known> known = new ArrayList<>();
    private Cli dumpRun;
    private Cli restoreRun;
    /** What only the tree's own syscalls show, read right before the dump (TaskProbe). */
    private Map<String, Map<String, String>> probed = Map.of();
    private Seen armed;

    private DumpRestore(int pid, Path img, StateComparator.Snapshot before, List<StateComparator.Known> known) {
        this.pid = pid;
        this.img = img;
        this.before = before;
        this.known.addAll(known);
    }

    /** Dumps the tree of {@code p} (killing it), restores it detached, compares, and returns the restored root. */
    static DetachedProcess dumpAndRestore(DetachedProcess p, Path img, String... dumpOptions) throws Exception {
        return dump(p.pid().value(), img, dumpOptions).restoreDetached(p.output());
    }

    /**
     * The frame of the C workloads' tests: starts {@code c/NAME.c} with {@code args} (output in
     * {@code dir/NAME.out}), dumps and restores it into {@code dir/img} with the comparison, sends the
     * check signal and returns the restored workload's verdict once it has exited.
     */
    static String workloadVerdict(Path dir, String name, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(TestPrograms.compile("/c/" + name + ".c").toString()));
        command.addAll(List.of(args));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(dir.resolve(name + ".out"),
                command.toArray(String[]::new)))) {
            return RestoreTest.checkAndReap(dumpAndRestore(p, dir.resolve("img")));
        }
    }

    /** The verdict {@code out} says PASS, and "ready" once: the restored task went on, it did not start over. */
    static void assertPassedOnce(String out) {
        assertTrue(out.contains("PASS"), out);
        assertEquals(1, out.split("ready", -1).length - 1, "the restored process did not start over:\n" + out);
    }

    /**
     * Snapshots the tree of {@code pid}, dumps it with {@code cryo dump} (which kills it) and waits
     * until the pid is gone.
     */
    static DumpRestore dump(int pid, Path img, String... dumpOptions) throws Exception {
        return dump(List.of(), pid, img, dumpOptions);
    }

    /** As above, with cryo's options {@code global} before the command (-vv, --log-file FILE). */
    static DumpRestore dump(List<String> global, int pid, Path img, String... dumpOptions) throws Exception {
        Seen seen = new Seen(pid);
        List<String> args = new ArrayList<>(global);
        args.addAll(List.of("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress"));
        args.addAll(List.of(dumpOptions));
        Map<String, Map<String, String>> probed = TaskProbe.read(pid); // running: cryo does not trace it yet
        int leaderOutside = args.contains("--shell-job") ? 0 : parentLeading(pid);
        Cli dump;
        try (AutoCloseable o = TreeObservers.register(seen)) {
            dump = Cli.run(args.toArray(String[]::new));
        }
        assertEquals(0, dump.code(), dump.toString());
        NetworkLocksLeft.dumped(pid); // removed after the test if no restore lifts them
        StateComparator.Snapshot before = seen.get("the dump");
        DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10),
                "the dumped pid " + pid + " to be reaped");
        if (leaderOutside > 0) {
            // it ends after the tree it waited for (unshare --fork, sh -c): a restore that still found it would
            // rightly give the tree the restorer's session, as to a shell's job; on a quiet machine it is gone by then
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + leaderOutside)), Duration.ofSeconds(60),
                    "pid " + leaderOutside + ", the dumped root's parent outside the tree that leads its session or"
                    + " group, to exit after it");
        }
        List<StateComparator.Known> known = new ArrayList<>(args.contains("--shell-job") ? StateComparator.KNOWN_SHELL_JOB : List.of());
        if (args.contains("--tcp-close")) {
            known.addAll(StateComparator.KNOWN_TCP_CLOSE);
        }
        DumpRestore d = new DumpRestore(pid, img, before, known);
        d.dumpRun = dump;
        d.probed = probed;
        return d;
    }

    /** The parent of root {@code pid} when it leads the root's session or group (not this JVM), else 0. */
    private static int parentLeading(int pid) {
        try {
            var st = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(pid));
            boolean leads = st.session() == st.ppid() || st.pgrp() == st.ppid();
            return leads && st.ppid() > 1 && st.ppid() != ProcessHandle.current().pid() ? st.ppid() : 0;
        } catch (dev.cryo.kernel.KernelException gone) {
            return 0; // the dump says why
        }
    }

    /**
     * As {@link #dump}, with {@code --leave-running}: the tree runs on after the dump and the caller
     * kills it (the image is of the moment the tree was frozen, which the comparison takes).
     */
    static DumpRestore dumpLeavingRunning(int pid, Path img, String... dumpOptions) throws Exception {
        Seen seen = new Seen(pid);
        List<String> args = new ArrayList<>(List.of("dump", "-t", Integer.toString(pid), "-D", img.toString(),
                "--no-progress", "-R"));
        args.addAll(List.of(dumpOptions));
        Map<String, Map<String, String>> probed = TaskProbe.read(pid);
        Cli dump;
        try (AutoCloseable o = TreeObservers.register(seen)) {
            dump = Cli.run(args.toArray(String[]::new));
        }
        assertEquals(0, dump.code(), dump.toString());
        DumpRestore d = new DumpRestore(pid, img, seen.get("the dump"),
                args.contains("--tcp-close") ? StateComparator.KNOWN_TCP_CLOSE : List.of());
        d.dumpRun = dump;
        d.probed = probed;
        return d;
    }

    /**
     * For a shell job restored from its own terminal by cryo running in the foreground of the same
     * shell: its session, group and terminal are those it had, so the shell-job differences
     * ({@link StateComparator#KNOWN_SHELL_JOB}) must not show.
     */
    DumpRestore inItsOwnSession() {
        known.removeAll(StateComparator.KNOWN_SHELL_JOB);
        return this;
    }

    /**
     * For a restore run by another process (the CLI on a terminal): compares the restored tree as it
     * runs now, for a workload that sits still in a read.
     */
    void compareRunning() throws Exception {
        StateComparator.assertSame(before, StateComparator.take(pid), known);
    }

    /** A difference this test's restore cannot avoid (kept visible: named where it is used). */
    DumpRestore alsoKnown(StateComparator.Known k) {
        known.add(k);
        return this;
    }

    /** {@code cryo restore -d}, then the comparison; returns a view of the restored root writing to {@code output}. */
    DetachedProcess restoreDetached(Path output, String... restoreOptions) throws Exception {
        return restoreDetached(List.of(), output, restoreOptions);
    }

    /** As above, with cryo's options {@code global} before the command (-vv, --log-file FILE). */
    DetachedProcess restoreDetached(List<String> global, Path output, String... restoreOptions) throws Exception {
        Seen seen = new Seen(pid);
        Cli restore;
        try (AutoCloseable o = TreeObservers.register(seen)) {
            List<String> args = new java.util.ArrayList<>(global);
            args.addAll(List.of("restore", "-D", img.toString(), "-d"));
            args.addAll(List.of(restoreOptions));
            restore = Cli.run(args.toArray(String[]::new));
        }
        restoreRun = restore;
        assertEquals(0, restore.code(), restore.toString());
        assertTrue(restore.out().contains("root pid " + pid), restore.out());
        DetachedProcess restored = DetachedProcess.restored(Pid.of(pid), output);
        try {
            Map<String, Map<String, String>> probedNow = TaskProbe.read(pid); // released: it runs
            List<StateComparator.Known> rootDetached = new ArrayList<>(known);
            if (List.of(restoreOptions).contains("--tcp-close")) {
                rootDetached.addAll(StateComparator.KNOWN_TCP_CLOSE);
            }
            if (List.of(restoreOptions).contains("--lazy-pages")) {
                rootDetached.add(new StateComparator.Known("a lazy restore's areas are registered for missing pages"
                        + " (VmFlags um) while their pages come, as the tree is seen before it runs",
                        d -> d.item().endsWith(" VmFlags") && d.restored() != null
                                && d.restored().replace(" um", "").equals(d.dumped())));
            }
            rootDetached.add(new StateComparator.Known("a detached restore's root keeps no parent-death signal: its parent,"
                    + " the restorer, goes away (README, with a warning)", d -> d.scope().startsWith("pid " + pid + " tid ")
                    && d.item().equals("probe prctl PDEATHSIG") && "0".equals(d.restored())));
            rootDetached.add(TaskProbe.actionsAsFrozen(img));
            StateComparator.Snapshot atRestore = seen.get("the restore");
            StateComparator.assertSame(TaskProbe.with(before, probed, atRestore, probedNow),
                    TaskProbe.with(atRestore, probedNow, before, probed), rootDetached);
            assertUntraced();
        } catch (AssertionError | Exception e) {
            for (int p : StateComparator.tree(pid)) { // the whole restored tree, not only its root
                Workloads.killQuietly(p);
            }
            RestoreTest.killAndReap(restored);
            throw e;
        }
        return restored;
    }

    /**
     * Arms the comparison for a restore of this image that the caller runs in this JVM (e.g.
     * {@code cryo restore} without -d on another thread); {@link #compareRestored()} waits for it
     * and compares. Close the handle afterwards.
     */
    AutoCloseable armRestoreComparison() {
        armed = new Seen(pid);
        return TreeObservers.register(armed);
    }

    /**
     * After {@link #armRestoreComparison()}, while {@code restore} runs: compares what the restore
     * left with what was dumped (fails with the restore's output if it ends without restoring).
     */
    void compareRestored(java.util.concurrent.Future<Cli> restore) throws Exception {
        DetachedProcess.awaitCondition(() -> armed.seen() || restore.isDone(), Duration.ofSeconds(60),
                "the restore of pid " + pid + " to give every task its state");
        if (!armed.seen()) {
            fail("the restore ended before the state comparator saw the restored tree:\n" + restore.get());
        }
        StateComparator.assertSame(before, armed.get("the restore"), known);
    }

    /**
     * For tests that drive the restore steps themselves: compares the restored tree now, while
     * the caller holds every task stopped with all its state and before it releases them.
     */
    void compareFrozen() throws Exception {
        StateComparator.assertSame(before, StateComparator.takeFrozen(pid), known);
    }

    /** Once released, no thread of the restored tree is traced any more. */
    private void assertUntraced() throws Exception {
        for (int p : StateComparator.tree(pid)) {
            for (Path t : threadsOf(p)) {
                String status;
                try {
                    status = Files.readString(t.resolve("status"));
                } catch (java.nio.file.NoSuchFileException gone) {
                    continue; // a restored task that went on and exited: released, then
                } catch (java.io.IOException e) {
                    if (String.valueOf(e.getMessage()).contains("No such process")) {
                        continue; // a thread that exited between the listing and the read (ESRCH): released too
                    }
                    throw e;
                }
                assertTrue(status.contains("TracerPid:\t0\n"), "pid " + p + " thread " + t.getFileName()
                        + " is still traced after the restore:\n" + status);
            }
        }
    }

    private static List<Path> threadsOf(int p) throws java.io.IOException {
        try (var threads = Files.newDirectoryStream(Path.of("/proc/" + p + "/task"))) {
            List<Path> out = new ArrayList<>();
            threads.forEach(out::add);
            return out;
        } catch (java.nio.file.NoSuchFileException gone) {
            return List.of();
        }
    }

    /**
     * For tests where cryo itself dumps and restores (e.g. {@code cryo demo}): until closed, every
     * tree dumped in this JVM is snapshotted frozen and every restore of it compared before it is
     * released. Differences are collected; {@link Watch#assertSame()} fails on them.
     */
    static Watch watchAll() {
        return new Watch();
    }

    static final class Watch implements TreeObservers.Observer, AutoCloseable {
        private final Map<Integer, StateComparator.Snapshot> dumped = new java.util.concurrent.ConcurrentHashMap<>();
        private final List<String> problems = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final AutoCloseable registration = TreeObservers.register(this);
        private volatile int restores;

        @Override
        public void frozenForDump(int root, List<Integer> pids) {
            try {
                dumped.put(root, StateComparator.takeFrozen(root));
            } catch (Exception e) {
                problems.add("snapshot of dumped pid " + root + ": " + e);
            }
        }

        @Override
        public void restoredBeforeResume(int root, List<Integer> pids) {
            restores++;
            StateComparator.Snapshot before = dumped.get(root);
            if (before == null) {
                problems.add("pid " + root + " was restored but its dump was not seen");
                return;
            }
            try {
                StateComparator.assertSame(before, StateComparator.takeFrozen(root));
            } catch (AssertionError | Exception e) {
                problems.add(e.getMessage());
            }
        }

        void assertSame() {
            assertTrue(restores > 0, "no restore was seen");
            assertTrue(problems.isEmpty(), String.join("\n", problems));
        }

        @Override
        public void close() throws Exception {
            registration.close();
        }
    }

    /** Takes the snapshot of our tree when the supervisor holds it still. */
    private static final class Seen implements TreeObservers.Observer {
        private final int root;
        private volatile StateComparator.Snapshot snapshot;
        private volatile Exception failure;

        Seen(int root) {
            this.root = root;
        }

        @Override
        public void frozenForDump(int r, List<Integer> pids) {
            take(r);
        }

        @Override
        public void restoredBeforeResume(int r, List<Integer> pids) {
            take(r);
        }

        private void take(int r) {
            if (r != root) {
                return;
            }
            try {
                snapshot = StateComparator.takeFrozen(root);
            } catch (Exception e) {
                failure = e;
            }
        }

        boolean seen() {
            return snapshot != null || failure != null;
        }

        StateComparator.Snapshot get(String when) throws Exception {
            DetachedProcess.awaitCondition(() -> snapshot != null || failure != null, Duration.ofSeconds(60),
                    "the state comparator to see " + when + " of pid " + root + " stand still");
            if (failure != null) {
                throw failure;
            }
            assertNotNull(snapshot, "the state comparator never saw " + when + " of pid " + root + " stand still");
            return snapshot;
        }
    }

    /** What {@code cryo dump} printed. */
    Cli dumpOutput() {
        return dumpRun;
    }

    /** The last {@link #restoreDetached}'s command. */
    Cli restoreOutput() {
        return restoreRun;
    }

    Path image() {
        return img;
    }

    int pid() {
        return pid;
    }
}
