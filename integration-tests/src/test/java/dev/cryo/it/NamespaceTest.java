package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.cryo.it.DumpRestore.assertPassedOnce;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Trees in namespaces of their own, as containers and sandboxed services run: the tree's root is
 * the init of its own pid namespace (the child of {@code unshare --fork}, which stays outside the
 * tree), with uts and ipc namespaces of its own. The restore makes new namespaces of those kinds,
 * every task gets its pid inside back, the init reaps orphans again, the names come back.
 */
class NamespaceTest {
    @TempDir
    Path tmp;

    /** The one child of {@code unshare --fork} (pid {@code unshare}): the namespace's init. */
    static int initUnder(int unshare) throws Exception {
        String children = Files.readString(Path.of("/proc/" + unshare + "/task/" + unshare + "/children")).strip();
        assertFalse(children.isEmpty(), "unshare " + unshare + " has no child");
        return Integer.parseInt(children.split("\\s+")[0]);
    }

    /**
     * The init of the first pid namespace below {@code pid} (pid 1 of a nested NSpid), searched among
     * its descendants, waiting up to 10 s: a manager such as systemd-nspawn makes it through a child
     * that exits, and a shell may stand between (script(1) runs the command with $SHELL -c).
     */
    static int pidNamespaceInitBelow(int pid) throws Exception {
        int[] found = new int[1];
        DetachedProcess.awaitCondition(() -> (found[0] = descendant(pid, p -> {
            String ns = status(p, "NSpid:");
            return ns != null && ns.split("\\s+").length > status(pid, "NSpid:").split("\\s+").length
                    && ns.endsWith("\t1");
        })) > 0, java.time.Duration.ofSeconds(10), "a pid namespace's init below pid " + pid);
        return found[0];
    }

    /** The first descendant of {@code pid} named {@code comm}, breadth first, or 0. */
    static int descendantNamed(int pid, String comm) throws Exception {
        return descendant(pid, p -> comm.equals(status(p, "Name:")));
    }

    private static int descendant(int pid, java.util.function.IntPredicate match) {
        java.util.ArrayDeque<Integer> queue = new java.util.ArrayDeque<>(List.of(pid));
        while (!queue.isEmpty()) {
            int p = queue.poll();
            if (p != pid && match.test(p)) {
                return p;
            }
            try {
                for (String c : Files.readString(Path.of("/proc/" + p + "/task/" + p + "/children")).strip().split("\\s+")) {
                    if (!c.isEmpty()) {
                        queue.add(Integer.parseInt(c));
                    }
                }
            } catch (java.io.IOException gone) { // exited meanwhile
            }
        }
        return 0;
    }

