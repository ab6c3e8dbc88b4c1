package dev.cryo.it;

import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** pidfds of the tree's own tasks come back pointing at the restored tasks; others are refused. */
class PidFdTest {
    @TempDir
    Path tmp;

    private DetachedProcess pidfd(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = TestPrograms.compile("/c/pidfd.c").toString();
        System.arraycopy(args, 0, cmd, 1, args.length);
        return Workloads.ready(DetachedProcess.start(tmp.resolve("pidfd.out"), cmd));
    }

    @Test
    void aRestoredPidfdStillSignalsItsChildAndPollReportsItsExit() throws Exception {
        try (DetachedProcess p = pidfd()) {
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"pidfd\""), show);
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * The same held by the init of a pid namespace with its own /proc (zdtm's fd_from_pidfd in the ns flavor):
     * the restore opened the pidfds by the children's pids outside, which mean nothing in there (ESRCH).
     */
    @Test
    void aPidfdHeldInsideAPidNamespaceStillSignalsItsChild() throws Exception {
        String out = NamespaceTest.verdictInNamespaces(tmp, "pidfd", java.util.List.of("--pid", "--fork", "--mount-proc"));
        assertTrue(out.contains("PASS"), out);
    }

    /** A pidfd of one of the process's own threads (PIDFD_THREAD) and a dup of it (zdtm pidfd_of_thread). */
    @Test
    void aThreadPidfdStillSignalsItsThread() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "pidfdthread");
        assertTrue(out.contains("PASS"), out);
    }

    @Test
    void aPidfdOfATaskOutsideTheTreeIsRefused() throws Exception {
        try (DetachedProcess p = pidfd("outside")) {
            int parent = ProcFs.stat(p.pid()).ppid();
            Cli d = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, d.code(), d.toString());
            assertTrue(d.err().matches("(?s).*pid " + p.pid() + " fd \\d+: a pidfd of pid " + parent
                    + ", which is not part of the dumped tree.*"), d.err());
            assertFalse(Files.exists(tmp.resolve("img").resolve("image.cryo")));
            char s = p.state();
            assertTrue(s == 'S' || s == 'R', "the tree runs on: state " + s);
        }
    }

    /**
     * pidfds of children already reaped (zdtm pidfd_dead), one exited and one killed: they come back as
     * pidfds of dead tasks, with the exit status the kernel keeps for them.
     */
    @Test
    void aPidfdOfAReapedChildStaysAPidfdOfADeadTaskWithItsExitStatus() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "piddead");
        assertTrue(out.contains("PASS"), out);
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("\"reaped\" : \"exited 42\"") && show.contains("\"reaped\" : \"killed by SIGTERM\""), show);
    }

    /**
     * Two tasks each holding a pidfd of one reaped task, opened apart (zdtm pidfd_diffdead): both come back as
     * pidfds of one dead task (one inode), with its exit status. The dump refused it before.
     */
    @Test
    void pidfdsOfOneReapedTaskHeldByTwoTasksStayPidfdsOfOneDeadTask() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("piddead.out"), "piddead", "apart")) {
            List<Integer> tree = StateComparator.tree(p.pid().value());
            try {
                String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
                assertTrue(out.contains("PASS"), out);
            } finally {
                tree.forEach(Workloads::killQuietly); // the holder, were the root to fail before it answers
            }
        }
    }

    /**
     * pidfds of reaped children held by the init of a pid namespace of its own (zdtm pidfd_dead in the ns flavor):
     * the stand-in cryo makes is outside the namespace, so cryo opens the pidfd and hands it in. The dump refused it
     * before ("its holder is in a pid namespace of its own").
     */
    @Test
    void pidfdsOfReapedTasksHeldInsideAPidNamespaceStayPidfdsOfDeadTasks() throws Exception {
        String out = NamespaceTest.verdictInNamespaces(tmp, "piddead", List.of("--pid", "--fork", "--mount-proc"));
        assertTrue(out.contains("PASS"), out);
    }

    /** Both: two holders in a pid namespace of their own (zdtm pidfd_diffdead in the ns flavor). */
    @Test
    void pidfdsOfOneReapedTaskHeldByTwoTasksInsideAPidNamespaceStayPidfdsOfOneDeadTask() throws Exception {
        String out = NamespaceTest.verdictInNamespaces(tmp, "piddead", List.of("--pid", "--fork", "--mount-proc"), "apart");
        assertTrue(out.contains("PASS"), out);
    }
}
