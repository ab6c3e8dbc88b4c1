package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * bubblewrap's sandboxes (flatpak's, build tools'), checkpointed by the pid of the {@code bwrap}
 * the user started: it stays outside as the sandbox's monitor (sharing its stdio and an eventfd
 * with the inside), its child is the init of the new pid namespace. bwrap's root is the
 * {@code /newroot} directory of a tmpfs it mounted, pivoted into, with /usr bound read-only from
 * the host, symbolic links for /bin and /lib, a fresh /proc, a /dev tmpfs with the host's device
 * nodes bound in and a devpts instance, a private /tmp, and a host directory bound read-write; its
 * root has {@code --die-with-parent}'s parent-death signal.
 */
class SandboxTest {
    @TempDir
    Path tmp;

    /** The sandbox's shell holds /data/count open (fd 3) and writes a count to it five times a second. */
    private static final String COUNTER = "exec 3>>/data/count; i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo $i >&3;"
            + " sleep 0.2; done";

    /**
     * As root, {@code --unshare-all}: user (root mapped to root), ipc, pid, net (only lo), uts with
     * its own host name, and cgroup, started in a memory cgroup of its own, the root of its cgroup
     * namespace. The count goes on after the restore with no gap, the restored root is the tmpfs's
     * /newroot again with bwrap's links and mount points, and the sandbox sees its cgroup as "/"
     * again (the restore places it before it makes its cgroup namespace).
     */
    @Test
    void aBubblewrapSandboxOfRootWithEveryNamespaceCountsOnAfterTheRestore() throws Exception {
        String mine = Files.readString(Path.of("/proc/self/cgroup")).lines().filter(l -> l.matches("\\d+:memory:.*"))
                .findFirst().orElse("");
        Path memory = Path.of("/sys/fs/cgroup/memory");
        org.junit.jupiter.api.Assumptions.assumeTrue(!mine.isEmpty() && Files.isDirectory(memory),
                "needs a cgroup v1 memory hierarchy");
        Path cgroup = Files.createDirectory(memory.resolve(mine.split(":", 3)[2].substring(1))
                .resolve("cryo-sbx-" + ProcessHandle.current().pid()));
        try {
            countsOnAcrossDumpAndRestore(List.of("--unshare-all", "--hostname", "cryo-sbx", "--dev", "/dev"), List.of("sh", "-c",
                    "echo $$ > " + cgroup.resolve("cgroup.procs") + " && exec \"$@\"", "sh"), init -> {
                String inside = NetNamespaceTest.host("nsenter", "-t", Integer.toString(init), "-C", "cat",
                        "/proc/" + init + "/cgroup");
                assertTrue(inside.lines().anyMatch(l -> l.matches("\\d+:memory:/")), inside);
                assertTrue(Files.readString(Path.of("/proc/" + init + "/cgroup")).contains(":memory:"
                        + mine.split(":", 3)[2] + "/cryo-sbx-"), "its cgroup as cryo sees it");
            });
        } finally {
            for (int i = 0; i < 50 && Files.exists(cgroup); i++) { // once its killed tasks have left it
                try {
                    Files.delete(cgroup);
                } catch (java.io.IOException busy) {
                    Thread.sleep(100);
                }
            }
        }
    }

    /**
     * A sandbox inside a container: bwrap's own pid namespace (with a uts one and its mount
     * namespace) under a root's {@code unshare --pid --fork --mount-proc}, dumped at bwrap's monitor,
     * the outer namespace's init. bwrap's init is pid 1 of the inner namespace and 2 of the outer
     * one; after the restore it is again, the sandbox's name is its own, and the count goes on.
     */
    @Test
    void aBubblewrapSandboxInsideAPidNamespaceOfItsOwnCountsOnAfterTheRestore() throws Exception {
        // unshare complains on stderr when its child is killed (the dump): stderr goes nowhere
        countsOnAcrossDumpAndRestore(List.of("--unshare-pid", "--unshare-uts", "--hostname", "cryo-inner", "--dev", "/dev"),
                List.of("sh", "-c", "exec \"$@\" 2>/dev/null", "sh", "unshare", "--pid", "--fork", "--mount-proc"), init -> {
                    String nsPid = Files.readAllLines(Path.of("/proc/" + init + "/status")).stream()
                            .filter(l -> l.startsWith("NSpid:")).findFirst().orElse("");
                    assertEquals("NSpid:\t" + init + "\t2\t1", nsPid);
                    assertEquals("cryo-inner", NetNamespaceTest.host("nsenter", "-t", Integer.toString(init), "-u",
                            "hostname").strip());
                });
    }

