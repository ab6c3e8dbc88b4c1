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
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** fds the way real programs hold them (issue 8): each workload checks itself after the restore. */
class FileKindsTest {
    @TempDir
    Path tmp;

    private static void assertPassOnce(String out) {
        assertTrue(out.contains("PASS"), out);
        assertEquals(1, out.split("ready", -1).length - 1, "the restored process did not start over:\n" + out);
    }

    /**
     * A file held open on a mount no namespace has any more, which no path reaches: it was refused. A tmpfs
     * unmounted with umount -l (zdtm's detached_mount): the file's bytes, position, owner and mode come back on a
     * tmpfs made for it and mounted nowhere (fsopen, fsmount). A bind mount unmounted so while its tmpfs stays
     * mounted (zdtm's detached_bind_mount): the file is opened again through a detached clone of that mount, so a
     * write reaches the file there. Either way the fd's link reads "/f" and its mount is in no mountinfo, as before
     * (detached.c file, bind; the test unmounts bind's tmpfs).
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "bind"})
    void aFileOfAMountUnmountedWhileOpenComesBackOnADetachedMount(String mode) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("mnt"));
        try {
            String out = DumpRestore.workloadVerdict(tmp, "detached", mode, dir.toString());
            assertTrue(out.contains("PASS"), out);
            String show = Cli.run("show", tmp.resolve("img").toString()).out();
            assertTrue(show.contains("file on a detached mount"), show);
            assertEquals(mode.equals("bind"), show.contains("\"clonedFrom\" : \"" + dir.resolve("mnt") + "\""), show);
        } finally {
            if (mode.equals("bind")) { // the tmpfs the workload left on DIR/mnt, on the host
                new ProcessBuilder("umount", "-l", dir.resolve("mnt").toString()).inheritIO().start().waitFor();
            }
        }
    }

    @Test
    void fdsAtAnyNumberOPathDirectoriesProcAndSysFilesAndStatusFlagsComeBack() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("fdkinds.out"), "fdkinds", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String out = RestoreTest.checkAndReap(r);
            assertPassOnce(out);
            assertTrue(out.contains("direct=1"), "O_DIRECT was not exercised here: " + out);
            String show = Cli.run("show", img.toString()).out();
            // mountinfo's and the hostname's change not polled yet
            assertEquals(2, show.split("\"unseenChange\" : true", -1).length - 1, show);
            if (out.contains("psi=1")) { // the trigger as written, in microseconds
                assertTrue(show.contains("\"pressureTrigger\" : \"full 1900000 2000000\""), show);
            }
        }
    }

    /**
     * dmesg --follow, a reader of /dev/kmsg, keeps its place in the kernel's log in its open file: reopened by path
     * it read the log again from its first record and printed every line a second time. A line the kernel logged
     * before the dump is printed once, one logged after the restore too.
     */
    @Test
    void aFollowerOfTheKernelsLogPrintsEachLineOnceAcrossTheRestore() throws Exception {
        String marker = "cryo-kmsg-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("dmesg.out"), "dmesg", "--follow")) {
            Files.writeString(Path.of("/dev/kmsg"), marker + " before\n");
            p.awaitOutput(marker + " before", Duration.ofSeconds(30));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                Files.writeString(Path.of("/dev/kmsg"), marker + " after\n");
                r.awaitOutput(marker + " after", Duration.ofSeconds(30));
                String out = r.outputText();
                assertEquals(1, out.split(marker + " before", -1).length - 1, "the line before, printed again: " + out);
            } finally {
                RealServersTest.killTree(r.pid().value());
            }
        }
    }

    /**
     * A log follower (tail -F: inotify) of a log appended to 20 times a second is dumped. It was refused
     * most of the time under load ("inotify holds 16 bytes of unread events"): the dump let
     * the tree run a fixed time and seized it again at a random moment, when the follower had not read
     * the newest line's event yet. Now it seizes the tree again as soon as the queue is read, and the
     * follower is seized after the rest of the tree. Here the writer is in the tree (a killing dump of a
     * follower of a log written from outside would find the log grown at the restore, which a reader
     * refuses): the follower prints every line once, in order, and those written after the restore.
     * Passed on the old code at load 20 too (its reader is quick); the next case failed.
     */
    @Test
    void aFollowerOfALogWrittenTwentyTimesASecondByItsTreeLosesNoLine() throws Exception {
        Path log = tmp.resolve("app.log");
        String writer = "import subprocess, sys, time\nlog = open(sys.argv[1], 'a', buffering=1)\nlog.write('line 0\\n')\n"
                + "subprocess.Popen(['tail', '-n', '+1', '-F', sys.argv[1]])\ni = 0\nwhile True:\n"
                + "    i += 1\n    log.write('line %d\\n' % i)\n    time.sleep(0.05)\n";
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("tail.out"), "python3", "-c", writer, log.toString())) {
            try {
                followThroughARestore(p, log);
            } finally {
                for (int pid : StateComparator.tree(p.pid().value())) {
                    Workloads.killQuietly(pid);
                }
            }
        }
    }

    private void followThroughARestore(DetachedProcess p, Path log) throws Exception {
        p.awaitOutput("line 2\n", Duration.ofSeconds(30));
        DetachedProcess r = DumpRestore.dump(p.pid().value(), tmp.resolve("img")).restoreDetached(p.output());
        int last = Files.readAllLines(log).size() - 1;
        r.awaitOutput("line " + (last + 2) + "\n", Duration.ofSeconds(60)); // written after the restore
        List<String> followed = Files.readAllLines(p.output());
        for (int n = 0; n < followed.size(); n++) {
            assertEquals("line " + n, followed.get(n), "the follower's output, in order and each line once");
        }
    }

    /**
     * The same follower with the writer outside the tree, dumped left running 3 times in a row: lines
     * written after the freeze queue events the frozen follower cannot read, and the dump measured the
     * queue long after the freeze (after its hooks, in the fd's handler): refused nearly every time.
     * Events queued once no task of the tree runs tell of changes after the freeze, as one after the
     * dump would: the queue counts as it was when the last task stopped.
     */
    @Test
    void aFollowerOfALogWrittenFromOutsideIsDumpedLeftRunningEveryTime() throws Exception {
        Path log = Files.writeString(tmp.resolve("app.log"), "line 0\n");
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread writer = new Thread(() -> {
            try {
                for (int i = 1; !stop.get(); i++) {
                    Files.writeString(log, "line " + i + "\n", java.nio.file.StandardOpenOption.APPEND);
                    Thread.sleep(50);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, "log-writer");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("tail.out"), "tail", "-n", "+1", "-F", log.toString())) {
            p.awaitOutput("line 0\n", Duration.ofSeconds(30));
            writer.start();
            for (int i = 0; i < 3; i++) {
                Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img" + i).toString(), "-R",
                        "--no-progress");
                assertEquals(0, dump.code(), dump.toString());
            }
            int last = Files.readAllLines(log).size() - 1;
            p.awaitOutput("line " + (last + 1) + "\n", Duration.ofSeconds(60)); // it follows on
        } finally {
            stop.set(true);
            writer.join();
        }
    }

    /**
     * netdata holds its threads' /proc/PID/task/TID/stat open: the restore opened files before it made the
     * threads and failed (open ENOENT, found by real47). Now the thread's files take their fds' places once
     * it exists, with their offsets.
     */
    @Test
    void aProcFileOfOneOfItsOwnThreadsNamesThatThreadAfterTheRestore() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "threadstat"));
    }

    /** zdtm's proc-self: an fd of the process's own namespace (/proc/self/ns/net) was refused. */
    @Test
    void fdsOfTheProcesssOwnNamespacesComeBack() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "nsfds"));
    }

    /**
     * zdtm's deleted_dev: a device node held open after it was unlinked was refused at dump time (reopened
     * by path, the restore would have failed after the kill). The restore makes each node again with its
     * device number, mode and owner, opens it with the dumped flags and unlinks it: nothing stays behind.
     */
    @Test
    void deletedDeviceNodesComeBackUnlinkedWithTheirNumberModeAndOwner() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("nodes"));
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "deadnode", dir.toString()));
    }

    /**
     * The regular file that took a deleted device node's name (deadnode.c's DIR/zero) is not unlinked
     * under its holders outside the tree by the restore that makes the node there for an instant:
     * their fds still name the path. The node was renamed over it and the file linked back under a
     * new name, so they read "DIR/zero (deleted)" for good.
     */
    @Test
    void theFileThatTookADeletedDeviceNodesNameKeepsItForItsOtherHolders() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("nodes"));
        Path taker = dir.resolve("zero");
        try (DetachedProcess p = Workloads.program(tmp.resolve("deadnode.out"), "deadnode", dir.toString());
             DetachedProcess other = DetachedProcess.start(tmp.resolve("other.out"), "sh", "-c",
                     "exec 3<" + taker + "; echo ready; exec sleep 600")) {
            other.awaitOutput("ready", Duration.ofSeconds(30));
            Path held = Path.of("/proc/" + other.pid() + "/fd/3");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            assertEquals(taker.toString(), Files.readSymbolicLink(held).toString(),
                    "the fd of a process outside the tree on the file that took the node's name");
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /** A directory that took a deleted device node's name after the dump fails the restore by name; nothing is left. */
    @Test
    void aDirectoryThatTookADeletedDeviceNodesNameFailsTheRestoreByName() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("nodes"));
        Path taker = dir.resolve("zero");
        try (DetachedProcess p = Workloads.program(tmp.resolve("deadnode.out"), "deadnode", dir.toString())) {
            DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            Files.delete(taker);
            Files.createDirectory(taker);
            Cli restore = Cli.run("restore", "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, restore.code(), restore.toString());
            assertTrue(restore.err().contains(taker + " cannot be made again under its name: a directory has it now"),
                    restore.err());
            try (var left = Files.list(dir)) {
                assertEquals(List.of(taker), left.toList(), "the restore left a node behind");
            }
            assertFalse(Files.exists(Path.of("/proc/" + p.pid())), "the failed restore left the tree's root behind");
        }
    }

    /**
     * zdtm's deleted_dev in its ns flavor: the nodes held by a task in a mount namespace of its own, on a
     * tmpfs it mounted over the directory, were refused ("held by a task in a mount namespace of its own").
     * The dump checks their directory, and the restore whether their name is taken, in the task's view.
     */
    @Test
    void deletedDeviceNodesOfATaskInAMountNamespaceOfItsOwnComeBack() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("nodes"));
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "deadnode", dir.toString(), "mntns"));
    }

    /**
     * zdtm's console: the system console (5:1) held open through a node of its own by a session leader
     * without a controlling terminal was refused as "a terminal ... dump with --shell-job". It comes back
     * opened again through that node with its flags, and still not the controlling terminal.
     */
    @Test
    void theConsoleHeldOpenComesBackWithoutShellJob() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("console"));
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "console", dir.toString()));
    }

    /**
     * POSIX message queues of the host's (mqueue.c) were refused at dump; they live in the kernel until
     * removed, so they come back as the same queues with their messages, each fd with its own flags.
     */
    /**
     * State only a syscall on the fd shows (heldstate.c): a pipe's SIGIO owner (a process group),
     * signal and capacity, a pty's packet mode, window size, termios, locked termios and exclusive
     * mode, a sealed memfd's mode, and the task's I/O priority; the state comparator reads them too.
     */
    @Test
    void stateOnlyASyscallOnTheFdShowsComesBack() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "heldstate"));
    }

    @Test
    void posixMessageQueuesComeBackTheSameQueuesWithTheirMessagesAndFlags() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "mqueue"));
    }

    /**
     * A queue removed (mq_unlink) while open ends with its last fd, which the killing dump closes: it was
     * refused; now it comes back whole — limits, mode, owner, messages in their order — and without a name.
     */
    @Test
    void aPosixMessageQueueRemovedWhileOpenComesBackWithItsMessages() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "mqueue", "removed"));
    }

    /**
     * A process registered for its queues' notifications (mq_notify) was refused: the kernel does not
     * show the value it gave, and the registration goes with the killed fd. The dump reads the value by
     * firing the notification while the tree is frozen and registers it again; the restored process has
     * both registrations (by signal with its value, and SIGEV_NONE), and no notification came meanwhile
     * (mqueue.c notify).
     */
    @Test
    void queueNotificationsComeBackWithTheirSignalAndValue() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "mqueue", "notify"));
    }

    /**
     * A notification that runs a function in a new thread (SIGEV_THREAD: glibc registers a netlink socket of
     * the process and a cookie, which the kernel sends it, and its helper thread reads) was refused; the dump
     * reads the socket and the cookie by firing it, and the restored process runs its function with its value
     * on the next message (mqueue.c thread).
     */
    @Test
    void aQueueNotificationByAThreadComesBack() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "mqueue", "thread"));
    }

    /** Firing the notification to read its value leaves a tree the dump lets run on as it was: registered, no signal. */
    @Test
    void aDumpLeavingTheTreeRunningLeavesItsQueueNotificationsAsTheyWere() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("mqnotify.out"), "mqueue", "notify")) {
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress", "-R");
            assertEquals(0, dump.code(), dump.toString());
            String show = Cli.run("show", tmp.resolve("img").toString()).out();
            // glibc's SIGRTMIN+3 and mqueue.c's value
            assertTrue(show.contains("\"notification\" : \"signal 37 with value 0x7f1234abcd58\""), show);
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS") && !out.contains("FAIL"), out);
        }
    }

    /** A queue removed after the dump (or made again: another inode) fails the restore by name, nothing made. */
    @Test
    void aPosixMessageQueueRemovedSinceTheDumpFailsTheRestoreByName() throws Exception {
        int pid;
        try (DetachedProcess p = Workloads.program(tmp.resolve("mqueue.out"), "mqueue")) {
            pid = p.pid().value();
            DumpRestore.dump(pid, tmp.resolve("img"));
        }
        String queue = "/cryo-mq-a" + pid;
        String python = "import ctypes, os, sys\nc = ctypes.CDLL(None)\nq = sys.argv[1].encode()\nassert c.mq_unlink(q) == 0\n";
        assertEquals(0, new ProcessBuilder("python3", "-c", python + "c.mq_unlink(b'/cryo-mq-b%d' % int(sys.argv[2]))\n",
                queue, Integer.toString(pid)).inheritIO().start().waitFor());
        Cli gone = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d");
        assertEquals(1, gone.code(), gone.toString());
        assertTrue(gone.err().contains("POSIX message queue " + queue + " cannot be opened"), gone.err());
        assertFalse(Files.exists(Path.of("/proc/" + pid)), "a failed restore left pid " + pid);
        try {
            assertEquals(0, new ProcessBuilder("python3", "-c", python.replace("mq_unlink(q) == 0", "mq_open(q, os.O_CREAT | os.O_RDWR, 0o600, None) >= 0"),
                    queue).inheritIO().start().waitFor());
            Cli other = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d");
            assertEquals(1, other.code(), other.toString());
            assertTrue(other.err().contains("POSIX message queue " + queue + " is another queue now"), other.err());
            assertFalse(Files.exists(Path.of("/proc/" + pid)), "a failed restore left pid " + pid);
        } finally {
            new ProcessBuilder("python3", "-c", python, queue).start().waitFor();
        }
    }

    /** zdtm's pipe03 found it: an empty pipe grown with F_SETPIPE_SZ came back with the default size. */
    /**
     * A multi-queue tun device with a queue the program detached (tunqueues.c): the dump used to
     * refuse both files (attached to an interface); now both come back on the device, the detached
     * one still detached, and the device not persistent; with "ebpf", its eBPF steering and filter
     * programs too (the device waits for the restore with them; the comparator holds their ids).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"plain", "ebpf"})
    void aMultiQueueTunDeviceComesBackWithItsDetachedQueue(String programs) throws Exception {
        String device = "c16q" + Long.toHexString(System.nanoTime() & 0xfffffL);
        try {
            assertPassOnce(DumpRestore.workloadVerdict(tmp, "tunqueues", device, programs));
            assertFalse(Files.exists(Path.of("/sys/class/net/" + device)), "the device went with its last file");
        } finally {
            new ProcessBuilder("ip", "link", "del", device).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        }
    }

    @Test
    void pipeAndFifoBufferSizesComeBack() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "pipesize", dir.toString()));
    }

    /**
     * zdtm's timerfd (with an absolute time): timerfds set with TFD_TIMER_ABSTIME, one also with
     * TFD_TIMER_CANCEL_ON_SET, came back armed relative without their flags.
     */
    @Test
    void timerfdsSetWithAnAbsoluteTimeKeepTheirFlagsAndDeadline() throws Exception {
        // a clock set mid-test (CI's machine steps its clock now and then) cancels the realtime
        // timer, as it must: the program learns of it, and a witness outside the tree tells it from a
        // restore that put expirations in. Such a set during the restore failed it (ECANCELED)
        try (DetachedProcess witness = DetachedProcess.start(tmp.resolve("clockwatch.out"),
                TestPrograms.compile("/c/clockwatch.c").toString())) {
            witness.awaitOutput("watching", Duration.ofSeconds(10));
            String out;
            try {
                out = DumpRestore.workloadVerdict(tmp, "timerfdabs");
            } catch (AssertionError e) { // a set before the dump: refused, the kernel cannot say it again
                if (String.valueOf(e.getMessage()).contains("cancelled by a set of the realtime clock")
                        && witness.outputText().contains("clock set")) {
                    return;
                }
                throw e;
            }
            if (out.contains("cancelled by a clock set") && witness.outputText().contains("clock set")) {
                return;
            }
            assertPassOnce(out);
        }
    }

    /**
     * zdtm's file_fown (with a thread as owner): signal-driven I/O owned by the process, a thread
     * and the process group; the thread owner failed the restore (ESRCH) after the dump had killed
     * the tree.
     */
    @Test
    void signalDrivenIoOwnersComeBackAndSignalTheRightThread() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "sigowners"));
    }

    /**
     * The same as the init of a pid namespace with its own session (zdtm's file_fown and file_lease*
     * in the ns flavor): the restore named each owner by its pid outside, which means nothing in there
     * ("F_SETOWN_EX pid N ...: ESRCH"); it names them as the task sees them now.
     */
    @Test
    void signalDrivenIoOwnersInsideAPidNamespaceComeBack() throws Exception {
        assertPassOnce(NamespaceTest.verdictInNamespaces(tmp, "sigowners",
                java.util.List.of("-m", "--pid", "--fork", "--mount-proc", "setsid")));
    }

    /**
     * An epoll watching an epoll opened after it: the restore added the outer watch before the
     * inner epoll existed and failed after the dump had killed the tree.
     */
    @Test
    void anEpollWatchingALaterEpollComesBack() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "epollnest"));
    }

    /**
     * Oneshot epoll watches that have fired (the BEAM's idiom) hold no events until armed again; an
     * ADD arms EPOLLERR|EPOLLHUP whatever it is given, so they came back reporting hang-ups the
     * program had not asked for (real12, Elixir's sockets).
     */
    @Test
    void oneshotEpollWatchesThatFiredComeBackDisarmed() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "epolloneshot"));
    }

    @Test
    void openFilesSharedAcrossProcessesAndDupsAreOneOpenFileAgain() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("sharedfiles.out"), "sharedfiles", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"ownerKind\" : \"eventfd\"") && show.contains("\"ownerKind\" : \"epoll\""), show);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * zdtm's fdt_shared: a child made with CLONE_FILES (and its own CLONE_FILES child) shares one fd
     * table with its parent again, a sibling made without keeps its own; CLONE_FS likewise for cwd and
     * umask. The workload checks the sharing with kcmp and that it still works both ways.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"files", "fs"})
    void processesSharingTheirParentsTablesShareThemAgain(String mode) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("sharedtables.out"), "sharedtables", dir.toString(), mode)) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"sharesWithParent\" : \"" + (mode.equals("files") ? "fd table (CLONE_FILES)"
                    : "cwd, root and umask (CLONE_FS)") + "\""), show);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * zdtm's epoll: watches added through fds closed since (999), or whose number now holds another
     * file, or two files added through one number, fire again with their data and keep their keys.
     */
    @Test
    void epollWatchesWhoseFdsWereClosedAreWatchedAgain() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("epollclosed.out"), "epollclosed")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"via\" :"), show);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * zdtm's fifo-ghost: a FIFO whose node was deleted (and whose path another file took since),
     * held by two processes with bytes queued, comes back with its bytes, mode and owner, one pipe
     * across both, its fds naming "PATH (deleted)", and the other file untouched at the path.
     */
    @Test
    void aDeletedFifoHeldByTwoProcessesComesBackWithItsBytes() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("fifoghost.out"), "fifoghost", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"deleted\" : \"mode 0640, owner 65534:65534\""), show);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * zdtm's fifo_ro_nonblock: a FIFO reader no writer ever reached came back reporting POLLHUP (cryo's
     * own writer had come and gone), so a program polling it would spin; one whose writer left must.
     */
    @Test
    void fifoReadersKeepTheirHangUpState() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "fifohup", dir.toString()));
    }

    /**
     * A packet-mode pipe (pipe2 O_DIRECT) came back as a byte stream: its unread packets were read in
     * one go. Each comes back a packet of its own; a plain pipe's writes stay one stream.
     */
    @Test
    void aPacketModePipeKeepsItsPacketBoundaries() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "pktpipe"));
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("\"packets\" : 4"), show);
    }

    /**
     * zdtm's unlink_regular00: a deleted name whose file is still linked in another directory, its
     * own directory removed, held by an fd and by a shared mapping, was refused (a copy would have cut
     * the program off from the file). Both come back as that very file under the deleted name.
     */
    @Test
    void aDeletedFileStillLinkedInAnotherDirectoryIsThatFileAgain() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "linkedelsewhere", dir.toString()));
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("\"linkedAt\" : \"" + dir.resolve("kept/held.link") + "\""), show);
    }

    /**
     * The same when another file took the deleted name since (DIR/gone/held made again before the
     * dump): the fd came back naming a temporary sibling, "DIR/gone/.cryo-link-INO-N (deleted)". The
     * other file steps aside for that instant and takes its name back, the same file.
     */
    @Test
    void aDeletedFileStillLinkedElsewhereWhoseNameAnotherFileTookIsThatFileUnderItsName() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("linkedelsewhere.out"), "linkedelsewhere", dir.toString())) {
            Path taker = Files.createDirectories(dir.resolve("gone")).resolve("held");
            Files.writeString(taker, "another file");
            Object ino = Files.getAttribute(taker, "unix:ino");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            assertPassOnce(RestoreTest.checkAndReap(r));
            assertEquals(ino, Files.getAttribute(taker, "unix:ino"), "the file that took the name has it again");
            assertEquals("another file", Files.readString(taker));
            try (var in = Files.list(dir.resolve("gone"))) {
                assertEquals(List.of(taker), in.toList(), "the restore left a link behind");
            }
        }
    }

    /**
     * zdtm's remap_dead_pid and unhashed_proc: /proc files and a current directory of processes
     * that had exited were refused (and before that the restore failed after a killing dump). A
     * stand-in at each dead pid is opened or entered, then ends: they name dead processes again.
     */
    @Test
    void procFilesAndACwdOfDeadProcessesNameDeadProcessesAgain() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "deadproc"));
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("\"deadPid\""), show);
    }

    /**
     * netdata's apps.plugin keeps the /proc/PID/stat file of every process on the host open; on a busy host some
     * of them end between the dump and the restore, which then failed ("open(/proc/N/stat) in pid M: ENOENT"). The
     * file of a process outside the tree that has exited since is opened on a stand-in at its pid that then ends:
     * a read gives ESRCH, as if that process had exited while the tree was stopped, and the fd names that pid.
     */
    @Test
    void aProcFileOfAProcessOutsideTheTreeThatExitedSinceTheDumpNamesADeadProcess() throws Exception {
        String holder = "import errno, os, signal, sys\nfd = os.open('/proc/%s/stat' % sys.argv[1], os.O_RDONLY)\n"
                + "os.read(fd, 100)\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\nprint('ready', flush=True)\n"
                + "signal.sigwait([signal.SIGUSR1])\nos.lseek(fd, 0, 0)\ntry:\n    os.read(fd, 100)\n"
                + "    print('FAIL: the stat of an exited process read', flush=True)\nexcept OSError as e:\n"
                + "    print('PASS' if e.errno == errno.ESRCH else 'FAIL: ' + errno.errorcode[e.errno], flush=True)\n"
                + "print('fd ' + os.readlink('/proc/self/fd/%d' % fd), flush=True)\n";
        try (DetachedProcess outside = DetachedProcess.start(tmp.resolve("sleep.out"), "sleep", "600");
             DetachedProcess p = DetachedProcess.start(tmp.resolve("holder.out"), "python3", "-c", holder,
                     Integer.toString(outside.pid().value()))) {
            p.awaitOutput("ready", Duration.ofSeconds(30));
            DumpRestore d = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            outside.close();
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + outside.pid().value())), Duration.ofSeconds(30),
                    "the process outside the tree to exit");
            DetachedProcess r = d.restoreDetached(p.output());
            dev.cryo.kernel.Sys.kill(r.pid(), dev.cryo.kernel.Signals.SIGUSR1);
            r.awaitOutput("fd ", Duration.ofSeconds(30)); // the restored holder has read
            String out = r.outputText();
            RestoreTest.killAndReap(r);
            assertPassOnce(out);
            assertTrue(out.contains("fd /proc/" + outside.pid().value() + "/stat"), out);
        }
    }

    /**
     * netdata's apps.plugin holds the /proc files of other users' processes: one that exited between the dump and
     * the restore had its files opened on a stand-in running as root, so their owner was root where it had been
     * that user ('fd 4/5/6 mode: dumped 100444 uid 995, restored uid 0'). The stand-in runs as the owner the dump
     * recorded, so the stat, status and io of a process of user 65534 are that user's again.
     */
    @Test
    void aProcFileOfAnotherUsersProcessThatExitedSinceTheDumpIsStillThatUsersFile() throws Exception {
        String holder = "import os, signal, sys\n"
                + "fds = [os.open('/proc/%s/%s' % (sys.argv[1], n), os.O_RDONLY) for n in ('stat', 'status', 'io')]\n"
                + "owners = lambda: ' '.join('%d:%d' % (os.fstat(f).st_uid, os.fstat(f).st_gid) for f in fds)\n"
                + "print('before', owners(), flush=True)\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\n"
                + "print('ready', flush=True)\nsignal.sigwait([signal.SIGUSR1])\nprint('after', owners(), flush=True)\n";
        try (DetachedProcess outside = DetachedProcess.start(tmp.resolve("sleep.out"), "setpriv", "--reuid=65534",
                "--regid=65534", "--clear-groups", "sleep", "600")) {
            int x = outside.pid().value();
            DetachedProcess.awaitCondition(() -> dev.cryo.kernel.proc.ProcFs.stat(outside.pid()).comm().equals("sleep"),
                    Duration.ofSeconds(30), "setpriv to run sleep as user 65534");
            try (DetachedProcess p = DetachedProcess.start(tmp.resolve("holder.out"), "python3", "-c", holder,
                    Integer.toString(x))) {
                p.awaitOutput("ready", Duration.ofSeconds(30));
                assertTrue(p.outputText().contains("before 65534:65534 65534:65534 65534:65534"), p.outputText());
                DumpRestore d = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
                outside.close();
                DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + x)), Duration.ofSeconds(30),
                        "the process outside the tree to exit");
                DetachedProcess r = d.restoreDetached(p.output()); // the comparator holds each fd's owner
                dev.cryo.kernel.Sys.kill(r.pid(), dev.cryo.kernel.Signals.SIGUSR1);
                r.awaitOutput("after", Duration.ofSeconds(30));
                String out = r.outputText();
                RestoreTest.killAndReap(r);
                assertTrue(out.contains("after 65534:65534 65534:65534 65534:65534"), out);
            }
        }
    }

    /**
     * A /proc/PID file of a process outside the tree whose pid another process has taken by the restore: reopened
     * by its path it was that process's file, silently. The dump keeps the process's start time, and the restore is
     * refused naming the fd and the process at that pid now, before any task is made; once that pid is free again
     * the file is opened on a stand-in, a dead process's.
     */
    @Test
    void aProcFileOfAProcessOutsideTheTreeWhosePidIsTakenByAnotherIsRefusedAtRestore() throws Exception {
        String holder = "import errno, os, signal, sys\nfd = os.open('/proc/%s/stat' % sys.argv[1], os.O_RDONLY)\n"
                + "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\nprint('ready', flush=True)\n"
                + "signal.sigwait([signal.SIGUSR1])\ntry:\n    os.read(fd, 100)\n    print('FAIL: it read', flush=True)\n"
                + "except OSError as e:\n    print('PASS' if e.errno == errno.ESRCH else 'FAIL: ' + errno.errorcode[e.errno],"
                + " flush=True)\nprint('end', flush=True)\n";
        try (DetachedProcess outside = DetachedProcess.start(tmp.resolve("sleep.out"), "sleep", "600");
             DetachedProcess p = DetachedProcess.start(tmp.resolve("holder.out"), "python3", "-c", holder,
                     Integer.toString(outside.pid().value()))) {
            int x = outside.pid().value();
            p.awaitOutput("ready", Duration.ofSeconds(30));
            DumpRestore d = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            outside.close();
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + x)), Duration.ofSeconds(30),
                    "the process outside the tree to exit");
            dev.cryo.kernel.Pid taker = dev.cryo.kernel.ExactPidSpawner.spawn(x, x, "/bin/sleep", List.of("sleep", "600"),
                    false);
            try {
                Cli refused = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d");
                assertNotEquals(0, refused.code(), refused.toString());
                assertTrue(refused.err().contains("fd 3: /proc/" + x + "/stat is a /proc file of pid " + x)
                        && refused.err().contains("another process's now ('sleep'"), refused.toString());
                assertFalse(Files.exists(Path.of("/proc/" + p.pid().value())), "nothing of the tree is left");
            } finally {
                dev.cryo.kernel.Spawner.killAndReap(taker);
            }
            DetachedProcess r = d.restoreDetached(p.output());
            dev.cryo.kernel.Sys.kill(r.pid(), dev.cryo.kernel.Signals.SIGUSR1);
            r.awaitOutput("end", Duration.ofSeconds(30));
            String out = r.outputText();
            RestoreTest.killAndReap(r);
            assertPassOnce(out);
        }
    }

    /**
     * A /proc/PID/task/TID file of a thread of a process outside the tree: once that thread has exited, the file was
     * dumped and the restore failed ('open(/proc/X/task/T/stat) in pid N: ENOENT') after the dump had killed the
     * tree; it is refused at dump time and the tree runs on. One whose thread exits after the dump has the restore
     * refused before any task is made (no stand-in can take a thread's id).
     */
    @Test
    void aProcFileOfAnOutsideProcesssThreadThatExitedIsRefused() throws Exception {
        String outside = "import os, sys, threading, time\ndef run():\n    print('tid', threading.get_native_id(), flush=True)\n"
                + "    while not os.path.exists(sys.argv[1]):\n        time.sleep(0.05)\n"
                + "threading.Thread(target=run).start()\ntime.sleep(600)\n";
        String holder = "import os, sys, time\nfd = os.open('/proc/%s/task/%s/stat' % (sys.argv[1], sys.argv[2]), os.O_RDONLY)\n"
                + "print('ready', flush=True)\ntime.sleep(600)\n";
        for (boolean afterTheDump : new boolean[] {false, true}) {
            Path go = tmp.resolve("go" + afterTheDump);
            try (DetachedProcess o = DetachedProcess.start(tmp.resolve("outside" + afterTheDump + ".out"), "python3", "-c",
                    outside, go.toString())) {
                o.awaitOutput("tid", Duration.ofSeconds(30));
                int x = o.pid().value();
                String tid = o.outputText().trim().split("\\s+")[1];
                try (DetachedProcess p = DetachedProcess.start(tmp.resolve("holder" + afterTheDump + ".out"), "python3", "-c",
                        holder, Integer.toString(x), tid)) {
                    p.awaitOutput("ready", Duration.ofSeconds(30));
                    Path img = tmp.resolve("img" + afterTheDump);
                    if (afterTheDump) {
                        DumpRestore.dump(p.pid().value(), img);
                    }
                    Files.writeString(go, "");
                    DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + x + "/task/" + tid)),
                            Duration.ofSeconds(30), "the outside process's thread to exit");
                    Cli r = afterTheDump ? Cli.run("restore", "-D", img.toString(), "-d")
                            : Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", img.toString(), "--no-progress");
                    assertNotEquals(0, r.code(), r.toString());
                    assertTrue(r.err().contains("fd 3: /proc/" + x + "/task/" + tid + "/stat is a /proc file of thread " + tid
                            + " of pid " + x + ", outside the tree, which has exited"), r.toString());
                    assertEquals(!afterTheDump, Files.exists(Path.of("/proc/" + p.pid().value())),
                            afterTheDump ? "nothing of the restore is left" : "the tree runs on");
                }
            }
        }
    }

    /**
     * netdata keeps /proc/self/net/sockstat6 open; /proc/net entries are looked up afresh each time, which drops the
     * dentry an open file holds, so once anything else looks the path up the fd reads "/proc/PID/net/sockstat6
     * (deleted)". It was carried as a deleted file still linked at that path, and the restore failed ("where the
     * deleted file ... was still linked, is gone"). It is reopened by its path now and reads the same, and reads on.
     */
    @Test
    void aProcNetFileLookedUpAgainSinceItWasOpenedIsReopenedByItsPath() throws Exception {
        String holder = "import os, signal\nfd = os.open('/proc/self/net/sockstat6', os.O_RDONLY)\nos.read(fd, 10)\n"
                + "kept = os.open('/proc/self/net/sockstat', os.O_RDONLY)\n"
                + "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\nprint('ready', flush=True)\n"
                + "signal.sigwait([signal.SIGUSR1])\nos.lseek(fd, 0, 0)\n"
                + "print('PASS' if os.read(fd, 100).startswith(b'TCP6') else 'FAIL: not sockstat6', flush=True)\n"
                + "print('fd ' + os.readlink('/proc/self/fd/%d' % fd), flush=True)\n";
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("holder.out"), "python3", "-c", holder)) {
            p.awaitOutput("ready", Duration.ofSeconds(30));
            Path net = Path.of("/proc/" + p.pid().value() + "/net/sockstat6");
            assertTrue(Files.exists(net));
            assertTrue(Files.readSymbolicLink(Path.of("/proc/" + p.pid().value() + "/fd/3")).toString().endsWith(" (deleted)"),
                    "the lookup dropped the dentry the fd holds");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            dev.cryo.kernel.Sys.kill(r.pid(), dev.cryo.kernel.Signals.SIGUSR1);
            r.awaitOutput("fd ", Duration.ofSeconds(30)); // the restored holder has read
            String out = r.outputText();
            RestoreTest.killAndReap(r);
            assertPassOnce(out);
            assertTrue(out.contains("fd " + net + " (deleted)"), out);
        }
    }

    /**
     * A program running as another user holding its own /proc/PID/stat (netdata's plugins, as user netdata): the
     * restored task reopened it while still root, and fstat showed it root's (the comparator: "fd 3 mode"). Looked up
     * once the task's credentials are set, it is the task's again.
     */
    @Test
    void aProcFileOfAProgramRunningAsAnotherUserIsItsOwnAgain() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("nobody.out"), "setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", "/usr/bin/python3", "-c", "import os, time\nfd = os.open('/proc/self/stat', os.O_RDONLY)\n"
                        + "print('ready', fd, flush=True)\ntime.sleep(600)\n")) {
            p.awaitOutput("ready", Duration.ofSeconds(30));
            Path fd = Path.of("/proc/" + p.pid().value() + "/fd/" + p.outputText().trim().split("\\s+")[1]);
            assertEquals(65534, Files.getAttribute(fd, "unix:uid"));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img")); // the comparator: the fd's owner
            try {
                assertEquals(65534, Files.getAttribute(fd, "unix:uid"));
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * Firefox's content sandbox: a task in a user namespace of its own, chrooted by a CLONE_FS helper
     * into /proc/self/fdinfo, the helper gone: its root and cwd are a dead process's fdinfo. The dump
     * refused it ("its current directory /proc/N/fdinfo is the /proc directory of pid N, which has
     * exited; not supported"). The task now forks a stand-in at N itself (fdinfo asks ptrace rights a
     * task of another user namespace has only over its own children), enters it, and reaps it.
     */
    @Test
    void aRootAndCwdInAnExitedHelpersFdinfoComeBackAsFirefoxsSandboxHasThem() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "procroot", "helper"));
    }

    /**
     * A cwd in the task's own /proc directory (`cd /proc/self/fdinfo`): dumped, but the restore
     * failed ("pid N cwd: directory /proc/N/fdinfo is missing": it was looked for before the tree was forked).
     */
    @Test
    void aCwdInTheTasksOwnProcDirectoryComesBack() throws Exception {
        assertPassOnce(DumpRestore.workloadVerdict(tmp, "procroot", "own"));
    }

    /**
     * The same in a container's pid namespace, its /proc its own (zdtm's unhashed_proc in its ns
     * flavor): refused ("the task is in a pid namespace of its own"), the stand-ins being made only
     * in cryo's. They are now made in the task's pid namespace at the pid it named, as the dead process's
     * user: the files of deadproc.c's child of user 65534 came back root's ('fd 3 mode: dumped 100444 uid
     * 65534 gid 65534, restored 100444 uid 0 gid 0') while that stand-in ran as root.
     */
    @Test
    void procFilesAndACwdOfDeadProcessesOfAPidNamespaceNameDeadProcessesAgain() throws Exception {
        assertPassOnce(NamespaceTest.verdictInNamespaces(tmp, "deadproc", List.of("-m", "--pid", "--fork", "--mount-proc")));
    }

    /**
     * zdtm's symlink: an O_PATH | O_NOFOLLOW fd of a symlink itself was refused as an unknown file; and
     * zdtm's symlink01, the link removed since: refused ("a removed symlink is not supported"), it is
     * made again at its path with its target and owner, opened and removed.
     */
    @ParameterizedTest
    @ValueSource(strings = {"kept", "removed"})
    void anOpathFdOfASymlinkComesBackOnTheLink(String link) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("symlinkfd.out"), "symlinkfd", dir.toString(), link)) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            assertTrue(Cli.run("show", img.toString(), "fds").out().contains("symlink"), "shown as a symlink");
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    @Test
    void flockPosixAndOfdLocksAreHeldAgainAfterTheRestore() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("locks.out"), "locks", dir.toString())) {
            Path lockFile = dir.resolve("flock");
            assertEquals(1, flockNonBlocking(lockFile), "the workload does not hold its flock");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--file-locks");
            assertEquals(1, flockNonBlocking(lockFile), "another process could take the restored task's flock");
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * knotd keeps its config database (LMDB) in files it deletes at once with their temporary
     * directory, with a POSIX lock on the lock file: locks held through deleted files (flock, POSIX,
     * OFD) are held again after the restore, on the recreated files (the dump refused them before),
     * and the files keep their paths although their directory is gone (they were made in the
     * temporary directory: the comparator saw their links change).
     */
    @Test
    void locksOnDeletedFilesAreHeldAgainAfterTheRestore() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("ghostlocks.out"), "ghostlocks", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String fds = Cli.run("show", img.toString()).out();
            assertTrue(fds.contains("POSIX lock READ 0-0") && fds.contains("flock WRITE"), fds);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * A lease taken in a user namespace (zdtm's file_lease00..04 in their uns flavor): the restore took it with
     * the task's own fsuid, not the file's owner, and a task of a user namespace has no CAP_LEASE: "fcntl(lease
     * READ on fd 3): EACCES" after the killing dump, the tree lost. leasens.c.
     */
    @Test
    void aLeaseTakenInAUserNamespaceIsHeldAgain() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("leasens.out"), "leasens", dir.toString())) {
            assertPassOnce(RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"))));
        }
    }

    /** zdtm file_lease00: read and write leases are the kernel's again, and a break is still announced with F_SETSIG's signal. */
    @Test
    void readAndWriteLeasesAreHeldAgainAfterTheRestore() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("leases.out"), "leases", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String fds = Cli.run("show", img.toString()).out();
            assertTrue(fds.contains("lease READ") && fds.contains("lease WRITE"), fds);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * Directory notifications (fcntl F_NOTIFY): no /proc file shows them and they were lost without a
     * word (the restored watcher heard nothing). Now the dump reads them with a BPF iterator and the
     * restore registers them again: a multishot one made through a duplicated fd (the signal names
     * that fd) with F_SETSIG's signal, a one-shot one not yet fired; a one-shot one fired before the
     * dump stays spent.
     */
    @Test
    void directoryNotificationsAreRegisteredAgainAfterTheRestore() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("dnotify.out"), "dnotify", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("DN_CREATE|DN_MULTISHOT") && show.contains("\"DN_DELETE\""), show);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * zdtm file_lease03: a write lease being broken, a child of the tree waiting in its open for
     * the break. It was refused; now the lease is taken again and broken anew (as CRIU does), so
     * it stays breaking toward READ and the child's open goes through once the lease is given up.
     * The holder does not hear the break a second time (it had its signal before the dump; the
     * restore's break used to send another, a "Ghost signal" to zdtm's file_lease04).
     */
    @Test
    void aLeaseBeingBrokenIsBrokenAgainAfterTheRestore() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("leasebreak.out"), "leasebreak", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dump(p.pid().value(), img).restoreDetached(p.output());
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("lease being broken to READ, a WRITE"), show);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * A script that logs through bash's process substitution ({@code exec > >(tee LOG) 2>&1}): its
     * stdout and stderr are the pipe's write end opened again by path (/dev/fd/63), so they carry the
     * O_LARGEFILE an open adds, which pipe() never sets. They came back as cryo's own pipe() end
     * without it (the state comparator: fd 1 fdinfo flags dumped '0100001', restored '01'); tee
     * goes on writing every line.
     */
    @Test
    void aScriptLoggingThroughTeeByProcessSubstitutionKeepsItsPipesFlags() throws Exception {
        Path log = tmp.resolve("tee.log");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("script.out"), "bash", "-c",
                "exec > >(exec tee " + log + ") 2>&1; i=0; while :; do i=$((i+1)); echo line $i; sleep 0.2; done")) {
            DetachedProcess.awaitCondition(() -> lines(log) >= 3, Duration.ofSeconds(30), "the script to log 3 lines");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                long before = lines(log);
                DetachedProcess.awaitCondition(() -> lines(log) >= before + 3, Duration.ofSeconds(30),
                        "the restored script to log 3 more lines through tee");
                List<String> got = Files.readAllLines(log);
                for (int i = 0; i < got.size(); i++) {
                    assertEquals("line " + (i + 1), got.get(i), "every line once, in order");
                }
            } finally {
                RealServersTest.killTree(r.pid().value());
            }
        }
    }

    private static long lines(Path p) {
        try {
            return Files.exists(p) ? Files.readAllLines(p).size() : 0;
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    /**
     * A program whose output a harness outside the tree reads through a pipe (a test runner, a
     * shell pipeline) writes to that reader again after the restore, the counter going on with no
     * gap or repeat; without the join the restored program met a pipe with no reader (SIGPIPE).
     */
    @Test
    void aPipeToAReaderOutsideTheTreeIsJoinedAgain() throws Exception {
        Path copy = tmp.resolve("copy.txt"), pidFile = tmp.resolve("prog.pid");
        String prog = "import time\ni = 0\nwhile True:\n    print(i, flush=True)\n    i += 1\n    time.sleep(0.02)";
        try (DetachedProcess harness = DetachedProcess.start(tmp.resolve("harness.out"), "/usr/bin/python3", "-c",
                String.join("\n",
                        "import subprocess, sys, time",
                        "out = open(sys.argv[1], 'w')",
                        // through a shell that exits: the program is not the harness's child (no zombie keeps its pid)
                        "sh = subprocess.Popen(['/bin/sh', '-c', '/usr/bin/python3 -c \"$0\" </dev/null & echo $! > \"$1\"', sys.argv[3], sys.argv[2]], stdout=subprocess.PIPE)",
                        "sh.wait()",
                        "while True:",
                        "    line = sh.stdout.readline()",
                        "    if line:",
                        "        out.write(line.decode()); out.flush()",
                        "    else:",
                        "        time.sleep(0.02)"), copy.toString(), pidFile.toString(), prog)) {
            DetachedProcess.awaitCondition(() -> Files.exists(copy) && Workloads.lines(copy) > 5, Duration.ofSeconds(30),
                    "the harness to copy the program's output");
            int pid = Integer.parseInt(Files.readString(pidFile).strip());
            // its session and group are the harness's, outside the tree: a shell job
            DumpRestore d = DumpRestore.dump(pid, tmp.resolve("img"), "--shell-job").alsoKnown(StateComparator.outsidePipe(1));
            int before = Workloads.lines(copy);
            DetachedProcess r = d.restoreDetached(tmp.resolve("prog.out"));
            try {
                DetachedProcess.awaitCondition(() -> Workloads.lines(copy) > before + 10, Duration.ofSeconds(30),
                        "the restored program's output to reach the harness again");
                List<String> seen = Files.readAllLines(copy);
                for (int i = 0; i < seen.size() - 1; i++) {
                    assertEquals(Integer.toString(i), seen.get(i), "a gap or a repeat in what the harness read");
                }
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * CRIU's --inherit-fd: the harness reading the program's output is gone after the dump, and the
     * restore hands the program a pipe of the restorer's in its stead, by the dumped pipe's name
     * ({@code pipe:[INODE]}); the counter goes on in that pipe where it stopped. A log file is
     * handed over the same way, by its path: the program's next lines go to the file given.
     */
    @Test
    void inheritFdHandsTheRestoredTreeAPipeOrFileInPlaceOfTheDumpedOne() throws Exception {
        Path copy = tmp.resolve("copy.txt"), pidFile = tmp.resolve("prog.pid"), log = tmp.resolve("app.log");
        String prog = "import sys, time\nlog = open(sys.argv[1], 'a')\ni = 0\nwhile True:\n    print(i, flush=True)\n"
                + "    log.write('%d\\n' % i); log.flush()\n    i += 1\n    time.sleep(0.02)";
        int pid;
        String dumpedPipe;
        DumpRestore d;
        try (DetachedProcess harness = DetachedProcess.start(tmp.resolve("harness.out"), "/usr/bin/python3", "-c",
                String.join("\n",
                        "import subprocess, sys, time",
                        "out = open(sys.argv[1], 'w')",
                        "sh = subprocess.Popen(['/bin/sh', '-c', '/usr/bin/python3 -c \"$0\" \"$2\" </dev/null & echo $! > \"$1\"', sys.argv[3], sys.argv[2], sys.argv[4]], stdout=subprocess.PIPE)",
                        "sh.wait()",
                        "while True:",
                        "    line = sh.stdout.readline()",
                        "    if line:",
                        "        out.write(line.decode()); out.flush()",
                        "    else:",
                        "        time.sleep(0.02)"), copy.toString(), pidFile.toString(), prog, log.toString())) {
            DetachedProcess.awaitCondition(() -> Files.exists(copy) && Workloads.lines(copy) > 5, Duration.ofSeconds(30),
                    "the harness to copy the program's output");
            pid = Integer.parseInt(Files.readString(pidFile).strip());
            dumpedPipe = Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/1")).toString();
            d = DumpRestore.dump(pid, tmp.resolve("img"), "--shell-job").alsoKnown(StateComparator.outsidePipe(1))
                    .alsoKnown(StateComparator.inheritedFile(3));
        } // the harness, and with it the pipe's reader, is gone
        int logged = Workloads.lines(log);
        Path newLog = tmp.resolve("new.log");
        try (dev.cryo.kernel.LocalPipe given = dev.cryo.kernel.LocalPipe.create(new byte[0], 0);
             dev.cryo.kernel.Fd logFd = dev.cryo.kernel.Sys.open(newLog.toString(),
                     dev.cryo.kernel.Fcntl.O_WRONLY | dev.cryo.kernel.Fcntl.O_CREAT | dev.cryo.kernel.Fcntl.O_APPEND, 0600)) {
            List<String> read = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread reader = new Thread(() -> { // ends at end of file: the program killed, the given pipe closed
                try (java.io.BufferedReader in = Files.newBufferedReader(Path.of(given.procPath(true)))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        read.add(line.strip());
                    }
                } catch (java.io.IOException e) {
                    read.add("error " + e);
                }
            });
            reader.setDaemon(true);
            reader.start();
            Cli typo = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d", "--inherit-fd", "fd[9999]:" + dumpedPipe);
            assertEquals(2, typo.code(), typo.toString());
            assertTrue(typo.err().contains("fd 9999 is not open here"), typo.err());
            DetachedProcess r = d.restoreDetached(tmp.resolve("prog.out"),
                    "--inherit-fd", "fd[" + given.fd(false) + "]:" + dumpedPipe,
                    "--inherit-fd", "fd[" + logFd.value() + "]:" + log);
            try {
                DetachedProcess.awaitCondition(() -> read.size() >= 11, Duration.ofSeconds(30), "lines in the given pipe");
                // print() writes the number and its newline apart: a dump between the two leaves the
                // rest of that line ("\n") as the given pipe's first, so a first line that does not
                // run on into the next is that remainder and is skipped (one at most)
                int first = read.get(0).equals(Integer.toString(number(read.get(1)) - 1)) ? 0 : 1;
                int next = Integer.parseInt(read.get(first));
                assertTrue(next >= logged - 1 && next <= logged + 1, "the counter went on at " + next + " after " + logged);
                for (int i = 1; i < 10; i++) {
                    assertEquals(Integer.toString(next + i), read.get(first + i), "a gap or a repeat in the given pipe");
                }
                DetachedProcess.awaitCondition(() -> Workloads.lines(newLog) > 10, Duration.ofSeconds(30), "lines in the given log");
                // the log is written a whole line at a time (one write): the dumped log ends at line
                // 'logged' - 1, so the file given starts at 'logged', wherever the dump fell in the loop
                // (after print(i) and before log.write(i), the pipe goes on at i + 1 and the log at i)
                assertEquals(Integer.toString(logged), Files.readAllLines(newLog).get(0),
                        "the log's first line in the file given");
                assertTrue(Workloads.lines(log) <= logged + 1, "the dumped log was still written to");
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    private static int number(String line) {
        try {
            return Integer.parseInt(line);
        } catch (NumberFormatException e) {
            return Integer.MIN_VALUE;
        }
    }

    /** flock(1) -n from a process outside the tree: 0 when it got the lock, 1 when it is held. */
    private static int flockNonBlocking(Path file) throws Exception {
        Process f = new ProcessBuilder("flock", "-n", file.toString(), "true").redirectErrorStream(true).start();
        return f.waitFor();
    }

    @Test
    void aPseudoTerminalPairHeldByOneProcessComesBack() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("pty.out"), "/usr/bin/python3", "-c",
                "import os,pty,time\nm,s=pty.openpty()\nprint('ready', m, s, flush=True)\ntime.sleep(600)\n"))) {
            String[] words = Workloads.readyWords(p, 2);
            Path master = Path.of("/proc/" + p.pid() + "/fd/" + words[1]);
            Path slave = Path.of("/proc/" + p.pid() + "/fd/" + words[2]);
            String pts = Files.readSymbolicLink(slave).toString();
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                assertEquals("/dev/ptmx", Files.readSymbolicLink(master).toString());
                assertEquals(pts, Files.readSymbolicLink(slave).toString());
                char s = r.state();
                assertTrue(s == 'S' || s == 'R', "state " + s);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    @Test
    void inotifyWatchesComeBackWithTheirNumbersMasksAndTargetsAndReportEvents() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("watched"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("inotify.out"), "inotify", dir.toString(), "idle")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"inotify\"") && show.contains(dir.resolve("watched").toString()), show);
            String out = RestoreTest.checkAndReap(r);
            assertPassOnce(out);
            assertTrue(out.contains("PASS wd=1,3"), out);
        }
    }

    /**
     * inotify watches on a tmpfs the tree mounted: the dump reads that tmpfs's files to make it again,
     * which queued events of cryo's own for the watches (open, read, close), and the dump refused the
     * queue as holding unread events (fatrace and inotifywait in a tmpfs of their own never dumped).
     * What counts is what the queue held at the freeze; the restored program finds its queues empty.
     */
    @Test
    void inotifyWatchesOnATmpfsOfTheTreesAreNotFilledByTheDumpReadingIt() throws Exception {
        try (DetachedProcess p = Workloads.ready(onItsOwnTmpfs("inotify", "idle"))) {
            String out = RestoreTest.checkAndReap(DumpRestore.dump(p.pid().value(), tmp.resolve("img"))
                    .alsoKnown(TMPFS_REMADE).restoreDetached(p.output()));
            assertPassOnce(out);
            assertTrue(out.contains("PASS wd=1,3"), out);
        }
    }

    /**
     * zdtm's fanotify00 in a mount namespace of its own: watches that see every open of the tree's own
     * tmpfs (inotify IN_OPEN on its directory, a fanotify mark on its mount). The checks before the
     * freeze read that tmpfs's files, which queued events of cryo's own, and the dump refused them as
     * unread ("holds 24 bytes of unread events"); the fanotify mark on a mount of the tree's namespace
     * was refused ("no such mount here"). The restored program finds its queues empty and its marks
     * seeing its opens.
     */
    @Test
    void watchesOfEveryOpenOnATmpfsOfTheTreesAreCarriedWithoutTheDumpsOwnEvents() throws Exception {
        try (DetachedProcess p = Workloads.ready(onItsOwnTmpfs("tmpfsopens"))) {
            String out = RestoreTest.checkAndReap(DumpRestore.dump(p.pid().value(), tmp.resolve("img"))
                    .alsoKnown(TMPFS_REMADE).restoreDetached(p.output()));
            assertPassOnce(out);
        }
    }

    /**
     * The same dumped leaving the tree running (-R; a pre-dump is such a dump), with fanotify alone (a mark on the
     * tmpfs's mount, one on an empty file of it: zdtm's fanotify00) and with the inotify watch on the directory too.
     * The dump read the tmpfs's files through the tree's own mount, each open an event for the program's mark, which
     * the program then read ("FAIL: fanotify events queued after the restore"; zdtm's fanotify00 --pre 2: the next
     * pre-dump refused those 24 bytes as unread); they were read through a copy of the mount alone, an empty one not
     * opened. A watch on the directory or the file sees opens on any mount: the directory's listing, the file's read
     * and the open of the mount's directory to find the watched inode by its handle were its events ("FAIL: inotify
     * events queued after the restore": IN_OPEN, IN_ACCESS, IN_CLOSE_NOWRITE). Each is now opened with no event (an
     * fd of cryo's fanotify permission event, the open itself denied: QuietOpens).
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"fanotify", "inotify"})
    void aDumpLeavingTheTreeRunningQueuesNoEventOfItsOwnForItsWatchesOnItsTmpfs(String watches) throws Exception {
        try (DetachedProcess p = Workloads.ready(onItsOwnTmpfs("tmpfsopens", watches))) {
            DumpRestore.dumpLeavingRunning(p.pid().value(), tmp.resolve("img"));
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /** {@code NAME.c DIR ARGS} in a mount namespace of its own, DIR a tmpfs it mounted there first. */
    private DetachedProcess onItsOwnTmpfs(String name, String... args) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name + "-tmpfs"));
        List<String> cmd = new ArrayList<>(List.of("unshare", "--mount", "sh", "-c",
                "mount -t tmpfs cryo-" + name + " \"$0\" && exec \"$@\"", dir.toString(),
                TestPrograms.compile("/c/" + name + ".c").toString(), dir.toString()));
        cmd.addAll(List.of(args));
        return DetachedProcess.start(tmp.resolve(name + ".out"), cmd.toArray(String[]::new));
    }

    /**
     * A tmpfs made again is a new mount, its files keep their inode numbers, not their generations (in
     * the handles); its device is the first free anonymous one, the old one's unless a mount elsewhere
     * took it meanwhile.
     */
    private static final String REMADE_PARTS = "^\\p{XDigit}+ (?=mflags)|(sdev|f_handle):\\p{XDigit}+";
    private static final StateComparator.Known TMPFS_REMADE = new StateComparator.Known(
            "a tmpfs made again is a new mount, its files get new generations",
            d -> (d.item().endsWith("fdinfo inotify wd") || d.item().endsWith("fdinfo fanotify mnt_id"))
                    && d.dumped() != null && d.restored() != null
                    && d.dumped().replaceAll(REMADE_PARTS, "").equals(d.restored().replaceAll(REMADE_PARTS, "")));

    /**
     * zdtm's inotify00: a watch on a file deleted since, which the program holds open, comes back on
     * that very file (carried as a ghost file), with no event made by the restore.
     */
    @Test
    void anInotifyWatchOnADeletedFileComesBackOnThatFileWithNoEventOfTheRestore() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("watched"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("inotifygone.out"), "inotifygone", dir.toString())) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"deleted\" : true"), show);
            assertPassOnce(RestoreTest.checkAndReap(r));
        }
    }

    /** Unread inotify events cannot be queued again: refused (CRIU drops them), the task runs on. */
    @Test
    void anInotifyQueueHoldingUnreadEventsIsRefusedAndTheTaskRunsOn() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("watched"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("inotify.out"), "inotify", dir.toString(), "queued")) {
            Path img = tmp.resolve("img");
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(1, dump.code(), dump.toString());
            assertTrue(dump.err().contains("pid " + p.pid() + " fd 3") && dump.err().contains("unread events"),
                    dump.err());
            assertFalse(Files.exists(img.resolve("image.cryo")));
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void fanotifyMarksOnAFileAMountAndAFilesystemComeBackAndReportEvents() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("fan"));
        try (Mounts m = Mounts.of(dir)) {
            try (DetachedProcess p = Workloads.program(tmp.resolve("fanotify.out"), "fanotify", dir.toString(), "idle")) {
                Path img = tmp.resolve("img");
                DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
                String show = Cli.run("show", img.toString()).out();
                assertTrue(show.contains("\"fanotify\"") && show.contains("\"mount\"") && show.contains("\"filesystem\"")
                        && show.contains(dir.resolve("watched").toString()), show);
                assertPassOnce(RestoreTest.checkAndReap(r));
            }
        }
    }

    /** Unread fanotify events cannot be queued again: refused, the task runs on. */
    @Test
    void aFanotifyQueueHoldingUnreadEventsIsRefusedAndTheTaskRunsOn() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("fan"));
        try (Mounts m = Mounts.of(dir)) {
            try (DetachedProcess p = Workloads.program(tmp.resolve("fanotify.out"), "fanotify", dir.toString(), "queued")) {
                Path img = tmp.resolve("img");
                Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
                assertEquals(1, dump.code(), dump.toString());
                assertTrue(dump.err().contains("pid " + p.pid() + " fd 40") && dump.err().contains("unread events"),
                        dump.err());
                assertFalse(Files.exists(img.resolve("image.cryo")));
                assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
            }
        }
    }

    /** The bind mount {@code dir/mnt} and tmpfs {@code dir/fs} fanotify.c marks; unmounted afterwards. */
    private record Mounts(Path dir) implements AutoCloseable {
        static Mounts of(Path dir) throws Exception {
            Path mnt = Files.createDirectories(dir.resolve("mnt")), fs = Files.createDirectories(dir.resolve("fs"));
            Mounts m = new Mounts(dir);
            run("mount", "--bind", mnt.toString(), mnt.toString());
            run("mount", "-t", "tmpfs", "-o", "size=1m", "cryo-fanotify", fs.toString());
            return m;
        }

        private static void run(String... cmd) throws Exception {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        }

        @Override
        public void close() throws Exception {
            new ProcessBuilder("umount", "-l", dir.resolve("mnt").toString()).start().waitFor();
            new ProcessBuilder("umount", "-l", dir.resolve("fs").toString()).start().waitFor();
        }
    }
}