    /** A field of /proc/PID/status without its name, or null when the process is gone. */
    private static String status(int pid, String field) {
        try {
            return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith(field))
                    .map(l -> l.substring(field.length()).strip()).findFirst().orElse(null);
        } catch (java.io.IOException gone) {
            return null;
        }
    }

    static String verdictInNamespaces(Path dir, String name, List<String> unshare, String... args) throws Exception {
        return verdictInNamespaces(dir, name, 1, unshare, args);
    }

    /** As above, the restored tree dumped and restored again until it has been dumped {@code dumps} times (zdtm's --iters). */
    static String verdictInNamespaces(Path dir, String name, int dumps, List<String> unshare, String... args)
            throws Exception {
        // unshare complains on stderr when its child is killed (the dump): stderr goes nowhere
        List<String> command = new ArrayList<>(List.of("sh", "-c", "exec unshare \"$@\" 2>/dev/null", "sh"));
        command.addAll(unshare);
        command.add(TestPrograms.compile("/c/" + name + ".c").toString());
        command.addAll(List.of(args));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(dir.resolve(name + ".out"),
                command.toArray(String[]::new)))) {
            int init = unshare.contains("--fork") ? initUnder(p.pid().value()) : p.pid().value();
            DumpRestore dumped;
            try {
                dumped = DumpRestore.dump(init, dir.resolve("img"));
            } catch (Throwable refused) { // the init runs on, and killing unshare does not end it
                if (init != p.pid().value()) {
                    dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(init), dev.cryo.kernel.Signals.SIGKILL);
                }
                throw refused;
            }
            DetachedProcess restored = dumped.restoreDetached(p.output());
            for (int i = 2; i <= dumps; i++) {
                try {
                    restored = DumpRestore.dump(restored.pid().value(), dir.resolve("img" + i)).restoreDetached(p.output());
                } catch (Throwable refused) { // the restored tree runs on
                    RestoreTest.killAndReap(restored);
                    throw refused;
                }
            }
            return RestoreTest.checkAndReap(restored);
        }
    }

    /**
     * A task that pivots into an empty tmpfs and drops the old root without exec'ing (pivotstay.c) maps
     * its program and libraries from a mount its namespace no longer shows: the restore opened them by
     * path in the task's view and failed (ENOENT) after the dump had killed the tree. cryo now opens
     * what only its own view names, and the task takes those files.
     */
    @Test
    void aTaskThatPivotedWithoutExecComesBackMappingItsOldRootsFiles() throws Exception {
        assertPassedOnce(DumpRestore.workloadVerdict(tmp, "pivotstay"));
    }

    @Test
    void theInitOfItsOwnPidUtsAndIpcNamespacesComesBackWithItsPidsNamesAndOrphans() throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, "pidns", List.of("--pid", "--fork", "--uts", "--ipc")));
    }

    /**
     * A container's SysV objects (docker gives every container an ipc namespace of its own): shared
     * memory segments, attached and not, semaphores, a message queue and the namespace's limits
     * come back with their ids, modes and contents, in a new ipc namespace.
     */
    @Test
    void anIpcNamespaceComesBackWithItsSysvObjects() throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, "ipcns", List.of("--ipc", "--fork")));
    }

    /**
     * SEM_UNDO in a container's ipc namespace: the sets came back with their values, the adjustments of
     * the child's threads did not (the dump read only the host's), so its restored exit gave nothing back.
     */
    @Test
    void semUndoAdjustmentsInAnIpcNamespaceOfTheTreesOwnComeBack() throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, "semundothreads", List.of("--ipc", "--fork")));
    }

    /**
     * A container's POSIX message queue (mq_open in its own ipc namespace) was refused ("holds POSIX message
     * queues [...]; not supported yet"); it comes back with its mode, limits and messages in their order, made
     * again in the new namespace, and each fd opens it again with its flags (ipcns.c mq).
     */
    @Test
    void posixMessageQueuesOfAnIpcNamespaceComeBackWithTheirMessages() throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, "ipcns", List.of("--ipc", "--fork"), "mq"));
    }

    /**
     * A JVM with -XX:+UseLargePages -XX:+UseSHM in a container: its heap is a SysV segment of 2 MiB
     * huge pages (SHM_HUGETLB) marked for removal once attached, in the container's ipc namespace. That
     * was refused (hugetlb memory in an IPC namespace of the tree's, and a segment marked for removal
     * there); it comes back hugetlb with its bytes, still marked and attached by both tasks, and a
     * hugetlb segment nobody attaches comes back with its key and bytes (ipcns.c huge).
     */
    @Test
    void hugetlbSegmentsOfAnIpcNamespaceComeBackAlsoMarkedForRemoval() throws Exception {
        try (HugePages pool = HugePages.atLeastFree(6)) { // 3 pages, and 3 while the dumped namespace is freed
            assertPassedOnce(verdictInNamespaces(tmp, "ipcns", List.of("--ipc", "--fork"), "huge"));
        }
    }

    /**
     * A container's init with a daemon's grandchildren (docker --init: tini as pid 1 of a pid
     * namespace): its children in the session of a leader that has exited come back in it, the
     * helper making that session taking the leader's pid inside the namespace too.
     */
    @Test
    void aPidNamespaceInitsChildrenInTheSessionOfADeadLeaderKeepIt() throws Exception {
        String out = verdictInNamespaces(tmp, "deadsid", List.of("-m", "--pid", "--fork", "--mount-proc"));
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * threadstat.c as the init of its own pid namespace with its own /proc: the files of its thread it holds are
     * named by the namespace's ids (/proc/1/task/2/stat), which the restore did not take for its thread's, and
     * opened before the thread existed (the restore failed: ENOENT). Shared with a forked child, they are
     * refused at dump time as outside a namespace.
     */
    @Test
    void aProcFileOfOneOfItsThreadsNamedInsideItsPidNamespaceNamesThatThreadAfterTheRestore() throws Exception {
        List<String> ns = List.of("-m", "--pid", "--fork", "--mount-proc");
        String out = verdictInNamespaces(tmp, "threadstat", ns);
        assertTrue(out.contains("PASS"), out);
        AssertionError refused = assertThrows(AssertionError.class,
                () -> verdictInNamespaces(Files.createDirectories(tmp.resolve("fork")), "threadstat", ns, "fork"));
        assertTrue(refused.getMessage().contains(" fd 3 (/proc/1/task/2/stat), a /proc file of thread 2 of pid "),
                refused.getMessage());
    }

    /**
     * threadstat.c other there: the child holds /proc/1/task/2/stat, a thread of its parent named by the
     * namespace's ids. It was not told from a process outside (cryo's pid 1 is not in the tree): the dump killed
     * the tree and the restore, which opens every task's files before it makes any thread, failed. It is refused at
     * dump time naming both ids of the process.
     */
    @Test
    void anotherTasksThreadFileNamedInsideItsPidNamespaceIsRefused() throws Exception {
        AssertionError refused = assertThrows(AssertionError.class, () -> verdictInNamespaces(tmp, "threadstat",
                List.of("-m", "--pid", "--fork", "--mount-proc"), "other"));
        assertTrue(java.util.regex.Pattern.compile("pid \\d+ fd \\d+: /proc/1/task/2/stat is a /proc file of thread 2 of"
                + " pid 1 \\(pid \\d+ in cryo's namespace\\), another task of the tree; not supported yet")
                .matcher(refused.getMessage()).find(), refused.getMessage());
    }

    /**
     * The same for a zombie the init adopted from such a session (zdtm's helper_zombie_child, ns
     * flavor): refused before ("is in session N, not its parent's").
     */
    @Test
    void aPidNamespaceInitsZombieFromTheSessionOfADeadLeaderKeepsIt() throws Exception {
        String out = verdictInNamespaces(tmp, "deadsid", List.of("-m", "--pid", "--fork", "--mount-proc"), "zombie");
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * The same for a worker that forked a child and then made a session of its own beside a sibling left in
     * the dead leader's session (RestoreTest's shape): the helper inside the namespace forks the worker too.
     * Refused before ("a restore makes such a session again for the children of one parent only").
     */
    @Test
    void aPidNamespaceInitsWorkerThatLeftTheSessionOfADeadLeaderKeepsItsChildThere() throws Exception {
        String out = verdictInNamespaces(tmp, "deadsid", List.of("-m", "--pid", "--fork", "--mount-proc"), "leads");
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * The same for a process group whose leader has exited and was reaped (zdtm's session01 in the ns
     * flavor): the dump refused it ("is in process group N, whose leader is not in the tree and which is
     * not its parent's"), the group's helper being made only in cryo's pid namespace; it now takes the
     * leader's pid inside too (NSpgid).
     */
    @Test
    void aPidNamespaceInitsChildrenInTheGroupOfADeadLeaderKeepIt() throws Exception {
        String out = verdictInNamespaces(tmp, "deadpgid", List.of("-m", "--pid", "--fork", "--mount-proc"));
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * Zombie shapes inside a pid namespace of their own: a zombie left in a process group whose leader
     * has exited and was reaped (zdtm's zombie01, ns flavor), a task in the session of a zombie sibling
     * that leads it, and an orphan the init adopted from the session of a zombie grandchild of the init
     * that led it (zdtm's zombie_leader, ns flavor).
     */
    @ParameterizedTest
    @ValueSource(strings = {"zombiepgid", "zombielead", "zombieorphan"})
    void zombieShapesInsideAPidNamespaceComeBack(String name) throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, name, List.of("-m", "--pid", "--fork", "--mount-proc")));
    }

    /**
     * A task with supplementary groups in a user namespace that denies setgroups (as every rootless
     * container's), holding unix sockets it made there (denygroups.c under `setpriv --groups`): the task
     * itself made the namespace (`unshare -U -r` execs it), or it is the child of a task outside that made
     * its own. Nothing sets groups in there: the restore failed after the killing dump ("its supplementary
     * groups [1234, 5678] cannot be set in its user namespace ... it was forked with []"); the task is now
     * forked with them, and its sockets' SO_PEERGROUPS name them (the comparator checks both too).
     */
    @ParameterizedTest
    @ValueSource(strings = {"itself", "its child"})
    void aTaskWithGroupsInAUserNamespaceThatDeniesSetgroupsKeepsThemAndItsSocketsNameThem(String who) throws Exception {
        String prog = TestPrograms.compile("/c/denygroups.c").toString();
        String[] command = who.equals("itself")
                ? new String[] {"sh", "-c", "exec setpriv --groups 1234,5678 unshare -U -r " + prog + " 2>/dev/null"}
                : new String[] {"setpriv", "--groups", "1234,5678", prog, "fork"};
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("denygroups.out"), command))) {
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A container's supervisor and its child over unix sockets (a pair, a listener, a connection
     * accepted), the supervisor the init of its own pid namespace: the sockets name the restored
     * tasks as their peers again (SO_PEERCRED, a pidfd of that task, the groups it had). They named
     * cryo (pid, uid 0, its groups) before: the restore made them in its own name.
     */
    @Test
    void unixSocketsInAPidNamespaceNameTheirRestoredPeers() throws Exception {
        String out = verdictInNamespaces(tmp, "peercredns", List.of("--pid", "--fork", "--mount-proc"));
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * zdtm's sock_peercred in its ns flavor: a datagram pair made by a child that exited since, in a
     * container's own pid and net namespaces (peercred.c as their init). The pair's SO_PEERCRED names the
     * child by its pid inside, which the dump reads in the holder (an injected getsockopt); its stand-in
     * is made at that pid in there. It was refused ("which is not in the tree and has exited, and pid N
     * holding it is in a pid namespace of its own").
     */
    @Test
    void aPeerThatHadExitedInAContainerIsNamedAgainByItsPidThere() throws Exception {
        String out = verdictInNamespaces(tmp, "peercred", List.of("--pid", "--fork", "--mount-proc", "--net"));
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * zdtm's session01 in its ns flavor: an orphan the namespace's init adopted, in the session and group of
     * the init's child that leads them (siblingsid.c as the init). It was refused ("is in session L, not its
     * parent's ... a restore would put it in its parent's session"); the restore forks it from that sibling
     * with CLONE_PARENT once the sibling made its session.
     */
    @Test
    void anOrphanInTheSessionOfItsSiblingComesBackThereUnderTheInit() throws Exception {
        String out = verdictInNamespaces(tmp, "siblingsid", List.of("--pid", "--fork", "--mount-proc"));
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * zdtm's child_subreaper_and_reparent in its ns flavor: orphans the namespace's init reaped from the
     * session of a task two levels down (subreapsid.c as the init). Refused before ("is in session L, not
     * its parent's ... or it was reparented"); a helper of the leader forks each and exits.
     */
    @Test
    void anOrphanInTheSessionOfATaskFurtherDownComesBackThereUnderTheInit() throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, "subreapsid", List.of("--pid", "--fork", "--mount-proc")));
    }

    /**
     * The same in a user namespace of the tree's (zdtm's uns flavor of child_subreaper_and_reparent): the
     * dump refused it ("is in session L, not its parent's"), as the leader inside may not name the
     * helper's pid in cryo's pid namespace; the helper now takes it there from ns_last_pid, as forks
     * inside do.
     */
    @Test
    void anOrphanInTheSessionOfATaskFurtherDownComesBackThereUnderTheInitOfAUserNamespace() throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, "subreapsid", List.of("-Ur", "--pid", "--fork", "--mount-proc")));
    }

    /** The same in a net namespace of the tree's (unshare -n): its sockets are built once it exists again. */
    @Test
    void unixSocketsInANetNamespaceOfTheTreesNameTheirRestoredPeers() throws Exception {
        String out = verdictInNamespaces(tmp, "peercredns", List.of("--net"));
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * A task in namespaces of an ancestor's other than its parent's (zdtm's netns_sub: a grandchild that entered
     * the root's net namespace with setns; tempfs_subns: a grandchild forked before its parent unshared a mount
     * namespace, left in the root's): the dump refused both ("is neither its parent's ... nor one it made: it is pid
     * N's, entered with setns"). The restore forks them in their parent's and has them join the root's, made again
     * by then, for net, mnt, uts and ipc alike (setnsback.c checks each namespace is the root's, its host name,
     * the root's tmpfs and SysV segment).
     */
    @Test
    void tasksInAnAncestorsNamespacesEnteredWithSetnsOrLeftByAnUnshareComeBackInThem() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        assertPassedOnce(verdictInNamespaces(tmp, "setnsback", List.of("--net", "--mount", "--uts", "--ipc"),
                box.toString()));
    }

    /**
     * The same in the host's namespaces: grandchildren in the root's net namespace, the host's, one forked before its
     * parent unshared one, one that entered it with setns after. The dump took the first for the maker of the host's
     * namespace (no task of the tree had made it) and refused the second as having entered the first's; both are in
     * the root's now, the first forked there, the second joining it again.
     */
    @Test
    void aTaskBackInTheRootsNetNamespaceAfterItsParentUnsharedOneComesBackThere() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        String out = DumpRestore.workloadVerdict(tmp, "setnsback", box.toString(), "host");
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * The same entered from a sibling (no ancestor's): a restore makes a task's namespaces before its descendants
     * fork, in no order with other tasks, so it stays refused, by name, and the tree runs on.
     */
    @Test
    void aTaskInItsSiblingsNamespacesIsRefusedAndTheTreeRunsOn() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        String prog = TestPrograms.compile("/c/setnsback.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("sibling.out"), "sh", "-c",
                "exec unshare --net --mount --uts --ipc " + prog + " " + box + " sibling 2>/dev/null"))) {
            Cli refused = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("no").toString(),
                    "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("entered with setns, and pid ") && refused.err().contains("is not its ancestor"),
                    refused.err());
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /** The same with a network namespace of its own, its loopback device up: lo is up again after the restore. */
    @Test
    void aNetworkNamespaceWithOnlyItsLoopbackComesBackWithLoUp() throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, "pidns", List.of("--pid", "--fork", "--uts", "--ipc", "--net"),
                "net"));
    }

    /**
     * A tmpfs covered by a later tmpfs on the same point (zdtm's mapfile_priv in its ns flavor: the
     * program mounts its own /tmp over its container's): the dump refused it ("is covered by a later
     * mount on the same point: its files cannot be read"). The covered one's files are now read in a
     * copy of the namespace without the covering mount, and both come back in their order. In a user namespace (uns),
     * where no other namespace shows it, it was refused ('... cryo's copy of the mount namespace locks them'): that
     * copy is a clone taken inside the namespace now, where the covering mount is not locked.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"ns", "uns"})
    void aTmpfsCoveredByALaterMountOnTheSamePointComesBackWithItsFiles(String flavor) throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        String setup = "mount -t tmpfs -o size=1m cryo-under " + box + " && echo under > " + box + "/under"
                + " && mount -t tmpfs -o size=1m cryo-over " + box + " && echo over > " + box + "/over"
                + " && exec \"$0\" \"$@\"";
        List<String> unshare = new ArrayList<>(unshare(flavor));
        unshare.addAll(List.of("sh", "-c", setup));
        assertPassedOnce(verdictInNamespaces(tmp, "coveredtmpfs", unshare, box.toString()));
    }

    /**
     * firejail's sandbox: it binds /dev, with the host's /dev/shm (two tmpfs stacked on it on this host), on
     * /run/firejail/mnt/dev, then a read-only directory over that, so no path reaches the covered tmpfs's point: the
     * dump refused it ('... is covered by 1 later mounts on the same point, and its files cannot be read apart from
     * the mounts on them: umount2(/run/firejail/mnt/dev/shm, MNT_DETACH): ENOENT'), the tree running on. The copy now
     * takes off the mount above until the path reaches the point, then the ones stacked on it. It also blacklists
     * /mnt by binding /mnt on itself, then that read-only directory, of the same file system, over it: told apart by
     * its device alone the cover passed for the bind below it, was left on, and the tmpfs under /mnt could not be
     * read ('the tmpfs on /mnt/... cannot be read'); and a file of a tmpfs it binds on /etc/machine-id, under the
     * tmpfs it then binds on /etc, was refused ('cannot be seen (/proc/self/fd/N/.: Not a directory)': the copy of a
     * covered bind was read as a directory). Here BOX/d holds the two stacked tmpfs, BOX is bound on itself, the upper
     * tmpfs's file is bound on BOX/f, and an empty directory beside BOX (the same file system) is bound over it.
     */
    @Test
    void aCoveredTmpfsWhosePathAMountAboveHidesComesBackWithItsFiles() throws Exception {
        Path box = Files.createDirectories(tmp.resolve("box/d")).getParent();
        Path lid = Files.createDirectory(tmp.resolve("lid"));
        String setup = "mount --bind " + box + " " + box
                + " && mount -t tmpfs -o size=1m cryo-under " + box + "/d && echo under > " + box + "/d/under"
                + " && mount -t tmpfs -o size=1m cryo-over " + box + "/d && echo over > " + box + "/d/over"
                + " && touch " + box + "/f && mount --bind " + box + "/d/over " + box + "/f"
                + " && mount --bind " + lid + " " + box + " && exec \"$0\" \"$@\"";
        List<String> unshare = new ArrayList<>(unshare("ns"));
        unshare.addAll(List.of("sh", "-c", setup));
        assertPassedOnce(verdictInNamespaces(tmp, "coveredtmpfs", unshare, box + "/d", box.toString(), "f"));
    }

    /**
     * zdtm's tempfs_overmounted: tmpfs mounts on a/b (two stacked, a third on the upper one's directory) that
     * mounts on a, a directory above, cover as well: the dump refused the first ('covered by 1 later mounts on the
     * same point, and a copy of it shows another file system'), as taking off the mounts on its own point left the
     * path going through a's. The copy now takes off whatever the path meets that is none of the mount's ancestors,
     * until it reaches the mount's file system; each tmpfs comes back with its file (buriedtmpfs.c takes them off
     * one by one after the restore). In a user namespace (uns: zdtm's uns flavor) cryo's copy of the namespace locked
     * every mount and the dump refused it ('... cryo's copy of the mount namespace locks them (umount2(...):
     * EINVAL'): the copy is now a clone taken inside the namespace, where the mounts it made are not locked.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"ns", "uns"})
    void tmpfsMountsBuriedUnderMountsOnADirectoryAboveComeBackWithTheirFiles(String flavor) throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        assertPassedOnce(verdictInNamespaces(tmp, "buriedtmpfs", unshare(flavor), box.toString()));
    }

    /**
     * zdtm's overmount_with_shared_parent (and tempfs_overmounted01's first chain): a bind of a/b over a covers its
     * own source, and a bind on a/c propagates a copy, through the directory's peer group, onto a/b/c below it. The
     * dump refused the first ('a bind mount of BOX/a/b, which the namespace no longer reaches'): it checked the
     * source by its path, which now goes through the bind. Each side is seen now in a copy of its mount alone
     * (the source as the path below its mount's root); the restore binds a/b before a is covered, the hidden
     * copy comes back under it (selfcover.c finds it in mountinfo, then takes the mounts off). In a user namespace
     * (uns) the copy of the namespace locked the mounts and the dump failed ('cannot be seen (umount2(a mount
     * covering ...): EINVAL)'): see the test above.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"ns", "uns"})
    void aBindThatCoversItsOwnSourceAndACopyPropagatedUnderItComeBack(String flavor) throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        assertPassedOnce(verdictInNamespaces(tmp, "selfcover", unshare(flavor), box.toString()));
    }

    /**
     * zdtm's mntns_remap: a shared bind of 1/a copied onto a tmpfs's a, a tmpfs on 1/a/c (propagated onto the copy),
     * then that tmpfs moved over 1: the first a and its c are hidden, and no path reaches the copies' source. The dump
     * refused it ('its mount tmpfs ... on BOX/1/a shows /1/a of its file system; not supported yet'); each copy is
     * now bound from its hidden peer's own mount (an fd the restore keeps), so the two are one file system and one
     * group again (remapmount.c: the files, mountinfo's devices and groups, and the hidden c going with its copy).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"ns", "uns"})
    void aSharedBindCopiedOntoAMountMovedOverItsSourceComesBackAPeerOfTheHiddenOne(String flavor) throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        assertPassedOnce(verdictInNamespaces(tmp, "remapmount", unshare(flavor), box.toString()));
    }

    /**
     * zdtm's overmount_sock: a connection accepted from a listener bound to the relative name d/sock, the listener
     * closed, then a tmpfs mounted on d. The dump refused it ('its socket file ... is covered by a mount made on a
     * directory of its path since the bind'). The file is read under the tmpfs through a clone of its directory's
     * mount alone, and the restore binds the connection's listener of the moment there (overmountsock.c: the bytes
     * and the name come back, the tmpfs can be unmounted, the file is under it). With its directory on a tmpfs only
     * its namespace shows (zdtm's ns flavor: the container's root) and dumped a second time (overmount_sock --iters 2:
     * {@link #OWN_TMPFS_TWICE}), the restored tree was refused ('its socket file /d/sock is covered by a mount ... only when the file is reached
     * under the mount of /'): the kernel names a file bound through the clone from the clone's root, which the dump
     * now takes for the holder's cwd, checked under the mount there.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"ns", "uns", OWN_TMPFS_TWICE})
    void aConnectionWhoseSocketFileATmpfsCoversSinceComesBackWithItsFileUnderTheTmpfs(String flavor) throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        assertPassedOnce(verdictInNamespaces(tmp, "overmountsock", dumps(flavor), unshare(flavor, box), box.toString()));
    }

    /**
     * overmount_sock's general case: a listener and a datagram socket, both still open, bound to relative names in d,
     * then a tmpfs mounted on d. The dump refused them ('... is supported only for a connection whose listener has
     * closed'); each is now bound again under the tmpfs through a clone of d's mount, with its file's mode
     * (overmountlisten.c: the tmpfs can be unmounted, the files are sockets with their modes, a new client is accepted
     * on d/sock and a datagram sent to d/dg received); {@link #OWN_TMPFS_TWICE} as above.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"ns", "uns", OWN_TMPFS_TWICE})
    void aListenerAndADatagramSocketWhoseFilesATmpfsCoversSinceComeBackUnderTheTmpfs(String flavor) throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        assertPassedOnce(verdictInNamespaces(tmp, "overmountlisten", dumps(flavor), unshare(flavor, box), box.toString()));
    }

    /**
     * A container's console (zdtm's pty-console, runc's /dev/console): pty 0 of the namespace's own devpts instance
     * bound on a file. The restore bound it before the tree's pairs were open again and failed with ENOENT after the
     * killing dump, so the dump refused it ('binds the pseudo-terminal /0 of a devpts instance made inside it'); it
     * is bound once they are (the state comparator holds the mount table to it; the console is pty 0's node).
     */
    @Test
    void aPtyOfItsOwnDevptsBoundOnAFileAsAContainersConsoleComesBack() throws Exception {
        Path d = Files.createDirectory(tmp.resolve("con"));
        String setup = "mkdir " + d + "/pts && mount -t devpts -o newinstance,ptmxmode=0666 cryo-pts " + d + "/pts && touch "
                + d + "/console && exec 3<>" + d + "/pts/ptmx && mount --bind " + d + "/pts/0 " + d + "/console"
                + " && echo ready && exec sleep 600";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("con.out"), "unshare", "-m",
                "--propagation", "private", "sh", "-c", setup));
             DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"))) {
            Object rdev = Files.getAttribute(Path.of("/proc/" + r.pid().value() + "/root" + d + "/console"), "unix:rdev");
            assertEquals(136L << 8, ((Number) rdev).longValue(), "the console is not pty 0 (136:0)");
        }
    }

    /**
     * A directory of a tmpfs hidden under a later mount on it (zdtm's tempfs): the dump read the tmpfs
     * through the namespace, where that mount hides the directory, and its file came back missing —
     * silently, until the program unmounted the cover ("the covered tmpfs came back without its file").
     * The tmpfs is now read through a copy of it alone (open_tree's clone).
     */
    @Test
    void aTmpfsDirectoryHiddenUnderALaterMountComesBackWithItsFiles() throws Exception {
        String out = coveredTmpfs("-m");
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * A binfmt_misc mount made inside a mount namespace of the host's user namespace (zdtm's binfmt_misc and
     * mountpoints, ns flavor): refused before ("a new binfmt_misc mount is not supported yet"); it is the
     * host's instance, mounted again by type. binfmtmnt.c.
     */
    @Test
    void aBinfmtMiscMountMadeInsideComesBack() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("binfmt"));
        String out = verdictInNamespaces(tmp, "binfmtmnt", List.of("-m", "sh", "-c",
                "mount -t binfmt_misc binfmt_misc " + box + " && exec \"$0\" \"$@\""), box.toString());
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * The same with entries registered (zdtm's binfmt_misc): the kernel removes them with the instance's last
     * mount (the killing dump's), and the dump refused them ('has binfmt_misc entries registered [cryo37e,
     * cryo37m]'); the restore registers each again from its text, a magic at an offset with a mask, disabled,
     * and an extension of bytes that are no text, holding ':' too, with flags. binfmtmnt.c checks each reads
     * as before and removes them.
     */
    @Test
    void aBinfmtMiscMountWithEntriesComesBackWithThem() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("binfmt"));
        assertPassedOnce(verdictInNamespaces(tmp, "binfmtmnt", List.of("-m", "sh", "-c",
                "mount -t binfmt_misc binfmt_misc " + box + " && exec \"$0\" \"$@\""), box.toString(), "entry"));
    }

    /** coveredtmpfs.c's verdict, its tmpfs and the one on its directory made under {@code unshare} with these options. */
    private String coveredTmpfs(String... unshare) throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        String setup = "mount -t tmpfs -o size=1m cryo-parent " + box + " && mkdir " + box + "/test && echo under > "
                + box + "/test/under && mount -t tmpfs -o size=1m cryo-child " + box + "/test && echo over > " + box
                + "/test/over && exec \"$0\" \"$@\"";
        List<String> args = new ArrayList<>(List.of(unshare));
        args.addAll(List.of("sh", "-c", setup));
        return verdictInNamespaces(tmp, "coveredtmpfs", args, box + "/test");
    }

    /**
     * The same in a user namespace of the tree's (zdtm's tempfs, uns flavor): cryo's copy of the task's mount
     * namespace, owned by cryo's user namespace, locks the mounts it copies, so the clone of the tmpfs alone
     * was refused there (EINVAL) and its files were read with the later mount on them: 'FAIL: the covered
     * tmpfs came back without its file', silently. A tmpfs no later mount covers on its own point is cloned
     * in the task's namespace itself now.
     */
    @Test
    void aTmpfsDirectoryHiddenUnderALaterMountInAUserNamespaceComesBackWithItsFiles() throws Exception {
        String out = coveredTmpfs("-U", "--map-root-user", "-m");
        assertTrue(out.contains("PASS"), out);
    }

    /**
     * A child's tmpfs over the copy of its parent's (zdtm's mntns_*). In a user namespace (uns flavor) cryo's copy
     * of the child's namespace locks the covering mount, and the dump failed with a bare 'umount2(BOX,
     * MNT_DETACH): EINVAL (Invalid argument)': the covered file system is read where the parent sees it
     * uncovered. In both, the child's copy came back as a tmpfs of its own, with the same files but no longer the
     * parent's ('FAIL: the child failed (status 0x900)', step 9: the parent's file written after the restore missing); it is
     * a clone of the parent's now.
     */
    /**
     * zdtm's sk-unix-mntns: a child in a mount namespace of its own binds a datagram socket on its own tmpfs at the
     * path its parent's socket has on the host's, each with an unnamed client connected and a datagram queued. The
     * dump refused the child's ("... not supported when it is a datagram socket of cryo's net namespace (its clients
     * are connected again from cryo's view)"): its client is now made and connected inside the child's view too.
     * skunixmntns.c: both queued datagrams come back, and each client still reaches its own socket.
     */
    @Test
    void aDatagramSocketBoundInAChildsOwnMountNamespaceKeepsItsClient() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("dir"));
        String out = DumpRestore.workloadVerdict(tmp, "skunixmntns", dir.toString());
        assertTrue(out.contains("PASS"), out);
    }

    /** The same with the child's client bound to a name of its own: refused by name, the tree running on. */
    @Test
    void aDatagramSocketBoundInAChildsOwnMountNamespaceWithANamedClientIsRefused() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("dir"));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("skunixmntns.out"),
                TestPrograms.compile("/c/skunixmntns.c").toString(), dir.toString(), "named"))) {
            Cli refused = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().matches("(?s).*unix datagram socket " + java.util.regex.Pattern.quote(dir + "/test.socket")
                    + ": .* it is a datagram socket of cryo's net namespace whose client, socket \\d+ \\(pid \\d+ fd \\d+\\),"
                    + " bound to @cryo-skunixmntns-\\d+, is made again in another view .*"), refused.err());
            assertTrue(Workloads.check(p).contains("PASS"));
        }
    }

    /**
     * A bind mount of a file since removed, of a file system the namespace did not make (the host's, seen through
     * its copy of the host's mounts: zdtm's mntns_deleted's second mount): the dump refused it ("is a bind mount of
     * ...//deleted, which is gone; it cannot be bound again"). The restore makes the file again at its old path on
     * that file system, binds it and removes it; the bind's root still reads ".../src//deleted" (delhostbind.c).
     */
    @Test
    void aBindOfARemovedFileOfTheHostsFileSystemComesBackRemoved() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        String out = verdictInNamespaces(tmp, "delhostbind", List.of("-m"), box.toString());
        assertTrue(out.contains("PASS"), out);
        assertTrue(Files.notExists(box.resolve("src")), "the file made for the bind was left behind");
    }

    /**
     * The same bind copied into a child's mount namespace: each namespace's restore would make the removed file
     * again, two files where there was one (tried: the child's came back another inode). Refused, the tree running on.
     */
    @Test
    void aBindOfARemovedFileOfTheHostsFileSystemThatAChildsNamespaceCopiedIsRefused() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        List<String> command = List.of("sh", "-c", "exec unshare \"$@\" 2>/dev/null", "sh", "-m",
                TestPrograms.compile("/c/delhostbind.c").toString(), box.toString(), "child");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("delhostbind.out"),
                command.toArray(String[]::new)))) {
            Cli refused = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("the removed file is bound in the mount namespace of pid " + p.pid() + " too"),
                    refused.err());
            assertTrue(Workloads.check(p).contains("PASS"));
        }
    }

    /**
     * The same, another file at the removed file's old path by the restore: the bind would show that file. The
     * restore is refused naming the path and leaves nothing (the other file stays, untouched); once it is moved
     * away the image restores.
     */
    @Test
    void aBindOfARemovedFileWhoseOldPathAnotherFileTookIsRefusedAtRestore() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        List<String> command = List.of("sh", "-c", "exec unshare \"$@\" 2>/dev/null", "sh", "-m",
                TestPrograms.compile("/c/delhostbind.c").toString(), box.toString());
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("delhostbind.out"),
                command.toArray(String[]::new)))) {
            int pid = p.pid().value();
            DumpRestore d = DumpRestore.dump(pid, tmp.resolve("img"));
            Files.writeString(box.resolve("src"), "other");
            Cli refused = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d", "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("another file is at the old path " + box.resolve("src")), refused.err());
            assertEquals("other", Files.readString(box.resolve("src")));
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), java.time.Duration.ofSeconds(30),
                    "the failed restore's tree to be gone");
            Files.delete(box.resolve("src"));
            assertTrue(RestoreTest.checkAndReap(d.restoreDetached(p.output())).contains("PASS"));
            assertTrue(Files.notExists(box.resolve("src")), "the file made for the bind was left behind");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"-m", "-U --map-root-user -m"})
    void aChildsTmpfsOverItsParentsComesBackOnTheParentsFileSystem(String unshare) throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        String setup = "mount -t tmpfs -o size=1m cryo-under " + box + " && echo under > " + box + "/under"
                + " && exec \"$0\" \"$@\"";
        List<String> args = new ArrayList<>(List.of(unshare.split(" ")));
        args.addAll(List.of("sh", "-c", setup));
        assertPassedOnce(verdictInNamespaces(tmp, "childcover", args, box.toString()));
    }

    /**
     * A child's bind of a directory of its parent's tmpfs, which its own namespace no longer mounts, with a file
     * held open through it and through the parent's bind of another directory (zdtm's mntns_link_remap and
     * mntns_link_ghost with their file kept): refused before ("its mount tmpfs cryo-zero on DIR/2 shows /2 of its
     * file system; not supported yet"). It is a clone of the parent's tmpfs made again, and the two fds are one
     * file through two mounts (childbind.c).
     */
    @Test
    void aChildsBindOfADirectoryOfItsParentsTmpfsComesBack() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("d"));
        assertPassedOnce(verdictInNamespaces(tmp, "childbind", List.of("-m"), dir.toString()));
    }

    /**
     * A deleted file on a tmpfs that only the tree's mount namespace mounts, held by an fd and a shared mapping
     * (zdtm's mntns_link_ghost, without its child): the restore made it again where cryo sees its path, on the
     * host's file system under DIR ("FAIL: the deleted file is on device 803, DIR's tmpfs is ..."). It is made
     * again on the restored tmpfs, in the task's namespace (mntghost.c).
     */
    @Test
    void aDeletedFileOnATmpfsOfTheTreesMountNamespaceComesBackOnThatTmpfs() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("d"));
        assertPassedOnce(verdictInNamespaces(tmp, "mntghost", List.of("-m"), dir.toString()));
        try (var left = Files.list(dir)) {
            assertEquals(List.of(), left.toList(), "the restore left the deleted file behind on the host");
        }
    }

    /**
     * The same with 9 MiB of data, which travel apart in pieces that the restore reads from the image as it writes the
     * file: made in the task's mount namespace, where the image's path names nothing, so the image is opened before.
     */
    @Test
    void aDeletedFileOfMoreThanAChunkOnATmpfsOfTheTreesMountNamespaceComesBackOnThatTmpfs() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("d"));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("mntghost.out"), "unshare", "-m",
                TestPrograms.compile("/c/mntghost.c").toString(), dir.toString(), Integer.toString(9 << 20)))) {
            assertPassedOnce(RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--ghost-limit",
                    "16M")));
        }
    }

    /**
     * The same with the file deleted (zdtm's mntns_link_ghost): the child holds it through the parent's bind, which
     * only the parent's namespace has, and through its own. Refused before ('deleted file DIR/1/F was opened through
     * mount N, which its mount namespace does not have'). It is made again in the parent's namespace on its bind,
     * linked for an instant into the child's through the child's bind, and each fd takes its own: one file, no
     * link, through two mounts (childbind.c deleted).
     */
    @Test
    void aDeletedFileHeldThroughAParentsBindAndItsOwnComesBackThroughBoth() throws Exception {
        childBindHoldsADeletedFileThroughBoth("deleted");
    }

    /**
     * The same with the file still linked as DIR/0/F, a name only the parent's namespace shows (zdtm's
     * mntns_link_remap): refused before ('was deleted but the file is still linked under another name'). That
     * file, made again with its tmpfs, is linked for an instant on the parent's bind (through that bind's mount:
     * the two are other mounts) and on the child's: one file, one link, through two mounts (childbind.c remap).
     */
    @Test
    void aDeletedFileStillLinkedWhereOnlyItsParentsNamespaceSeesComesBackThroughBothMounts() throws Exception {
        childBindHoldsADeletedFileThroughBoth("remap");
    }

    /** childbind.c in {@code mode}, in a mount namespace of its own: its verdict after one restore, not started over. */
    private void childBindHoldsADeletedFileThroughBoth(String mode) throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("d"));
        assertPassedOnce(verdictInNamespaces(tmp, "childbind", List.of("-m"), dir.toString(), mode));
    }

    /**
     * A file open on a tmpfs that a bind of itself covers since (zdtm's overmounted_file, which CRIU refuses): the
     * restore reopened it by path, on the covering mount, silently (another mount id; an umount of the covering
     * mount found it busy). Refused at dump naming the pid, fd, path and both mounts; the tree runs on. overmounted.c.
     */
    @Test
    void aFileOpenOnAMountABindOfItselfCoversIsRefusedAndTheTreeRunsOn() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("d"));
        String prog = TestPrograms.compile("/c/overmounted.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("overmounted.out"), "sh", "-c",
                "exec unshare -m --propagation private " + prog + " " + dir + " 2>/dev/null"))) {
            Cli refused = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("no").toString(),
                    "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("pid " + p.pid().value() + " fd ") && refused.err().contains(dir + "/F is open"
                    + " on mount ") && refused.err().contains("of the same file system now covers at that path"), refused.err());
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /**
     * A host whose mounts include a stack of shared mounts on one point (systemd's binfmt_misc over
     * its autofs, `ip netns`'s nsfs under the bind of /run/netns, a harness's tmpfs stacks): the
     * tree's copy made them private (unshare's default), but the restored copy of cryo's namespace
     * kept the covered one a peer of the host's group, as no path reaches it: before, the restore
     * failed after the killing dump ("its mount namespace did not come back as it was: missing
     * [... tmpfs cryo-low / rw,relatime private], not dumped [... shared(...)]").
     */
    @Test
    void aHostsStackOfSharedMountsComesBackPrivateAsTheTreesCopyHadIt() throws Exception {
        Path stack = Files.createDirectory(tmp.resolve("hoststack"));
        Path box = Files.createDirectory(tmp.resolve("box"));
        try {
            assertEquals(0, new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "cryo-low", stack.toString()).inheritIO().start().waitFor());
            assertEquals(0, new ProcessBuilder("mount", "--make-shared", stack.toString()).inheritIO().start().waitFor());
            assertEquals(0, new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "cryo-high", stack.toString()).inheritIO().start().waitFor());
            String setup = "mount -t tmpfs -o size=1m cryo-under " + box + " && echo under > " + box + "/under"
                    + " && mount -t tmpfs -o size=1m cryo-over " + box + " && echo over > " + box + "/over"
                    + " && exec \"$0\" \"$@\"";
            String out = verdictInNamespaces(tmp, "coveredtmpfs", List.of("-m", "--pid", "--fork", "--mount-proc", "sh",
                    "-c", setup), box.toString());
            assertTrue(out.contains("PASS"), out);
        } finally {
            new ProcessBuilder("umount", "-l", stack.toString()).start().waitFor();
            new ProcessBuilder("umount", "-l", stack.toString()).start().waitFor();
        }
    }

    /**
     * {@code unshare -m --pid --fork --mount-proc} around a shell that mounts a tmpfs and, in it, a
     * read-only bind mount of a host directory, then execs the workload (a container's shape):
     * its /proc, the tmpfs with its files, an open one and its cwd in it, and the bind come back.
     */
    @Test
    void aMountNamespaceWithItsOwnProcATmpfsAndAReadOnlyBindComesBack() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.writeString(src.resolve("file"), "from the host\n");
        String setup = "mount -t tmpfs -o size=4m,mode=0755 cryo-box " + box + " && mkdir " + box + "/src"
                + " && mount --bind " + src + " " + box + "/src && mount -o remount,bind,ro " + box + "/src"
                + " && exec \"$0\" \"$@\"";
        assertPassedOnce(verdictInNamespaces(tmp, "mntns", List.of("-m", "--pid", "--fork", "--mount-proc", "sh", "-c",
                setup), box.toString()));
    }

    /**
     * A container's /dev on its tmpfs: device nodes made with mknod (a character and a block one),
     * a FIFO, a file with a user.* extended attribute in a directory with a trusted.* one (as
     * overlayfs marks an opaque directory), next to mntns.c's files: they come back with their
     * kind, device numbers, modes, owners, inode numbers and extended attributes.
     */
    @Test
    void deviceNodesAndAFifoOnATmpfsComeBack() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.writeString(src.resolve("file"), "from the host\n");
        String setup = "mount -t tmpfs -o size=4m,mode=0755 cryo-box " + box + " && mkdir " + box + "/src " + box + "/dev"
                + " && mknod -m 666 " + box + "/dev/null c 1 3 && mknod -m 620 " + box + "/dev/cryo-loop b 7 200"
                + " && chown 1000:5 " + box + "/dev/cryo-loop && mkfifo -m 600 " + box + "/dev/initctl"
                + " && echo kept > " + box + "/dev/.keep && python3 -c \"import os; os.setxattr('" + box + "/dev/.keep',"
                + " 'user.cryo', b'hello'); os.setxattr('" + box + "/dev', 'trusted.overlay.opaque', b'y')\""
                + " && mount --bind " + src + " " + box + "/src && mount -o remount,bind,ro " + box + "/src"
                + " && exec \"$0\" \"$@\"";
        List<String> command = new ArrayList<>(List.of("sh", "-c", "exec unshare \"$@\" 2>/dev/null", "sh", "-m", "--pid",
                "--fork", "--mount-proc", "sh", "-c", setup, TestPrograms.compile("/c/mntns.c").toString(), box.toString()));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("mntns.out"),
                command.toArray(String[]::new)))) {
            int init = initUnder(p.pid().value());
            Path dev = Path.of("/proc/" + init + "/root" + box + "/dev");
            List<String> before = nodes(dev);
            DetachedProcess r = DumpRestore.dump(init, tmp.resolve("img")).restoreDetached(p.output());
            try {
                assertEquals(before, nodes(dev), "the nodes of its /dev");
            } finally {
                String out = RestoreTest.checkAndReap(r);
                assertTrue(out.contains("PASS"), out);
            }
        }
    }

    /**
     * A tree in a mount namespace of its own holds a copy of the host's {@code ip netns add} mount under
     * /run/netns, which the host removes ({@code ip netns del}) between the dump and the restore, as
     * another session's network test does: the restore's namespace is a copy of the host's as it is
     * then and lacks it, as the host does (MountRestore neither requires nor compares such mounts).
     * The comparator failed on it before ("mount /run/netns/...: dumped '...', restored (absent)").
     */
    @Test
    void aHostNetnsMountTheHostRemovedSinceTheDumpIsGoneFromTheRestoredNamespaceAsFromTheHost() throws Exception {
        String name = "cryo-r23-" + ProcessHandle.current().pid();
        assertEquals(0, new ProcessBuilder("ip", "netns", "add", name).inheritIO().start().waitFor());
        boolean added = true;
        try (DetachedProcess p = execedSleep(Workloads.ready(DetachedProcess.start(tmp.resolve("copy.out"), "unshare", "--mount",
                "sh", "-c", "echo ready; exec sleep 1000")))) {
            String inside = Files.readString(Path.of("/proc/" + p.pid() + "/mountinfo"));
            assertTrue(inside.contains(" /run/netns/" + name + " "), inside);
            DumpRestore d = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            assertEquals(0, new ProcessBuilder("ip", "netns", "del", name).inheritIO().start().waitFor());
            added = false;
            DetachedProcess r = d.restoreDetached(p.output());
            try {
                assertFalse(Files.readString(Path.of("/proc/" + r.pid() + "/mountinfo")).contains("/run/netns/" + name),
                        "the restored namespace has a mount the host no longer has");
            } finally {
                dev.cryo.kernel.Sys.kill(r.pid(), dev.cryo.kernel.Signals.SIGKILL);
                dev.cryo.kernel.Sys.wait4(r.pid().value(), 0);
            }
        } finally {
            if (added) {
                new ProcessBuilder("ip", "netns", "del", name).inheritIO().start().waitFor();
            }
        }
    }

    /**
     * An {@code ip netns add} made inside the tree's own mount namespace: its nsfs mount cannot be made again (the
     * restore neither requires nor makes such mounts, they are the host's), so the dump refuses it by name and the
     * tree runs on. It is told from a copy of the host's by the host's table: a private copy (unshare's default) caught
     * between the host's umount and removal of its file by another program's {@code ip netns del} looks the same for
     * that moment (session 50's flake of NetNamespaceTest, whose tree now follows the host's mounts as a slave).
     */
    @Test
    void anIpNetnsAddMadeInsideTheTreesMountNamespaceIsRefusedByName() throws Exception {
        String inside = "cryo-r51-" + ProcessHandle.current().pid();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("inside.out"), "unshare", "--mount",
                "sh", "-c", "ip netns add " + inside + " && echo ready; exec sleep 1000"))) {
            Cli refused = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("no").toString(), "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("its mount nsfs nsfs on /run/netns/" + inside + " ")
                    && refused.err().contains("was made inside it"), refused.err());
            assertTrue(p.alive(), "the tree runs on");
        } finally { // the host's empty file ip made for it (its mount was the tree's)
            new ProcessBuilder("ip", "netns", "del", inside).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
            Files.deleteIfExists(Path.of("/run/netns/" + inside));
        }
    }

    /**
     * A host that makes and removes network namespaces all the time (a container runtime's {@code ip
     * netns add/del}) while a tree whose mount namespace follows the host's (a slave) is dumped and
     * restored: each of those mounts propagates to the tree's copy. Read between the tree's table and
     * the host's, one looked made inside the tree ("a new nsfs mount is not supported yet", 6 dumps of
     * 8 refused), and one removed while the restore set its propagation or unmounted it failed the
     * restore after the killing dump (ENOENT: 2 restores of 2 lost their tree).
     */
    @Test
    void aTreeWhoseMountsFollowTheHostsIsDumpedAndRestoredWhileTheHostMakesAndRemovesNetworkNamespaces() throws Exception {
        String prefix = "cryo-ch-" + ProcessHandle.current().pid() + "-";
        // bounded: 400 rounds of an add and a delete, stopped at the end if still going
        Process churn = new ProcessBuilder("sh", "-c", "i=0; while [ $i -lt 400 ]; do i=$((i+1));"
                + " ip netns add " + prefix + "$((i%3)) 2>/dev/null; ip netns del " + prefix + "$(((i+1)%3)) 2>/dev/null; done")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            for (int round = 0; round < 3; round++) {
                try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("churn" + round + ".out"),
                        "unshare", "--mount", "--propagation", "slave", "sh", "-c", "echo ready; exec sleep 1000"))) {
                    // no comparator: the host's namespaces and their copies in the tree's change by the moment
                    Path img = tmp.resolve("img" + round), pidfile = tmp.resolve("pid" + round);
                    Cli dump = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", img.toString(), "--no-progress");
                    assertEquals(0, dump.code(), "dump " + round + ": " + dump);
                    Path gone = Path.of("/proc/" + p.pid().value());
                    DetachedProcess.awaitCondition(() -> !Files.exists(gone), java.time.Duration.ofSeconds(30), "the dumped tree gone");
                    Cli restore = Cli.run("restore", "-D", img.toString(), "-d", "--no-progress", "--pidfile", pidfile.toString());
                    assertEquals(0, restore.code(), "restore " + round + ": " + restore);
                    int r = Integer.parseInt(Files.readString(pidfile).trim());
                    assertEquals(p.pid().value(), r);
                    assertEquals(Files.readSymbolicLink(Path.of("/proc/" + r + "/ns/mnt")).toString().equals(
                            Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString()), false, "its own mount namespace");
                    dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(r), dev.cryo.kernel.Signals.SIGKILL);
                    dev.cryo.kernel.Sys.wait4(r, 0);
                }
            }
            assertTrue(churn.isAlive(), "the host's churn ran through the dumps and restores");
        } finally {
            churn.destroyForcibly().waitFor();
            for (int i = 0; i < 3; i++) {
                new ProcessBuilder("ip", "netns", "del", prefix + i).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
            }
        }
    }

    /**
     * A v1 cgroup hierarchy the host mounts, mounted again inside the tree's mount namespace under
     * another source name (zdtm's cgroup04 in a container: {@code mount -t cgroup -o devices none DIR}),
     * comes back as it was; the restore bound the host's mount, whose source is "cgroup", and failed
     * after the dump had killed the tree ("did not come back as it was: missing [... cgroup none ...]").
     */
    @Test
    void aHostsCgroupHierarchyMountedAgainInsideComesBackUnderItsOwnSourceName() throws Exception {
        String controller = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                .filter(l -> l.contains(" - cgroup ") && l.matches(".*[ ,]devices(,.*|$)")).findFirst().map(l -> "devices")
                .orElse(null);
        org.junit.jupiter.api.Assumptions.assumeTrue(controller != null, "this host mounts no v1 devices hierarchy");
        Path dir = tmp.resolve("cg");
        Files.createDirectory(dir);
        String inside = restoredAfterMountingCgroup(controller, dir);
        assertTrue(inside.contains(" " + dir + " ") && inside.contains(" - cgroup zdtm "), inside);
    }

    /**
     * {@code p}, once the shell that said "ready" has become its sleep: the comparator's snapshot of a
     * task caught mid-exec saw no TLS and no rseq yet (fs_base 0), which the restored sleep has.
     */
    /** unshare's options for a mount namespace of its own, in a user namespace of its own too for "uns". */
    private static List<String> unshare(String flavor) {
        return flavor.equals("uns") ? List.of("-U", "--map-root-user", "-m") : List.of("-m");
    }

    /** A flavor: ns, with a tmpfs on the test's directory that only the namespace shows (a container's files), dumped twice. */
    private static final String OWN_TMPFS_TWICE = "ns on a tmpfs of its own, dumped twice";

    /** {@link #unshare}; for {@link #OWN_TMPFS_TWICE}, the tmpfs mounted on {@code dir} in the namespace first. */
    private static List<String> unshare(String flavor, Path dir) {
        if (!flavor.equals(OWN_TMPFS_TWICE)) {
            return unshare(flavor);
        }
        List<String> unshare = new ArrayList<>(unshare("ns"));
        unshare.addAll(List.of("sh", "-c", "mount -t tmpfs -o size=1m cryo-box " + dir + " && exec \"$0\" \"$@\""));
        return unshare;
    }

    private static int dumps(String flavor) {
        return flavor.equals(OWN_TMPFS_TWICE) ? 2 : 1;
    }

    static DetachedProcess execedSleep(DetachedProcess p) throws Exception {
        awaitExecedSleep(p.pid().value());
        return p;
    }

    /** Until {@code pid} has become its sleep and sleeps in it (see {@link #execedSleep}). */
    static void awaitExecedSleep(int pid) throws Exception {
        Path comm = Path.of("/proc/" + pid + "/comm");
        DetachedProcess.awaitCondition(() -> {
            try {
                return Files.readString(comm).strip().equals("sleep") && DetachedProcess.stateOf(pid) == 'S';
            } catch (java.io.IOException e) {
                return false;
            }
        }, java.time.Duration.ofSeconds(30), "pid " + pid + " to exec its sleep");
    }

    /**
     * The mount table of a task that mounted a cgroup hierarchy ({@code mount -t cgroup -o OPTIONS}) at
     * {@code dir} in a mount namespace of its own, as it is after a dump and restore.
     */
    private String restoredAfterMountingCgroup(String options, Path dir) throws Exception {
        try (DetachedProcess p = execedSleep(Workloads.ready(DetachedProcess.start(tmp.resolve("cg.out"), "unshare", "--mount",
                "--propagation", "private", "sh", "-c", "mount -t cgroup -o " + options + " zdtm " + dir
                        + " && echo ready; exec sleep 1000")))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                return Files.readString(Path.of("/proc/" + r.pid() + "/mountinfo"));
            } finally {
                dev.cryo.kernel.Sys.kill(r.pid(), dev.cryo.kernel.Signals.SIGKILL);
                dev.cryo.kernel.Sys.wait4(r.pid().value(), 0);
            }
        }
    }

    /**
     * A named v1 cgroup hierarchy made inside the tree's mount namespace (zdtm's cgroup00 in a container,
     * systemd-nspawn's copy of such a hierarchy of the host) comes back mounted; the dump refused it ("a
     * new cgroup mount is not supported yet"). A task in a cgroup of such a hierarchy, which no mount of
     * the host shows, is refused by name: it came back in cryo's cgroup of it, silently.
     */
    @Test
    void aNamedCgroupHierarchyMadeInsideComesBackMounted() throws Exception {
        String name = "cryoit" + ProcessHandle.current().pid();
        Path dir = Files.createDirectory(tmp.resolve("named"));
        String inside = restoredAfterMountingCgroup("none,name=" + name, dir);
        assertTrue(inside.contains(" " + dir + " ") && inside.contains(" - cgroup zdtm rw,name=" + name), inside);
        String inSub = name + "s";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("sub.out"), "unshare", "--mount",
                "--propagation", "private", "sh", "-c", "mount -t cgroup -o none,name=" + inSub + " zdtm " + dir
                        + " && mkdir " + dir + "/sub && echo $$ > " + dir + "/sub/cgroup.procs && echo ready;"
                        + " exec sleep 1000"))) {
            try {
                Cli refused = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("no").toString(), "--no-progress");
                assertEquals(1, refused.code(), refused.toString());
                assertTrue(refused.err().contains("pid " + p.pid() + " is in cgroup name=" + inSub + ":/sub, which no mount"
                        + " of this host shows"), refused.err());
                p.awaitSleeping();
            } finally { // the hierarchy outlives its mounts while a cgroup of it is left: remove it
                p.close();
                ProcessHandle.of(p.pid().value()).ifPresent(h -> h.onExit().join()); // its namespace's mount goes with it
                Path again = Files.createDirectory(tmp.resolve("again"));
                // a hierarchy whose last mount goes while its removed cgroup is still being released stays on
                String mount = "mount -t cgroup -o none,name=" + inSub + " x " + again;
                new ProcessBuilder("sh", "-c", mount + " && { while ! rmdir " + again + "/sub 2>/dev/null; do sleep 0.1;"
                        + " done; umount " + again + "; }; for i in $(seq 50); do grep -q :name=" + inSub
                        + ": /proc/self/cgroup || break; " + mount + " && umount " + again + "; sleep 0.1; done")
                        .inheritIO().start().waitFor();
            }
        }
    }

    /**
     * nscd's case (was refused): a unix listener bound in a directory that a private bind mount of
     * the task's own mount namespace covers, so cryo's view has no socket file there. The restore
     * binds it again inside the new namespace: its file comes back with its mode, the client waiting
     * to be accepted is accepted, and a new client reaches it by the path.
     */
    @Test
    void aUnixListenerReachedOnlyInsideItsOwnMountNamespaceIsBoundThereAgain() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("a")), inside = Files.createDirectories(tmp.resolve("b"));
        String prog = TestPrograms.compile("/c/unixview.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("unixview.out"), "unshare", "--mount",
                "sh", "-c", "mount --bind " + outside + " " + inside + " && exec " + prog + " " + inside))) {
            String out = RestoreTest.checkAndReap(DumpRestore.dump(p.pid().value(), tmp.resolve("img"))
                    .restoreDetached(p.output()));
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A container's /run: a unix listener bound in a tmpfs the task mounted in its own mount
     * namespace, beside a stale socket file no socket holds (was refused). The tmpfs comes back
     * with the stale file (made with mknod, its mode and owner), and the listener is bound again
     * over its own file inside the namespace: its waiting client is accepted, a new one connects.
     */
    @Test
    void aUnixListenerInATmpfsOfItsOwnMountNamespaceIsBoundThereAgainBesideAStaleSocketFile() throws Exception {
        Path run = Files.createDirectories(tmp.resolve("run"));
        String prog = TestPrograms.compile("/c/unixview.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("unixtmpfs.out"), "unshare", "--mount",
                "sh", "-c", "mount -t tmpfs -o size=1m cryo-run " + run + " && python3 -c \"import socket;"
                        + " socket.socket(socket.AF_UNIX).bind('" + run + "/stale')\" && chmod 0604 " + run + "/stale"
                        + " && exec " + prog + " " + run))) {
            int pid = p.pid().value();
            Path stale = Path.of("/proc/" + pid + "/root" + run + "/stale");
            assertFalse(Files.exists(run.resolve("sock")), "the tmpfs is the namespace's own");
            String before = socketFile(stale);
            DetachedProcess r = DumpRestore.dump(pid, tmp.resolve("img")).restoreDetached(p.output());
            String out;
            try {
                assertEquals(before, socketFile(stale));
                assertEquals("socket rw-r-----", socketFile(Path.of("/proc/" + pid + "/root" + run + "/sock")));
            } finally {
                out = RestoreTest.checkAndReap(r);
            }
            assertTrue(out.contains("PASS"), out);
        }
    }

    private static String socketFile(Path f) throws java.io.IOException {
        var a = Files.readAttributes(f, java.nio.file.attribute.PosixFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
        return (a.isOther() ? "socket " : "not a socket ") + java.nio.file.attribute.PosixFilePermissions.toString(a.permissions());
    }

    /**
     * An overlay mounted inside the namespace (a container's rootfs as {@code unshare} and build
     * tools make it): the shell on it holds a file open (copied up from the lower layer) and counts
     * into it, its cwd is on it. The restore mounts the overlay again on its layers, the count goes
     * on with no gap, and a file of the lower layer still shows through.
     */
    @Test
    void anOverlayMountedInsideComesBackOnItsLayers() throws Exception {
        Path l = Files.createDirectory(tmp.resolve("l"));
        Files.createDirectory(tmp.resolve("u"));
        Files.createDirectory(tmp.resolve("w"));
        Path m = Files.createDirectory(tmp.resolve("m"));
        Files.writeString(l.resolve("lower"), "from the lower layer\n");
        Files.writeString(l.resolve("count"), "0\n");
        String inside = "mount -t overlay cryo-ovl -o lowerdir=" + l + ",upperdir=" + tmp.resolve("u") + ",workdir="
                + tmp.resolve("w") + " " + m + " && cd " + m + " && exec 3>>count && i=0; while [ $i -lt 3000 ]; do"
                + " i=$((i+1)); echo $i >&3; sleep 0.2; done";
        Path count = tmp.resolve("u/count"); // the copied-up file, as the host sees it
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("ovl.out"), "sh", "-c",
                "exec unshare -m --pid --fork --mount-proc sh -c '" + inside + "' 2>/dev/null")) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, java.time.Duration.ofSeconds(30), "the count");
            int init = initUnder(p.pid().value());
            dumpRestoreAndCountOn(init, count, p.output(), () -> {
                String mounts = Files.readString(Path.of("/proc/" + init + "/mountinfo"));
                assertTrue(mounts.contains(" " + m + " ") && mounts.contains("overlay cryo-ovl"), mounts);
                assertEquals("from the lower layer\n", Files.readString(Path.of("/proc/" + init + "/root" + m + "/lower")));
                assertEquals(m.toString(), Files.readSymbolicLink(Path.of("/proc/" + init + "/cwd")).toString());
            });
        }
    }

    /** What a test checks of a restored task before it is killed. */
    private interface RestoredCheck {
        void run() throws Exception;
    }

    /**
     * Dumps {@code pid} (killing it), restores it detached, waits until its count in {@code count}
     * has gone on by three and checks every line but the last (maybe half written) follows the one
     * before; then {@code checks} looks at the restored task, which is killed at the end.
     */
    private void dumpRestoreAndCountOn(int pid, Path count, Path output, RestoredCheck checks) throws Exception {
        DumpRestore dumped = DumpRestore.dump(pid, tmp.resolve("img"));
        int atDump = Workloads.lines(count);
        DetachedProcess r = dumped.restoreDetached(output);
        try {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= atDump + 3, java.time.Duration.ofSeconds(30),
                    "the restored shell to count on");
            List<String> got = Files.readAllLines(count);
            for (int i = 0; i < got.size() - 1; i++) {
                assertEquals(Integer.toString(i), got.get(i), "line " + (i + 1) + " of " + got);
            }
            checks.run();
        } finally {
            RestoreTest.killAndReap(r);
        }
    }

    /**
     * An overlay mounted after pivot_root (a container's process building its own overlay, as
     * buildah or a nested runtime does): {@code unshare -m} around a shell that pivots into a
     * busybox rootfs, then mounts an overlay whose layers are directories of that root and counts
     * into a copied-up file of it. The restore mounts the overlay while chrooted into the root it
     * builds, so its options name the layers as before; the count goes on in the upper layer.
     */
    @Test
    void anOverlayMountedAfterPivotRootComesBackOnItsLayers() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("rootfs"));
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        for (String d : List.of("bin", "l", "u", "w", "m", "old")) {
            Files.createDirectory(root.resolve(d));
        }
        Files.copy(Path.of("/bin/busybox"), root.resolve("bin/busybox"));
        for (String c : List.of("sh", "mount", "umount", "sleep")) {
            Files.createSymbolicLink(root.resolve("bin").resolve(c), Path.of("busybox"));
        }
        Files.writeString(root.resolve("l/lower"), "from the lower layer\n");
        Files.writeString(root.resolve("l/count"), "0\n");
        String inside = "umount -l /old && mount -t overlay cryo-ovl -o lowerdir=/l,upperdir=/u,workdir=/w /m && cd /m"
                + " && exec 3>>count && i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo $i >&3; sleep 0.2; done";
        Path count = root.resolve("u/count"); // the copied-up file, as the host sees it
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("pivot.out"), "unshare", "-m", "--propagation",
                "private", "sh", "-c", "mount --bind " + root + " " + root + " && cd " + root + " && pivot_root . old"
                        + " && exec /bin/busybox sh -c '" + inside + "'")) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, java.time.Duration.ofSeconds(30), "the count");
            int pid = p.pid().value();
            dumpRestoreAndCountOn(pid, count, p.output(), () -> {
                String mounts = Files.readString(Path.of("/proc/" + pid + "/mountinfo"));
                assertTrue(mounts.contains(" /m ") && mounts.contains("lowerdir=/l,upperdir=/u,workdir=/w"), mounts);
                assertEquals("from the lower layer\n", Files.readString(Path.of("/proc/" + pid + "/root/m/lower")));
                assertEquals("/m", Files.readSymbolicLink(Path.of("/proc/" + pid + "/cwd")).toString());
            });
        }
    }

    /**
     * Pid namespaces nested two deep, as a sandbox run inside a container makes them: {@code unshare
     * --pid --fork --mount-proc unshare --pid --fork sh count.sh}, dumped at the outer namespace's
     * init, which is the inner {@code unshare}: its next children get the pid namespace it unshared,
     * whose init is the counting shell (pid 1 there, 2 in the outer one). Every task comes back with
     * its pid at every level (NSpid), the inner unshare's children's namespace is the shell's again,
     * and the count goes on.
     */
    @Test
    void pidNamespacesNestedTwoDeepComeBackWithEveryTasksPidAtEveryLevel() throws Exception {
        Path count = tmp.resolve("count");
        Path script = tmp.resolve("count.sh");
        Files.writeString(script, "exec 3>>\"$1\"; i=0; while [ $i -lt 3000 ]; do echo $i >&3; i=$((i+1)); sleep 0.2; done\n");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("nested.out"), "sh", "-c", "exec unshare --pid --fork"
                + " --mount-proc unshare --pid --fork sh " + script + " " + count + " 2>/dev/null")) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, java.time.Duration.ofSeconds(30), "the count");
            int outer = initUnder(p.pid().value());
            int shell = initUnder(outer);
            assertEquals("NSpid:\t" + shell + "\t2\t1", nsPidLine(shell));
            try {
                dumpRestoreAndCountOn(outer, count, p.output(), () -> {
                    assertEquals("NSpid:\t" + shell + "\t2\t1", nsPidLine(shell));
                    assertEquals("NSpid:\t" + outer + "\t1", nsPidLine(outer));
                    assertEquals(Files.readSymbolicLink(Path.of("/proc/" + shell + "/ns/pid")),
                            Files.readSymbolicLink(Path.of("/proc/" + outer + "/ns/pid_for_children")));
                });
            } finally { // a refused dump leaves it running, and killing unshare does not end it
                Workloads.killQuietly(outer);
            }
        }
    }

    private static String nsPidLine(int pid) throws java.io.IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("NSpid:"))
                .findFirst().orElse("");
    }

    /**
     * A log opened before the task made its mount namespace, whose directory the namespace covers
     * with a tmpfs in which that directory's name is an absolute symbolic link ({@code dir ->
     * T/dir}: a loop for the task, the host's directory for anyone resolving it from the host's
     * root). The task cannot reach the log by its path, so cryo opens it and hands it in. Looked
     * at through /proc/PID/root, the link was resolved from cryo's root, the log was taken as
     * reachable, and the restore failed opening it in the task (ELOOP) after a killing dump.
     */
    @Test
    void aLogWhoseDirectoryTheNamespaceCoversWithAnAbsoluteSymlinkIsHandedIn() throws Exception {
        Path t = Files.createDirectory(tmp.resolve("t"));
        Files.createDirectory(t.resolve("dir"));
        Path count = t.resolve("dir/count");
        String inside = "mount -t tmpfs cryo-cover " + t + " && ln -s " + t + "/dir " + t + "/dir && i=0;"
                + " while [ $i -lt 3000 ]; do echo $i >&3; i=$((i+1)); sleep 0.2; done";
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("cover.out"), "sh", "-c", "exec 3>>" + count
                + " && exec unshare -m --propagation private sh -c '" + inside + "' 2>/dev/null")) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, java.time.Duration.ofSeconds(30), "the count");
            int pid = p.pid().value();
            dumpRestoreAndCountOn(pid, count, p.output(), () -> assertTrue(Files.isSymbolicLink(
                    Path.of("/proc/" + pid + "/root" + t + "/dir")), "the tmpfs's link"));
        }
    }

    /**
     * A sandbox whose root has a parent-death signal (bubblewrap's {@code --die-with-parent}, here
     * a signal ignored by default so the test's detaching cannot fire it): {@code restore -d} drops
     * that signal from the root, and rebuilt the image without the tree's namespaces while doing
     * so: the uts namespace and its name were lost.
     */
    @Test
    void aRootWithAParentDeathSignalKeepsItsNamespacesInADetachedRestore() throws Exception {
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("pd.out"), "setpriv", "--pdeathsig", "URG", "unshare",
                "--uts", "--fork", "sh", "-c", "hostname cryo-pdeath && exec sleep 600")) {
            int root = p.pid().value();
            DetachedProcess.awaitCondition(() -> {
                try {
                    return Files.readString(Path.of("/proc/" + root + "/status")).contains("unshare")
                            && !Files.readString(Path.of("/proc/" + root + "/task/" + root + "/children")).isBlank();
                } catch (java.io.IOException e) {
                    return false;
                }
            }, java.time.Duration.ofSeconds(20), "unshare's child");
            int child = initUnder(root);
            DetachedProcess.awaitCondition(() -> Files.exists(Path.of("/proc/" + child)) && hostnameOf(child)
                    .equals("cryo-pdeath"), java.time.Duration.ofSeconds(20), "the name inside");
            awaitExecedSleep(child); // not mid-exec: the comparator's snapshot would see no TLS nor rseq yet
            DetachedProcess r = DumpRestore.dump(root, tmp.resolve("img")).restoreDetached(p.output());
            try {
                assertEquals("cryo-pdeath", hostnameOf(child));
            } finally {
                dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(child), dev.cryo.kernel.Signals.SIGKILL);
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * CRIU's {@code restore --join-ns uts:PATH} and {@code ipc:PATH} (refused before, exit 2: "only a net namespace is
     * joined"). A tree whose root made uts and ipc namespaces of its own is restored into those of another process
     * (PID or PATH): it sees that one's host name, the image's is not set (the holder keeps its own). A root that was
     * in cryo's uts namespace joins the one named too; its ipc namespace, which may hold the host's objects, is not
     * replaced (refused at restore, the image restores after), nor one of the tree's holding a segment. pid, mnt,
     * user are refused before anything runs (exit 2).
     */
    @Test
    void aTreeIsRestoredIntoTheUtsAndIpcNamespacesJoinNsNames() throws Exception {
        try (DetachedProcess holder = execedSleep(DetachedProcess.start(tmp.resolve("holder.out"), "unshare", "--uts",
                "--ipc", "sh", "-c", "hostname carry47-held && exec sleep 600"))) {
            int h = holder.pid().value();
            String heldUts = nsOf(h, "uts"), heldIpc = nsOf(h, "ipc");
            assertEquals("carry47-held", hostnameOf(h));
            // a root of its own uts and ipc namespaces (no SysV object)
            try (DetachedProcess p = execedSleep(DetachedProcess.start(tmp.resolve("own.out"), "unshare", "--uts",
                    "--ipc", "sh", "-c", "hostname carry47-own && exec sleep 600"))) {
                int pid = p.pid().value();
                assertEquals("carry47-own", hostnameOf(pid));
                DumpRestore d = DumpRestore.dump(pid, tmp.resolve("own"));
                for (String kind : List.of("pid", "mnt", "user")) {
                    Cli no = Cli.run("restore", "-D", tmp.resolve("own").toString(), "-d", "--join-ns", kind + ":" + h);
                    assertEquals(2, no.code(), no.toString());
                    assertTrue(no.err().contains("--join-ns " + kind + ":" + h + ": "), no.err());
                }
                DetachedProcess r = d.restoreDetached(p.output(), "--join-ns", "uts:" + h, "-J",
                        "ipc:/proc/" + h + "/ns/ipc");
                try {
                    assertEquals(heldUts, nsOf(pid, "uts"), "the uts namespace --join-ns named");
                    assertEquals(heldIpc, nsOf(pid, "ipc"), "the ipc namespace --join-ns named");
                    assertEquals("carry47-held", hostnameOf(pid), "the joined namespace's name, not the image's");
                    assertEquals("carry47-held", hostnameOf(h));
                } finally {
                    RestoreTest.killAndReap(r);
                }
            }
            // a root in cryo's uts and ipc namespaces
            try (DetachedProcess p = execedSleep(DetachedProcess.start(tmp.resolve("host.out"), "sleep", "600"))) {
                int pid = p.pid().value();
                DumpRestore d = DumpRestore.dump(pid, tmp.resolve("host"));
                Cli ipc = Cli.run("restore", "-D", tmp.resolve("host").toString(), "-d", "--join-ns", "ipc:" + h);
                assertEquals(1, ipc.code(), ipc.toString());
                assertTrue(ipc.err().contains("was in the ipc namespace of the host it was dumped on"), ipc.err());
                assertFalse(Files.exists(Path.of("/proc/" + pid)), "nothing restored by the refused restore");
                DetachedProcess r = d.restoreDetached(p.output(), "--join-ns", "uts:" + h);
                try {
                    assertEquals(heldUts, nsOf(pid, "uts"), "the uts namespace --join-ns named");
                    assertEquals(nsOf((int) ProcessHandle.current().pid(), "ipc"), nsOf(pid, "ipc"));
                    assertEquals("carry47-held", hostnameOf(pid));
                } finally {
                    RestoreTest.killAndReap(r);
                }
            }
            // a root of its own ipc namespace holding a segment
            try (DetachedProcess p = execedSleep(DetachedProcess.start(tmp.resolve("shm.out"), "unshare", "--ipc", "sh",
                    "-c", "ipcmk -M 4096 >/dev/null && exec sleep 600"))) {
                int pid = p.pid().value();
                DumpRestore d = DumpRestore.dump(pid, tmp.resolve("shm"));
                Cli ipc = Cli.run("restore", "-D", tmp.resolve("shm").toString(), "-d", "--join-ns", "ipc:" + h);
                assertEquals(1, ipc.code(), ipc.toString());
                assertTrue(ipc.err().contains("only an ipc namespace with no object is joined"), ipc.err());
                assertEquals(1, NetNamespaceTest.host("nsenter", "-t", Integer.toString(h), "-i", "cat",
                        "/proc/sysvipc/shm").strip().split("\n").length, "no segment made in the held namespace");
                DetachedProcess r = d.restoreDetached(p.output());
                try {
                    assertNotEquals(heldIpc, nsOf(pid, "ipc"));
                } finally {
                    RestoreTest.killAndReap(r);
                }
            }
        }
    }

    /**
     * CRIU's external bind mounts (refused before: 'cryo: --external is CRIU's option to name an external resource'):
     * {@code dump --external mnt[POINT]:VOL} names the tree's bind of a host directory at POINT, and {@code restore
     * --external mnt[VOL]:PATH} binds another host directory there instead, as a container's volume moved elsewhere.
     * A name the image does not have is refused before any task is made; without the option the dumped directory is
     * bound again.
     */
    @Test
    void aBindMountNamedExternalAtTheDumpIsBoundFromThePathTheRestoreGives() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        Path a = Files.createDirectory(tmp.resolve("a")), b = Files.createDirectory(tmp.resolve("b"));
        Files.writeString(a.resolve("was"), "a\n");
        Files.writeString(b.resolve("moved"), "b\n");
        try (DetachedProcess p = execedSleep(DetachedProcess.start(tmp.resolve("vol.out"), "unshare", "-m",
                "--propagation", "private", "sh", "-c", "mount --bind " + a + " " + box + " && exec sleep 600"))) {
            int pid = p.pid().value();
            Path inside = Path.of("/proc/" + pid + "/root" + box);
            assertTrue(Files.exists(inside.resolve("was")));
            DumpRestore d = DumpRestore.dump(pid, tmp.resolve("img"), "--external", "mnt[" + box + "]:VOL");
            Cli unknown = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d", "--external", "mnt[NOPE]:" + b);
            assertEquals(1, unknown.code(), unknown.toString());
            assertTrue(unknown.err().contains("no mount of the image is named NOPE (named: VOL)"), unknown.err());
            assertFalse(Files.exists(Path.of("/proc/" + pid)), "nothing restored by the refused restore");
            Cli moved = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d", "--external", "mnt[VOL]:" + b);
            assertEquals(0, moved.code(), moved.toString());
            try {
                assertTrue(Files.exists(inside.resolve("moved")), "the path the restore gave is bound there");
                assertFalse(Files.exists(inside.resolve("was")));
            } finally {
                RestoreTest.killAndReap(p);
            }
            DetachedProcess r = d.restoreDetached(p.output());
            try {
                assertTrue(Files.exists(inside.resolve("was")), "without --external the dumped directory is bound");
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * CRIU's {@code restore --join-ns time:PATH} (refused before, exit 2). A root that made its own time namespace
     * (CLOCK_MONOTONIC and CLOCK_BOOTTIME a day ahead of the host's) is restored into that of another process, whose
     * clocks are further ahead: it is in that namespace, its children's too, its clocks that one's. One whose clocks
     * are behind the tree's (cryo's own: the host's) is refused, the root's clock would go back, and nothing is left
     * behind; a root that was in the host's time namespace is refused (only one the root made is joined instead).
     */
    @Test
    void aTreeIsRestoredIntoTheTimeNamespaceJoinNsNamesWhenItsClocksDoNotGoBack() throws Exception {
        try (DetachedProcess holder = execedSleep(DetachedProcess.start(tmp.resolve("holder.out"), "unshare", "--time",
                "--monotonic", "200000", "--boottime", "200000", "sleep", "600"))) {
            int h = holder.pid().value();
            String held = nsOf(h, "time");
            try (DetachedProcess p = execedSleep(DetachedProcess.start(tmp.resolve("own.out"), "unshare", "--time",
                    "--monotonic", "86400", "--boottime", "86400", "sleep", "600"))) {
                int pid = p.pid().value();
                DumpRestore d = DumpRestore.dump(pid, tmp.resolve("own")).alsoKnown(new StateComparator.Known(
                        "--join-ns time: the joined namespace's offsets, not the image's", x -> x.item().equals("timens_offsets")
                        && x.restored().equals("monotonic 200000 0\nboottime 200000 0")));
                Cli back = Cli.run("restore", "-D", tmp.resolve("own").toString(), "-d", "--join-ns", "time:/proc/"
                        + ProcessHandle.current().pid() + "/ns/time");
                assertEquals(1, back.code(), back.toString());
                assertTrue(back.err().matches("(?s).*--join-ns time:\\S+: its CLOCK_MONOTONIC reads [0-9.]+ s, behind the"
                        + " [0-9.]+ s the tree's read at the dump: the program's clock would go back.*"), back.err());
                assertFalse(Files.exists(Path.of("/proc/" + pid)), "nothing restored by the refused restore");
                DetachedProcess r = d.restoreDetached(p.output(), "--join-ns", "time:" + h);
                try {
                    assertEquals(held, nsOf(pid, "time"), "the time namespace --join-ns named");
                    assertEquals(held, nsOf(pid, "time_for_children"));
                    assertEquals(Files.readString(Path.of("/proc/" + h + "/timens_offsets")),
                            Files.readString(Path.of("/proc/" + pid + "/timens_offsets")), "the joined namespace's clocks");
                } finally {
                    RestoreTest.killAndReap(r);
                }
            }
            try (DetachedProcess p = execedSleep(DetachedProcess.start(tmp.resolve("host.out"), "sleep", "600"))) {
                int pid = p.pid().value();
                DumpRestore d = DumpRestore.dump(pid, tmp.resolve("host"));
                Cli no = Cli.run("restore", "-D", tmp.resolve("host").toString(), "-d", "--join-ns", "time:" + h);
                assertEquals(1, no.code(), no.toString());
                assertTrue(no.err().contains("was in the time namespace of the host it was dumped on"), no.err());
                assertFalse(Files.exists(Path.of("/proc/" + pid)), "nothing restored by the refused restore");
                RestoreTest.killAndReap(d.restoreDetached(p.output()));
            }
        }
    }

    /** The link /proc/PID/ns/KIND ("uts:[4026531838]"). */
    private static String nsOf(int pid, String kind) throws java.io.IOException {
        return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/" + kind)).toString();
    }

    /** The host name in the uts namespace of {@code pid} ("" when it cannot be read). */
    private static String hostnameOf(int pid) {
        try {
            return NetNamespaceTest.host("nsenter", "-t", Integer.toString(pid), "-u", "hostname").strip();
        } catch (Exception | AssertionError e) {
            return "";
        }
    }

    /** "name kind mode uid:gid rdev ino xattrs" of each entry of {@code dir}, and the xattrs of dir. */
    private static List<String> nodes(Path dir) throws java.io.IOException {
        List<String> out = new ArrayList<>();
        out.add(". " + xattrs(dir));
        try (var s = Files.list(dir)) {
            for (Path f : s.sorted().toList()) {
                var a = Files.readAttributes(f, "unix:mode,uid,gid,rdev,ino", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                out.add(f.getFileName() + " 0" + Integer.toOctalString((Integer) a.get("mode")) + " " + a.get("uid") + ":"
                        + a.get("gid") + " " + a.get("rdev") + " " + a.get("ino") + " " + xattrs(f));
            }
        }
        assertEquals(5, out.size(), out.toString());
        assertTrue(out.toString().contains("user.cryo=hello") && out.toString().contains("trusted.overlay.opaque=y"), out.toString());
        return out;
    }

    private static String xattrs(Path f) {
        java.util.Map<String, String> m = new java.util.TreeMap<>();
        dev.cryo.kernel.Sys.xattrs(f.toString()).forEach((k, v) -> m.put(k, new String(v)));
        return m.toString();
    }

    /**
     * {@code unshare -m --propagation slave} (systemd's sandboxes make their mounts slaves of the
     * host's) without a pid namespace: the host's shared mounts come back as slaves, the tmpfs with
     * its files, and a bind mount of a directory of that tmpfs, made read-only.
     */
    @Test
    void aMountNamespaceOfSlavesWithABindOfItsOwnTmpfsComesBack() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.writeString(src.resolve("file"), "from the host\n");
        String setup = "mount -t tmpfs -o size=4m,mode=0755 cryo-box " + box + " && mkdir " + box + "/inner " + box
                + "/src && echo 'from the host' > " + box + "/inner/file && mount --bind " + box + "/inner " + box
                + "/src && mount -o remount,bind,ro,nosuid " + box + "/src && exec \"$0\" \"$@\"";
        assertPassedOnce(verdictInNamespaces(tmp, "mntns", List.of("-m", "--propagation", "slave", "sh", "-c", setup),
                box.toString(), "host-pids"));
    }

    /**
     * Peer groups made inside a namespace (CRIU's shared_mount_propagation shape): a tmpfs made shared,
     * bound twice — a peer, and a slave of it — then a tmpfs mounted in it, which the kernel copied
     * to the peer (a peer of it) and to the slave (a slave of it), and a private bind of the first.
     * The restore makes every mount private, then the groups and masters; the table comes back with
     * the same relations, the copies share one file system, and the groups still propagate: a tmpfs
     * mounted in the restored first one shows in its peer and its slave, and not in the private bind.
     */
    @Test
    void peerGroupsAndSlavesMadeInsideANamespaceComeBackAndStillPropagate() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        for (String d : List.of("a", "b", "c", "d")) {
            Files.createDirectory(box.resolve(d));
        }
        String setup = "cd " + box + " && mount -t tmpfs -o size=4m cryo-peers a && mkdir a/sub a/later"
                + " && mount --make-shared a && mount --bind a b && mount --bind a c && mount --make-slave c"
                + " && mount --bind a d && mount --make-private d"
                + " && mount -t tmpfs -o size=1m cryo-sub a/sub && echo shared > b/sub/file && echo ready && exec sleep 600";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("peers.out"), "unshare", "-m",
                "--propagation", "private", "sh", "-c", setup))) {
            List<String> groups = ContainerRuntimeTest.peerGroups(p.pid().value());
            assertTrue(groups.contains(box + "/c/sub master(" + box + "/a/sub@/)"), "the kernel's copy in the slave: " + groups);
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                int pid = r.pid().value();
                assertEquals(groups, ContainerRuntimeTest.peerGroups(pid), "peer groups and masters, by their members");
                assertEquals("shared\n", Files.readString(Path.of("/proc/" + pid + "/root" + box + "/c/sub/file")),
                        "the slave's copy is the same tmpfs");
                NetNamespaceTest.host("nsenter", "-t", Integer.toString(pid), "-m", "mount", "-t", "tmpfs", "cryo-later",
                        box + "/a/later");
                String table = Files.readString(Path.of("/proc/" + pid + "/mountinfo"));
                for (String d : List.of("a", "b", "c")) {
                    assertTrue(table.contains(" " + box + "/" + d + "/later "), d + " receives what a mounts:\n" + table);
                }
                assertFalse(table.contains(" " + box + "/d/later "), "the private bind receives nothing:\n" + table);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * A FIFO of the namespace's own tmpfs held open with unread bytes, over a host FIFO at the same
     * path (which the tmpfs covers). cryo filled and held the FIFO at that path as cryo sees it
     * before the namespace was made: the bytes went into the host's FIFO and the task got an empty
     * one (or, with no host node there, the restore failed after the killing dump: ENOENT). It is now
     * held once the task's namespace is made, through the task's root.
     */
    @Test
    void aFifoOfItsOwnTmpfsComesBackWithItsBytesNotTheHostsFifoAtThatPath() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        dev.cryo.kernel.Sys.mkfifo(box.resolve("f").toString(), 0600); // the host's, covered inside
        String setup = "mount -t tmpfs -o size=1m cryo-fifo " + box + " && mkfifo " + box + "/f && exec 4<>" + box
                + "/f && echo unread >&4 && echo ready && exec sleep 600";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("fifo.out"), "unshare", "-m",
                "--propagation", "private", "sh", "-c", setup))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                // an empty FIFO would block the read until the task is killed below: bounded
                var read = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try (java.io.InputStream in = Files.newInputStream(Path.of("/proc/" + r.pid() + "/fd/4"))) {
                        return new String(in.readNBytes(7));
                    } catch (java.io.IOException e) {
                        return e.toString();
                    }
                });
                try {
                    assertEquals("unread\n", read.get(60, java.util.concurrent.TimeUnit.SECONDS),
                            "the bytes in the task's own FIFO");
                } catch (java.util.concurrent.TimeoutException e) {
                    fail("the task's own FIFO came back empty (its bytes went elsewhere)");
                }
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * firejail's shape: a directory of the namespace's tmpfs bound read-only over itself (its seccomp
     * filters, which the sandbox maps). The files below were taken for hidden by the bind and not
     * carried: firejail's restore failed on the mapped filter (ENOENT); a file only read was lost.
     */
    @Test
    void aDirectoryOfItsTmpfsBoundReadOnlyOverItselfKeepsItsFiles() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        String setup = "mount -t tmpfs -o size=4m,mode=0755 cryo-box " + box + " && mkdir " + box + "/src && echo kept > "
                + box + "/src/file && mount --bind " + box + "/src " + box + "/src && mount -o remount,bind,ro,nosuid "
                + box + "/src && echo ready && exec sleep 600";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("selfbind.out"), "unshare", "-m", "sh",
                "-c", setup))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                Path file = Path.of("/proc/" + r.pid() + "/root" + box + "/src/file");
                assertTrue(Files.exists(file), "the bound directory came back empty");
                assertEquals("kept\n", Files.readString(file));
                assertThrows(java.io.IOException.class, () -> Files.writeString(file, "x"), "read-only, as bound");
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * A real server in a container's shape with a private /tmp (as systemd's PrivateTmp makes it):
     * {@code unshare -m --pid --fork --mount-proc} around python's http.server serving files of a
     * tmpfs mounted over /tmp, its output going to a log file under the host's /tmp, which the
     * namespace covers (opened before the tmpfs was mounted): after the restore it serves the same
     * files and logs the requests to the same host file. The server stays in unshare's session and
     * group, whose leader has exited by the restore: a helper with that pid makes them again.
     */
    @Test
    void aPythonHttpServerWithAPrivateTmpServesItsFilesAgain() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String inside = "mount -t tmpfs -o mode=1777 cryo-private-tmp /tmp && cd /tmp && echo hello-from-private-tmp"
                + " > index.html && exec python3 -m http.server --bind 127.0.0.1 " + port + " 2>&1";
        Path log = tmp.resolve("http.out");
        try (DetachedProcess p = DetachedProcess.start(log, "sh", "-c",
                "exec unshare -m --pid --fork --mount-proc sh -c '" + inside + "' 2>/dev/null")) {
            int finalPort = port;
            DetachedProcess.awaitCondition(() -> get(finalPort).contains("hello-from-private-tmp"),
                    java.time.Duration.ofSeconds(20), "http.server to answer");
            int init = initUnder(p.pid().value());
            DetachedProcess r = DumpRestore.dump(init, tmp.resolve("img")).restoreDetached(log);
            try {
                assertTrue(get(port).contains("hello-from-private-tmp"), "after the restore");
                assertTrue(Files.readString(Path.of("/proc/" + init + "/root/tmp/index.html")).contains("hello"));
                DetachedProcess.awaitCondition(() -> logged(log) >= 2, java.time.Duration.ofSeconds(10),
                        "the restored server to log its request into the host's file");
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * A root container of a user namespace of its own: {@code unshare -Ur -m --pid --fork
     * --mount-proc} around a shell that mounts a tmpfs, as rootless container tools and
     * {@code unshare -r} make them (uid and gid 0 inside mapped to root outside, setgroups denied).
     * The restore makes the user namespace first, writes its maps, and the mount and pid namespaces
     * it owns come back owned by it; the init's file on the tmpfs, its pipe to its child (the child
     * forked from inside the user namespace, its pid outside taken from ns_last_pid), its ids and
     * capabilities inside come back.
     */
    @Test
    void aUserNamespaceOwningItsMountAndPidNamespacesComesBackWithItsMaps() throws Exception {
        Path box = Files.createDirectory(tmp.resolve("box"));
        assertPassedOnce(verdictInNamespaces(tmp, "userns", List.of("-Ur", "-m", "--pid", "--fork", "--mount-proc", "sh",
                "-c", "mount -t tmpfs -o size=4m,mode=0755 cryo-user " + box + " && exec \"$0\" \"$@\""), box.toString()));
    }

    /**
     * The same started by an unprivileged user (uid 1000 through setpriv), as a rootless
     * container runs: root inside is uid 1000 outside, and the tmpfs it mounted takes no file of
     * cryo's root, so cryo writes it back as uid 1000.
     */
    @Test
    void aRootlessContainersUserNamespaceComesBackMappedToItsUser() throws Exception {
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path box = Files.createDirectory(tmp.resolve("box"));
        Path prog = tmp.resolve("userns");
        Files.copy(TestPrograms.compile("/c/userns.c"), prog);
        Files.setPosixFilePermissions(prog, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("rootless.out"), "sh", "-c",
                "exec setpriv --reuid=1000 --regid=1000 --clear-groups unshare -Ur -m --pid --fork --mount-proc sh -c"
                        + " 'mount -t tmpfs -o size=4m,mode=0755 cryo-rootless " + box + " && exec " + prog + " " + box
                        + "' 2>/dev/null"))) {
            int init = initUnder(p.pid().value());
            assertTrue(Files.readString(Path.of("/proc/" + init + "/uid_map")).trim().matches("0\\s+1000\\s+1"));
            DetachedProcess r = DumpRestore.dump(init, tmp.resolve("img")).restoreDetached(p.output());
            long owner = dev.cryo.kernel.Namespaces.ownerUid(Integer.toString(init)); // was cryo's root before
            String out = RestoreTest.checkAndReap(r);
            assertEquals(1000, owner, "the owner of the restored user namespace");
            assertPassedOnce(out);
        }
    }

    /**
     * uid 1000's child unshares a user namespace and, never exec'ing, opens a file its counting
     * shell inherits (nsowner.c). The restore forks that child as the namespace's owner, which
     * leaves its memory undumpable and made outside the namespace: the shell cannot take the shared
     * file from it from in there (pidfd_getfd: EPERM, a failed restore before), so cryo hands it in.
     * The count goes on with no gap or repeat.
     */
    @Test
    void aFileOpenedByTheNeverExecdMakerOfAUserNamespaceIsSharedAgainWithItsChild() throws Exception {
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path data = Files.createDirectory(tmp.resolve("data"));
        Files.setPosixFilePermissions(data, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        Path prog = tmp.resolve("nsowner");
        Files.copy(TestPrograms.compile("/c/nsowner.c"), prog);
        Files.setPosixFilePermissions(prog, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path count = data.resolve("count");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("nsowner.out"), "setpriv",
                "--reuid=1000", "--regid=1000", "--clear-groups", prog.toString(), count.toString()))) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, java.time.Duration.ofSeconds(30),
                    "the shell to count");
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            int atDump = Workloads.lines(count);
            DetachedProcess r = dumped.restoreDetached(p.output());
            try {
                DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= atDump + 3, java.time.Duration.ofSeconds(30),
                        "the restored shell to count on");
                List<String> got = Files.readAllLines(count);
                for (int i = 0; i < got.size() - 1; i++) { // the last line may be half written
                    assertEquals(Integer.toString(i + 1), got.get(i), "line " + (i + 1) + " of " + got);
                }
            } finally {
                for (int pid : StateComparator.tree(r.pid().value())) {
                    Workloads.killQuietly(pid);
                }
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * A user namespace nested in another of the tree's, as a rootless container runs {@code unshare
     * -Ur} inside: root's shell runs uid 1000's {@code unshare -Ur} shell (root inside = 1000), which
     * runs, in a child, a second {@code unshare -Ur -m --pid --fork} owning its mount and pid
     * namespaces, around userns.c on a tmpfs. The restore forks the outer creator as uid 1000 (the
     * outer namespace's owner, 0 before), the inner one from the outer shell into a new user
     * namespace whose owner is root of the outer one, and the inner creator writes its own maps;
     * userns.c finds its maps, capabilities, ownership, file and child as they were.
     */
    @Test
    void aUserNamespaceNestedInAnotherOfTheTreesComesBackWithItsMapsAndOwner() throws Exception {
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path box = Files.createDirectory(tmp.resolve("box"));
        Path prog = tmp.resolve("userns");
        Files.copy(TestPrograms.compile("/c/userns.c"), prog);
        Files.setPosixFilePermissions(prog, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        String inner = "unshare -Ur -m --pid --fork sh -c 'mount -t tmpfs -o size=4m,mode=0755 cryo-nested "
                + box + " && exec " + prog + " " + box + "'";
        // "; true": each shell forks the next command instead of becoming it; the tree's root is root's shell
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("nested.out"), "sh", "-c",
                "setpriv --reuid=1000 --regid=1000 --clear-groups unshare -Ur sh -c \"" + inner + "; true\" 2>/dev/null;"
                        + " true"))) {
            int outer = initUnder(p.pid().value()), creator = initUnder(outer), init = initUnder(creator);
            try {
                String before = nestedUserNamespace(outer, creator, init);
                DetachedProcess r = DumpRestore.dump(p.pid().value(), tmp.resolve("img")).restoreDetached(p.output());
                try {
                    assertEquals(before.replaceAll("\\[\\d+\\]", ""), nestedUserNamespace(outer, creator, init)
                            .replaceAll("\\[\\d+\\]", ""));
                    dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(init), dev.cryo.kernel.Signals.SIGUSR2);
                    DetachedProcess.awaitCondition(() -> Workloads.lines(p.output()) >= 2,
                            java.time.Duration.ofSeconds(30), "userns.c's verdict");
                    assertPassedOnce(p.outputText());
                } finally {
                    RestoreTest.killAndReap(r);
                }
            } finally {
                Workloads.killQuietly(init);
                Workloads.killQuietly(creator);
            }
        }
    }

    /** The inner namespace's maps as cryo reads them, its owner's uid, and whether it is nested in the outer shell's. */
    private static String nestedUserNamespace(int outer, int creator, int init) throws Exception {
        String in = dev.cryo.kernel.Namespaces.link(Integer.toString(init), "user");
        assertEquals(in, dev.cryo.kernel.Namespaces.link(Integer.toString(creator), "user"));
        String out = dev.cryo.kernel.Namespaces.link(Integer.toString(outer), "user");
        assertNotEquals(in, out);
        assertEquals(out, dev.cryo.kernel.Namespaces.owner(Integer.toString(init), "user"), "the inner one's parent");
        assertNotEquals(dev.cryo.kernel.Namespaces.link("self", "user"), out);
        assertEquals(dev.cryo.kernel.Namespaces.link("self", "user"), dev.cryo.kernel.Namespaces.owner(Integer.toString(outer), "user"));
        return "uid_map " + Files.readString(Path.of("/proc/" + init + "/uid_map")).trim().replaceAll("\\s+", " ")
                + ", gid_map " + Files.readString(Path.of("/proc/" + init + "/gid_map")).trim().replaceAll("\\s+", " ")
                + ", setgroups " + Files.readString(Path.of("/proc/" + init + "/setgroups")).trim()
                + ", owner " + dev.cryo.kernel.Namespaces.ownerUid(Integer.toString(init))
                + ", outer uid_map " + Files.readString(Path.of("/proc/" + outer + "/uid_map")).trim().replaceAll("\\s+", " ")
                + ", outer owner " + dev.cryo.kernel.Namespaces.ownerUid(Integer.toString(outer));
    }

    /** pidns.c (an init with children, grandchildren and orphans) in a user namespace with uts and ipc ones it owns. */
    @Test
    void anInitWithChildrenInsideAUserNamespaceGetsItsPidsBack() throws Exception {
        assertPassedOnce(verdictInNamespaces(tmp, "pidns", List.of("-Ur", "--pid", "--fork", "--uts", "--ipc")));
    }

    /**
     * A task that unshared a pid namespace for its children ({@code unshare --pid} without --fork
     * leaves its program so) and whose first child, the namespace's init, has exited: the namespace
     * is dead and every fork the task tries fails with ENOMEM. Was refused ("no child of it is that
     * namespace's init"). It comes back the same: with the init reaped (the restore makes the
     * namespace and an init that exits at once), and with the init a zombie of it (forked into the
     * new namespace as its pid 1, it dies there again with its status).
     */
    @Test
    void aPidNamespaceForChildrenWhoseInitExitedComesBackDead() throws Exception {
        for (String mode : List.of("reaped", "zombie")) {
            String out = DumpRestore.workloadVerdict(Files.createDirectory(tmp.resolve(mode)), "deadpidns", mode);
            assertTrue(out.contains("PASS"), mode + ": " + out);
            assertEquals(1, out.split("ready", -1).length - 1, mode + ": the restored process did not start over:\n" + out);
        }
    }

    /**
     * The same tree restored three times while two other programs of the host fork and reap
     * children as fast as they can (thousands of pids a second): each fork made from inside the
     * user namespace takes its pid outside from ns_last_pid, and the host's forks took that pid
     * in between (the restore failed with "pid N is in use by forkstorm"). Every restore must
     * give every task its pids back.
     */
    @Test
    void aUserNamespaceTreeGetsItsPidsBackWhileTheHostForksAllTheTime() throws Exception {
        List<DetachedProcess> storms = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) { // one per core
                storms.add(Workloads.ready(DetachedProcess.start(tmp.resolve("storm" + i + ".out"),
                        TestPrograms.compile("/c/forkstorm.c").toString(), "600")));
            }
            for (int round = 1; round <= 3; round++) {
                Path dir = Files.createDirectory(tmp.resolve("round" + round));
                String out = verdictInNamespaces(dir, "pidns", List.of("-Ur", "--pid", "--fork", "--uts", "--ipc"));
                assertTrue(out.contains("PASS"), "round " + round + ": " + out);
            }
        } finally {
            storms.forEach(DetachedProcess::close);
        }
    }

    /**
     * A user namespace that maps no uid to root ({@code unshare --map-user=1000 --map-group=1000},
     * root outside being 1000 inside, as sandboxes map a user to itself) with a pid namespace it
     * owns: the shell inside has no capability. The restore's stub keeps its capabilities across
     * its exec as ambient ones, and the shell comes back as 1000 inside with none, counting on.
     */
    @Test
    void aUserNamespaceWithoutRootInsideComesBackWithItsMapsAndNoCapabilities() throws Exception {
        Path out = tmp.resolve("maponly.out");
        // unshare complains on stderr when its child is killed (the dump): stderr goes nowhere
        try (DetachedProcess p = DetachedProcess.start(out, "sh", "-c", "exec unshare --map-user=1000 --map-group=1000"
                + " --pid --fork sh -c 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo $i; sleep 0.2; done' 2>/dev/null")) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(out) >= 3, java.time.Duration.ofSeconds(30), "the count");
            int init = initUnder(p.pid().value());
            DumpRestore dumped;
            try {
                dumped = DumpRestore.dump(init, tmp.resolve("img"));
            } catch (Throwable refused) {
                dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(init), dev.cryo.kernel.Signals.SIGKILL);
                throw refused;
            }
            int atDump = Workloads.lines(out);
            DetachedProcess r = dumped.restoreDetached(out);
            try {
                DetachedProcess.awaitCondition(() -> Workloads.lines(out) >= atDump + 3, java.time.Duration.ofSeconds(30),
                        "the restored shell to count on");
                List<String> got = Files.readAllLines(out);
                for (int i = 0; i < got.size() - 1; i++) {
                    assertEquals(Integer.toString(i + 1), got.get(i), "line " + (i + 1) + " of " + got);
                }
                assertTrue(Files.readString(Path.of("/proc/" + init + "/uid_map")).trim().matches("1000\\s+0\\s+1"));
                String status = Files.readString(Path.of("/proc/" + init + "/status"));
                assertTrue(status.contains("CapEff:\t0000000000000000\n") && status.contains("CapAmb:\t0000000000000000\n")
                        && status.contains("CapPrm:\t0000000000000000\n"), status);
                String inside = NetNamespaceTest.host("nsenter", "-t", Integer.toString(init), "-U", "--preserve-credentials",
                        "cat", "/proc/" + init + "/status");
                assertTrue(inside.contains("Uid:\t1000\t1000\t1000\t1000\n"), inside);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * A mount the host makes after the dump is in the copy of the host's mounts a restore makes for
     * a mount namespace, and in a user namespace's copy it is locked: the restore is refused naming
     * it (it was a bare EINVAL of umount2), leaves nothing, and goes through once the host unmounted it.
     */
    @Test
    void aHostMountMadeAfterTheDumpAndLockedInAUserNamespacesCopyIsNamed() throws Exception {
        Path later = Files.createDirectory(tmp.resolve("later"));
        Path out = tmp.resolve("locked.out");
        try (DetachedProcess p = DetachedProcess.start(out, "sh", "-c", "exec unshare -Ur -m --pid --fork sh -c"
                + " 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo $i; sleep 0.2; done' 2>/dev/null")) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(out) >= 3, java.time.Duration.ofSeconds(30), "the count");
            int init = initUnder(p.pid().value());
            DumpRestore dumped = DumpRestore.dump(init, tmp.resolve("img"));
            int atDump = Workloads.lines(out);
            NetNamespaceTest.host("mount", "-t", "tmpfs", "-o", "size=1m", "cryo-later", later.toString());
            try {
                Cli refused = Cli.run("restore", "-D", tmp.resolve("img").toString(), "-d");
                assertEquals(1, refused.code(), refused.toString());
                assertTrue(refused.err().contains("pid " + init + ": tmpfs on " + later + " was mounted on the host after the"
                        + " dump") && refused.err().contains("locked"), refused.err());
                assertFalse(Files.exists(Path.of("/proc/" + init)), "the refused restore left pid " + init);
            } finally {
                NetNamespaceTest.host("umount", "-l", later.toString());
            }
            DetachedProcess r = dumped.restoreDetached(out);
            try {
                DetachedProcess.awaitCondition(() -> Workloads.lines(out) >= atDump + 3, java.time.Duration.ofSeconds(30),
                        "the restored shell to count on");
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    private static long logged(Path log) {
        try {
            return Files.readString(log).lines().filter(l -> l.contains("GET /index.html")).count();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private static String get(int port) {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET /index.html HTTP/1.0\r\n\r\n".getBytes());
            return new String(s.getInputStream().readAllBytes());
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