    /**
     * Started by an unprivileged user (uid 1000), {@code --unshare-all}: bwrap's user namespace maps
     * the user to itself (1000 to 1000, no root inside), and the sandbox holds no capability at all.
     * Its /dev is a tmpfs with device nodes bound in ({@code --dev}, a devpts instance, makes bwrap
     * nest a second user namespace, which is refused). The count goes on; the sandbox is uid 1000
     * with no capability, ambient ones included, as it was.
     */
    @Test
    void aBubblewrapSandboxOfAnUnprivilegedUserCountsOnAfterTheRestore() throws Exception {
        countsOnAcrossDumpAndRestore(List.of("--unshare-all", "--tmpfs", "/dev", "--dev-bind", "/dev/null", "/dev/null",
                "--dev-bind", "/dev/urandom", "/dev/urandom"), List.of("setpriv", "--reuid=1000", "--regid=1000",
                "--clear-groups"), init -> {
            assertTrue(Files.readString(Path.of("/proc/" + init + "/uid_map")).trim().matches("1000\\s+1000\\s+1"));
            int shell = NamespaceTest.initUnder(init);
            String status = Files.readString(Path.of("/proc/" + shell + "/status"));
            for (String line : List.of("Uid:\t1000\t1000\t1000\t1000", "CapPrm:\t0000000000000000",
                    "CapEff:\t0000000000000000", "CapAmb:\t0000000000000000", "CapBnd:\t0000000000000000")) {
                assertTrue(status.contains(line + "\n"), line + " in\n" + status);
            }
        });
    }

    /**
     * An unprivileged user's sandbox binding the host's whole /dev ({@code --dev-bind /dev /dev},
     * recursive: /dev/pts, /dev/shm... come along): in its user namespace the kernel would refuse the
     * restore's bind of /dev (the host's mounts below it are locked there), so the dump refuses it,
     * naming the sandbox's init and the mount, and the sandbox runs on.
     */
    @Test
    void aSandboxOfAUserBindingTheHostsDevIsRefusedAndRunsOn() throws Exception {
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        DetachedProcess p = DetachedProcess.start(tmp.resolve("bwrap.out"), "setpriv", "--reuid=1000", "--regid=1000",
                "--clear-groups", "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr", "--symlink",
                "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--dev-bind", "/dev",
                "/dev", "--proc", "/proc", "--setenv", "CRYO_SANDBOX", tmp.toString(), "sh", "-c", "echo ready; exec sleep 600");
        int bwrap = p.pid().value();
        try {
            p.awaitOutput("ready", Duration.ofSeconds(30));
            bwrap = monitor(tmp);
            int init = NamespaceTest.initUnder(bwrap);
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", Integer.toString(bwrap), "-D", img.toString(), "--no-progress");
            assertEquals(1, r.code(), r.toString());
            var refusal = java.util.regex.Pattern.compile("pid (\\d+): its mount namespace: its mount devtmpfs .* on /dev"
                    + " binds /dev, below which the host has another mount \\(.* on /dev/.*\\); in a user namespace a"
                    + " restore cannot bind it").matcher(r.err());
            assertTrue(refusal.find(), r.err());
            // the tasks are dumped in parallel: whichever of the namespace's (bwrap's monitor, the init, its shell)
            // comes first is named
            int named = Integer.parseInt(refusal.group(1));
            assertEquals(Files.readSymbolicLink(Path.of("/proc/" + init + "/ns/mnt")),
                    Files.readSymbolicLink(Path.of("/proc/" + named + "/ns/mnt")), named + " is not in " + init + "'s mount namespace");
            assertFalse(Files.exists(img.resolve("image.cryo")), "no image may be left");
            for (int t : StateComparator.tree(bwrap)) {
                String status = Files.readString(Path.of("/proc/" + t + "/status"));
                assertTrue(status.contains("TracerPid:\t0\n") && status.matches("(?s).*State:\t[RS].*"), status);
            }
        } finally {
            Workloads.killQuietly(bwrap);
            try {
                Workloads.killQuietly(NamespaceTest.initUnder(bwrap));
            } catch (Throwable gone) {
                // with its monitor
            }
        }
    }

