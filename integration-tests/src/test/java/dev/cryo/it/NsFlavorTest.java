package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CRIU's zdtm runs every test three ways: on the host, and in its "ns" and "uns" flavors, where
 * the test is the init of new pid, mount, net, ipc and uts namespaces (uns: and a user namespace
 * mapping two ranges) with its root pivoted to a host directory holding only the tests and their
 * libraries, and is dumped by that init's pid. {@code zdtmns.c} builds that container and holds
 * what the flavors' sweep showed coming back wrong: before, its restore failed after the dump had
 * killed it (a FIFO and a removed cwd looked for in cryo's view, an exec'd child's stub execing a
 * /bin/sleep the root has not, an ipc limit cryo may not write in a user namespace's), and its dump
 * refused the unix sockets bound at paths of its root (a net namespace of the tree's, a datagram
 * socket). Its TCP connections on its own loopback (queues full both ways, closing both ways) come
 * back with every byte.
 */
class NsFlavorTest {
    @TempDir
    Path tmp;

    @Test
    void aZdtmNsFlavorContainerComesBackWithItsFifoRemovedCwdWatchAndExecdChild() throws Exception {
        assertPasses("ns");
    }

    @Test
    void aZdtmUnsFlavorContainerComesBackWithItsIpcLimitToo() throws Exception {
        assertPasses("uns");
    }

    /**
     * zdtm's uns flavor makes the directory above the container's root 0700 once the test runs (as runc's
     * /run/runc is): every test of the flavor failed its restore after the killing dump, the container's task
     * binding its root from that host path ("mount(/tmp/criu-root-X/root/root, /tmp/cryo-root-N, MS_BIND) in
     * pid 71: EACCES"). The task binds an fd of it cryo opened instead.
     */
    @Test
    void aZdtmUnsFlavorContainerWhoseRootOnlyCryoMayReachComesBack() throws Exception {
        assertPasses("uns", true);
    }

    /**
     * A mount namespace made inside a container (zdtm's mntns_root_bind, mntns_ro_root, mntns_ghost,
     * mnt_ext_collision in their ns flavor): the restore built its root from host paths in a copy of the
     * container's namespace and failed after the killing dump (ENOENT: the tree lost). nestedmnt.c: the
     * child's tmpfs and open file come back in its own namespace, the container's without them.
     */
    @Test
    void aMountNamespaceMadeInsideAContainerComesBack() throws Exception {
        assertPassesPivoted("nestedmnt");
    }

    /**
     * Peer groups spanning a container's mount namespace and one its child made from it (zdtm's
     * mntns_shared_bind in its ns flavor): the child's unmount propagates to the parent's namespace.
     * sharedbind.c.
     */
    @Test
    void aNamespaceMadeInsideAContainerStaysAPeerOfItsMounts() throws Exception {
        assertPassesPivoted("sharedbind");
    }

    /**
     * A bind mount of a directory since removed, from a tmpfs the container mounted (zdtm's mntns_deleted in
     * its ns flavor): the dump refused it ("a file of mode 040750; only regular files, FIFOs and device nodes
     * are made again"). The removed directory, empty as every removed one is, is made again at its old path
     * with its mode and owner, bound, and removed. deldirbind.c.
     */
    @Test
    void aBindOfARemovedDirectoryComesBackRemoved() throws Exception {
        assertPassesPivoted("deldirbind");
    }

    /**
     * The same with the directory on the container's root itself, a bind of a host directory (zdtm's mntns_deleted in
     * its ns flavor, where the root is the test directory): the dump refused it, "is a bind mount of
     * ROOT/mnt/src//deleted, which is gone; it cannot be bound again". The directory is made again on the host's file
     * system through that root, bound and removed. deldirbind.c root.
     */
    @Test
    void aBindOfARemovedDirectoryOfTheContainersRootComesBackRemoved() throws Exception {
        assertPassesPivoted("deldirbind", "root");
    }

    /**
     * One deleted file a parent and its child of one container hold, each by its own open, the parent mapping it
     * too (zdtm's ghost_shared_2proc in its ns flavor): each task stood for the namespace by its own pid, so the
     * restore took the child's open for another view of the file and looked for the child before making it:
     * "pid P (memory): open(/proc/C/root): ENOENT" after the killing dump. ghostns.c.
     */
    @Test
    void aDeletedFileAParentAndChildOfOneContainerOpenedEachComesBackOneFile() throws Exception {
        assertPassesPivoted("ghostns");
    }

    /**
     * Files made with O_TMPFILE in a container whose pid namespace has its own /proc (zdtm's fd01 in its ns flavor,
     * glibc's tmpfile()): the restore made them in the task's mount namespace and wrote them through
     * /proc/CRYO_PID/fd/N, which that /proc does not show: "cannot write the O_TMPFILE file /tmp/#N again:
     * /proc/P/fd/8" after the killing dump. They are written through cryo's fd. tmpfilens.c.
     */
    @Test
    void filesMadeWithOTmpfileInAContainerWithItsOwnProcComeBack() throws Exception {
        assertPassesPivoted("tmpfilens");
    }

    /**
     * A deleted file on a mount its namespace remounted read-only after opening it (zdtm's ghost_on_rofs): the restore
     * made it on the read-only mount and failed, "Read-only file system", after the killing dump. The mount is
     * writable for that instant and read-only again before the tree runs. rofsghost.c.
     */
    @Test
    void aDeletedFileOnAMountMadeReadOnlyComesBackAndTheMountStaysReadOnly() throws Exception {
        assertPassesPivoted("rofsghost");
    }

    /**
     * A container's binfmt_misc mount while cryo's namespace mounts binfmt_misc too (zdtm's mountpoints in its ns flavor,
     * where zdtm_ct mounts "zdtm_binfmt"; systemd mounts "binfmt_misc"): the restore bound it from cryo's mount, whose
     * source name it showed, and failed its check of the namespace ("missing [... binfmt_misc none ...]") after the
     * killing dump. It is mounted by type. binfmtpivot.c; the host's mount is a binfmt_misc of the test's, removed.
     */
    @Test
    void aContainersBinfmtMiscMountComesBackWithItsOwnSourceName() throws Exception {
        Path host = Files.createDirectory(tmp.resolve("hostbinfmt"));
        assertEquals(0, new ProcessBuilder("mount", "-t", "binfmt_misc", "cryo-host-binfmt", host.toString())
                .inheritIO().start().waitFor());
        try {
            assertPassesPivoted("binfmtpivot");
        } finally {
            new ProcessBuilder("umount", host.toString()).inheritIO().start().waitFor();
        }
    }

    /**
     * A child that made a mount namespace of its own keeps an fd its parent opened (zdtm's mntns_open): the
     * fd is on the parent's mount, not on the child's copy of it. The restore reopened it in the child's
     * namespace: "FAIL: root: the child's fd is on mount 1399, not on its own 1397". mntnsopen.c.
     */
    @Test
    void anFdInheritedFromTheParentsMountNamespaceStaysOnItsMount() throws Exception {
        assertPassesPivoted("mntnsopen");
    }

    /**
     * The same nested namespace inside a container that has a user namespace of its own (zdtm's uns flavor:
     * mntns_open, mntns_ghost, mntns_root_bind, mntns_shared_bind...): the restore built such a namespace from
     * a copy of cryo's, which a task of another user namespace may not join (setns: EPERM after the killing
     * dump), so the dump refused it ("made inside a container ... may not join"). The restore keeps the
     * container init's first copy of cryo's namespace, which its user namespace owns, and the child builds
     * its root from that one.
     */
    @Test
    void aMountNamespaceMadeInsideAUserNamespacesContainerComesBack() throws Exception {
        assertPassesPivoted("nestedmnt", "uns");
    }

    /**
     * A task chrooted inside a container (zdtm's chroot and chroot-file in their ns and uns flavors): its
     * mountinfo shows no mount (its namespace's root mount begins above its root), so the dump refused its
     * mapped binary ("is on a mount that is not attached in its mount namespace"). chrootns.c.
     */
    @ParameterizedTest
    @ValueSource(strings = {"ns", "uns"})
    void aTaskChrootedInsideAContainerComesBack(String flavor) throws Exception {
        assertPassesPivoted("chrootns", flavor);
    }

    /**
     * A child that pivoted its own namespace's root onto a tmpfs and detached the old root, its binary mapped
     * from there, inside a container (zdtm's mntns_pivot_root): the binary's mount is attached only in the
     * parent's namespace, and the restore opened mapped files in the child's own, where no path reaches them,
     * so the dump refused it ("is on mount N, attached in the mount namespace of pid P ..."). The restore now
     * opens them (and the executable) as that parent sees them. pivotaway.c.
     */
    @Test
    void aBinaryMappedFromARootPivotedAwayComesBack() throws Exception {
        assertPassesPivoted("pivotaway");
    }

    /**
     * The same child as the init of a pid namespace (zdtm's mntns_pivot_root in its ns flavor): the task took
     * its executable from cryo through its pidfd of cryo, which the STATE stage had closed first: "restore
     * failed: pidfd_getfd(pid N fd 11)(64, 11, 0) in pid M: EBADF" after the killing dump.
     */
    @Test
    void aBinaryMappedFromARootPivotedAwayInsideAPidNamespaceComesBack() throws Exception {
        assertPassesPivoted("pivotaway", "pidns");
    }

    /**
     * A user namespace made inside a container, with a mount namespace of its own (nestedmnt.c inneruser): a
     * restore builds that namespace from cryo's, which a task of that user namespace may not join, and no copy
     * of cryo's is kept for it (the restore keeps one only for a user namespace made with its mount namespace
     * from cryo's). Refused at dump by name, and the tree runs on.
     */
    @Test
    void aUserNamespaceMadeInsideAContainerWithAMountNamespaceIsRefusedAndTheTreeRunsOn() throws Exception {
        Path root = pivotRoot("nestedmnt");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("nestedmnt.out"),
                root.resolve("nestedmnt").toString(), root.toString(), "inneruser"))) {
            Cli refused = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("no").toString(),
                    "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("made inside a container (its parent pid " + p.pid().value()
                    + " has a root of its own)"), refused.err());
            assertTrue(refused.err().contains("may not join"), refused.err());
            String verdict = Workloads.check(p);
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /**
     * A bind from a mount made unbindable after it (zdtm's unbindable, ns and uns flavors): the restore made the
     * mount unbindable before the bind and failed after the killing dump ("mount(.../aux, .../bind, MS_BIND):
     * EINVAL", the tree lost). unbindmnt.c.
     */
    @Test
    void aBindFromAMountMadeUnbindableLaterComesBack() throws Exception {
        assertPassesPivoted("unbindmnt");
    }

    /**
     * An O_PATH fd of a symlink in a container, the link kept or removed since (zdtm's symlink and symlink01
     * in their ns flavor): the dump looked for the link in cryo's view, not the container's, and refused it
     * ("is no longer at that path"). symlinkfd.c pivoted into its root.
     */
    @ParameterizedTest
    @ValueSource(strings = {"kept", "removed"})
    void anOpathFdOfASymlinkInAContainerComesBack(String link) throws Exception {
        Path root = pivotRoot("symlinkfd");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("symlinkfd.out"),
                root.resolve("symlinkfd").toString(), "/mnt", link, root.toString()))) {
            String verdict = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /**
     * A removed symlink's O_PATH fd in a container with a user namespace whose ids other than root are not
     * cryo's (zdtm's symlink01 in its uns flavor): the restore gave the link made again its owner as cryo
     * names it, from inside, and failed after the killing dump ("lchown(.../link, 104321, 104322) ...: EINVAL").
     */
    @Test
    void aRemovedSymlinkInAUserNamespacesContainerComesBackWithItsOwner() throws Exception {
        Path root = pivotRoot("symlinkfd");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("symlinkfd.out"),
                root.resolve("symlinkfd").toString(), "/mnt", "removed", root.toString(), "uns"))) {
            String verdict = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /**
     * An inotify watch on a file of a mount only a child's mount namespace has (zdtm's inotify01, ns and uns
     * flavors): the dump looked for the watched inode through cryo's mounts and the holder's, and refused it
     * ("cannot be found by its file handle (no mount of that device here)"). It is watched again as the child
     * sees it. nestedwatch.c.
     */
    @Test
    void aWatchOnAFileOfAChildsMountNamespaceComesBack() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("watched"));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("nestedwatch.out"),
                TestPrograms.compile("/c/nestedwatch.c").toString(), dir.toString()))) {
            String verdict = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /**
     * A deleted file of a tmpfs of a user namespace that maps no host root (zdtm's ranges), in a directory of mode
     * 0600, held by a child through two mounts, one of them its own bind (zdtm's mntns_link_ghost) and, with remap,
     * still linked under a name only its parent's namespace shows (mntns_link_remap), both in their uns flavor. The
     * restore failed after the killing dump: the file made as its directory's owner (64274dfe) lost the file system
     * capabilities a 0600 directory needs ("Permission denied" after EOVERFLOW), and its link into the child's bind
     * was made as cryo's root ("Value too large for defined data type"). linkghostns.c.
     */
    @ParameterizedTest
    @ValueSource(strings = {"ghost", "remap"})
    void aDeletedFileOfATmpfsOfAUserNamespaceWithoutHostRootSeenThroughTwoMountsComesBack(String kind) throws Exception {
        Path root = pivotRoot("linkghostns");
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwxrwx")); // its root is not cryo's
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("linkghostns.out"),
                root.resolve("linkghostns").toString(), root.toString(), kind))) {
            String verdict = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /** /c/NAME.c run as {@code NAME ROOT MORE...}: it pivots into ROOT, a directory holding its static binary and mnt/. */
    private void assertPassesPivoted(String name, String... more) throws Exception {
        Path root = pivotRoot(name);
        Path bin = root.resolve(name);
        String[] args = new String[more.length + 2];
        args[0] = bin.toString();
        args[1] = root.toString();
        System.arraycopy(more, 0, args, 2, more.length);
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve(name + ".out"), args))) {
            String verdict = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(verdict.contains("PASS"), verdict);
        }
    }

    /** A root for /c/NAME.c to pivot into: its static binary and an empty mnt/. */
    private Path pivotRoot(String name) throws Exception {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.createDirectories(root.resolve("mnt"));
        Files.copy(TestPrograms.compile("/c/" + name + ".c", "-static"), root.resolve(name));
        return root;
    }

    private void assertPasses(String flavor) throws Exception {
        assertPasses(flavor, false);
    }

    /** {@code closed}: the directory above the root is made 0700 once the container runs, as zdtm.py does. */
    private void assertPasses(String flavor, boolean closed) throws Exception {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.createDirectories(root.resolve("proc"));
        Files.createDirectories(root.resolve("dev/pts"));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwxrwx")); // root inside uns is not cryo's
        Path bin = root.resolve("zdtmns");
        Files.copy(TestPrograms.compile("/c/zdtmns.c", "-static"), bin);
        Path out = tmp.resolve("zdtmns.out");
        int init = 0;
        try (DetachedProcess starter = DetachedProcess.start(out, bin.toString(), root.toString(), flavor)) {
            DetachedProcess.awaitCondition(() -> {
                try {
                    return starter.outputText().matches("(?s).*init \\d+\\s.*");
                } catch (java.io.IOException e) {
                    return false;
                }
            }, Duration.ofSeconds(60), "the init to be ready");
            String text = starter.outputText();
            init = Integer.parseInt(text.substring(text.indexOf("init ") + 5).trim().split("\\s+")[0]);
            if (closed) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx------"));
            }
            DetachedProcess restored = DumpRestore.dump(init, tmp.resolve("img"), "--tcp-established").restoreDetached(out);
            String verdict = RestoreTest.checkAndReap(restored);
            assertTrue(verdict.contains("PASS"), verdict);
        } finally {
            if (init > 0) { // the init of its pid namespace: every task of the container goes with it
                Workloads.killQuietly(init);
            }
        }
    }
}