    /** What is checked of the restored sandbox, by the pid of its init (the inner bwrap). */
    private interface RestoredCheck {
        void check(int init) throws Exception;
    }

    /**
     * The most common sandbox of build tools: the host's whole file system read-only ({@code --ro-bind / /}, a
     * recursive bind, so no pivot to a root of its own), a /dev of its own ({@code --dev /dev}: a tmpfs over the
     * host's /dev with the host's device nodes bound on it) and a private /tmp, as root with
     * {@code --unshare-all}. Those device nodes are binds of the host's /dev/null... that the namespace's own
     * tmpfs covers: the dump refused them ("devtmpfs ... was made inside it and is no bind mount of a path it
     * reaches"); now they are bound from the host's paths again, and the count goes on through them.
     */
    @Test
    void aSandboxOnTheHostsRootReadOnlyWithItsOwnDevCountsOnAfterTheRestore() throws Exception {
        Path data = tmp.resolve("data");
        countsOn(List.of("--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev"), data.toString(), List.of(), init -> {
            String mounts = Files.readString(Path.of("/proc/" + init + "/mountinfo"));
            assertTrue(mounts.lines().anyMatch(l -> l.contains(" /null /dev/null ") && l.contains(" - devtmpfs ")), mounts);
            int shell = NamespaceTest.initUnder(init);
            assertEquals("/dev/null", Files.readSymbolicLink(Path.of("/proc/" + shell + "/fd/4")).toString());
        });
    }

    /**
     * The same for an unprivileged user (uid 1000), whose {@code --dev} would need a nested user namespace: a tmpfs
     * on /dev with the host's /dev/null and /dev/urandom bound on it. Its user namespace owns the mount namespace,
     * where the restore's copy of the host's mounts is locked: the host's /dev/null is bound there by its fd too.
     */
    @Test
    void anUnprivilegedSandboxOnTheHostsRootReadOnlyCountsOnAfterTheRestore() throws Exception {
        Path data = tmp.resolve("data");
        countsOn(List.of("--unshare-all", "--ro-bind", "/", "/", "--tmpfs", "/dev", "--dev-bind", "/dev/null", "/dev/null",
                "--dev-bind", "/dev/urandom", "/dev/urandom"), data.toString(), List.of("setpriv", "--reuid=1000",
                "--regid=1000", "--clear-groups"), init -> {
            String mounts = Files.readString(Path.of("/proc/" + init + "/mountinfo"));
            assertTrue(mounts.lines().anyMatch(l -> l.contains(" /null /dev/null ") && l.contains(" - devtmpfs ")), mounts);
            assertTrue(Files.readString(Path.of("/proc/" + init + "/uid_map")).trim().matches("1000\\s+1000\\s+1"));
        });
    }

    /**
     * Starts bwrap ({@code as}: a prefix such as setpriv) with {@code options} (namespaces, /dev) in a root of its
     * own (a tmpfs with /usr bound in), waits for the count, dumps the outer bwrap (killing the sandbox), restores it
     * detached and checks that the count goes on with no gap or repeat and that the sandbox's root came back as
     * bwrap made it.
     */
    private void countsOnAcrossDumpAndRestore(List<String> options, List<String> as, RestoredCheck restored)
            throws Exception {
        List<String> all = new ArrayList<>(options);
        all.addAll(List.of("--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64"));
        countsOn(all, "/data", as, init -> {
            String root = Files.readString(Path.of("/proc/" + init + "/mountinfo")).lines().findFirst().orElseThrow();
            assertTrue(root.contains(" /newroot / ") && root.contains(" - tmpfs "), root);
            Path inside = Path.of("/proc/" + init + "/root");
            assertEquals("usr/bin", Files.readSymbolicLink(inside.resolve("bin")).toString());
            assertTrue(Files.isDirectory(inside.resolve("usr/bin")) && Files.exists(inside.resolve("data/count")));
            restored.check(init);
        });
    }

    /**
     * Starts bwrap with {@code options} (namespaces, root, /dev), a fresh /proc, a private /tmp and the test's data
     * directory bound at {@code dataInside}, its shell counting into it (with /dev/null open as fd 4), dumps the
     * outer bwrap (killing the sandbox), restores it detached and checks that the count goes on with no gap or
     * repeat.
     */
    private void countsOn(List<String> options, String dataInside, List<String> as, RestoredCheck restored)
            throws Exception {
        Path data = Files.createDirectory(tmp.resolve("data"));
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(data, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        Path count = data.resolve("count");
        List<String> command = new ArrayList<>(as);
        command.add("bwrap");
        command.addAll(options);
        command.addAll(List.of("--die-with-parent", "--proc", "/proc", "--tmpfs", "/tmp", "--bind", data.toString(),
                dataInside, "sh", "-c", "exec 4>/dev/null; " + COUNTER.replace("/data/", dataInside + "/")));
        DetachedProcess p = DetachedProcess.start(tmp.resolve("bwrap.out"), command.toArray(String[]::new));
        int bwrap = p.pid().value();
        try {
            try { // bwrap's start crawls at a load of 25
                DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, Duration.ofSeconds(90), "the sandbox to count");
            } catch (AssertionError slow) {
                throw new AssertionError(slow.getMessage() + "; bwrap said: " + p.outputText(), slow);
            }
            bwrap = monitor(data);
            int init = NamespaceTest.initUnder(bwrap);
            DumpRestore dumped = DumpRestore.dump(bwrap, tmp.resolve("img"));
            int atDump = Workloads.lines(count);
            DetachedProcess r = dumped.restoreDetached(p.output());
            try {
                DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= atDump + 3, Duration.ofSeconds(30),
                        "the restored sandbox to count on");
                List<String> got = Files.readAllLines(count);
                for (int i = 0; i < got.size() - 1; i++) { // the last line may be half written
                    assertEquals(Integer.toString(i + 1), got.get(i), "line " + (i + 1) + " of " + got);
                }
                restored.check(init);
            } finally {
                Workloads.killQuietly(init);
                RestoreTest.killAndReap(r);
            }
        } finally {
            Workloads.killQuietly(bwrap);
            try {
                Workloads.killQuietly(NamespaceTest.initUnder(bwrap));
            } catch (Throwable gone) {
                // with its monitor, or never started
            }
        }
    }

    /**
     * The pid of the bwrap outside (its parent is no bwrap) whose command line names {@code arg}: the
     * started pid may be setsid's, which forks when it leads its process group.
     */
    private static int monitor(Path arg) throws Exception {
        int[] found = {0};
        DetachedProcess.awaitCondition(() -> {
            try (var s = Files.list(Path.of("/proc"))) {
                for (Path d : s.filter(x -> x.getFileName().toString().matches("\\d+")).toList()) {
                    try {
                        String cmd = Files.readString(d.resolve("cmdline"));
                        int ppid = Integer.parseInt(Files.readString(d.resolve("stat")).replaceAll("^.*\\) \\S ", "")
                                .split(" ")[0]);
                        if (cmd.startsWith("bwrap\0") && cmd.contains("\0" + arg + "\0")
                                && !Files.readString(Path.of("/proc/" + ppid + "/comm")).strip().equals("bwrap")) {
                            found[0] = Integer.parseInt(d.getFileName().toString());
                            return !Files.readString(d.resolve("task/" + found[0] + "/children")).isBlank();
                        }
                    } catch (java.io.IOException | RuntimeException gone) {
                        // exited meanwhile
                    }
                }
            } catch (java.io.IOException e) {
                return false;
            }
            return false;
        }, Duration.ofSeconds(30), "bwrap's monitor and its child");
        return found[0];
    }
}
