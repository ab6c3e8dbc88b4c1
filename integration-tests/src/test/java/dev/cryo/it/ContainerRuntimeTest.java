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
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Containers made by a real OCI runtime ({@code crun run -d}, busybox-static rootfs), checkpointed
 * by their init's pid as an orchestrator embedding cryo would: pid, mount, ipc, uts and net
 * namespaces, the rootfs made the root by pivot_root, /proc with the runtime's masked and
 * read-only paths, /dev on a tmpfs with a devpts instance, /dev/shm, /dev/mqueue, a read-only
 * /sys with the cgroup hierarchies bound in. The restore makes every mount again and pivots into
 * the rootfs as crun did; the container goes on.
 */
class ContainerRuntimeTest {
    @TempDir
    Path tmp;

    /**
     * The container's shell holds a file of its rootfs open (fd 3) and writes a count to it five
     * times a second; after the killing dump and the restore the count goes on with no gap and no
     * repeat.
     */
    @Test
    void aContainerWritingToAFileOfItsRootfsGoesOnAfterTheRestore() throws Exception {
        Path bundle = bundle(COUNTER);
        countsOnAcrossDumpAndRestore(bundle, "cryo-ns9-file", bundle.resolve("rootfs/data/count"), init -> {
            assertTrue(Files.readString(Path.of("/proc/" + init + "/mountinfo")).contains(" / "),
                    "the restored init's root");
            assertEquals("/", Files.readSymbolicLink(Path.of("/proc/" + init + "/root")).toString());
            assertTrue(Files.exists(Path.of("/proc/" + init + "/root/bin/busybox")), "its root is the rootfs");
        });
    }

    /** The container's shell: a count written to a file of its rootfs (fd 3) five times a second. */
    private static final String COUNTER = "exec 3>>/data/count; i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo $i >&3;"
            + " sleep 0.2; done";

    /** What is checked of the restored container, by its init's pid. */
    private interface RestoredCheck {
        void check(int init) throws Exception;
    }

    /**
     * Runs the counting container {@code name} of {@code bundle}, dumps it (killing it) and restores
     * it: {@code count} goes on with no gap and no repeat, and {@code restored} holds of it.
     */
    private void countsOnAcrossDumpAndRestore(Path bundle, String name, Path count, RestoredCheck restored)
            throws Exception {
        countsOn(run(bundle, name), count, () -> { }, restored);
    }

    /** What the host needs before a restore (what the container's manager made and took along when it ended). */
    private interface BeforeRestore {
        void run() throws Exception;
    }

    /** Dumps the counting container of init {@code init} (killing it) and restores it: as above. */
    private void countsOn(int init, Path count, BeforeRestore before, RestoredCheck restored) throws Exception {
        try {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, Duration.ofSeconds(30), "the container to count");
            DumpRestore dumped = DumpRestore.dump(init, tmp.resolve("img"));
            before.run();
            int atDump = Workloads.lines(count);
            DetachedProcess r = dumped.restoreDetached(tmp.resolve("restored.out"));
            try {
                DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= atDump + 3, Duration.ofSeconds(30),
                        "the restored container to count on");
                List<String> got = Files.readAllLines(count);
                for (int i = 0; i < got.size() - 1; i++) { // the last line may be half written
                    assertEquals(Integer.toString(i + 1), got.get(i), "line " + (i + 1) + " of " + got);
                }
                restored.check(init);
            } finally {
                RestoreTest.killAndReap(r);
            }
        } finally {
            Workloads.killQuietly(init);
        }
    }

    /**
     * The container's init holds an unreaped child: the zombie comes back with what its status shows,
     * the container's reduced capability sets, no_new_privs and open-files limit (they were cryo's:
     * a zombie's restore set its real uid only).
     */
    @Test
    void aZombieInTheContainerComesBackWithTheContainersCapabilitiesAndLimits() throws Exception {
        Path bundle = bundle("sleep 0 & exec sleep 600");
        int init = run(bundle, "cryo-ns9-zombie");
        try {
            DetachedProcess.awaitCondition(() -> zombieOf(init) > 0, Duration.ofSeconds(30), "the unreaped child");
            int zombie = zombieOf(init);
            DetachedProcess r = DumpRestore.dump(init, tmp.resolve("img")).restoreDetached(tmp.resolve("restored.out"));
            try {
                String status = Files.readString(Path.of("/proc/" + zombie + "/status"));
                assertTrue(status.contains("State:\tZ") && status.contains("NoNewPrivs:\t1"), status);
            } finally {
                RestoreTest.killAndReap(r);
            }
        } finally {
            Workloads.killQuietly(init);
        }
    }

    private static int zombieOf(int parent) {
        try {
            String children = Files.readString(Path.of("/proc/" + parent + "/task/" + parent + "/children")).strip();
            if (children.isEmpty()) {
                return 0;
            }
            int child = Integer.parseInt(children.split("\\s+")[0]);
            return Files.readString(Path.of("/proc/" + child + "/stat")).contains(") Z ") ? child : 0;
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * The rootfs an overlay mounted on the host, as docker and podman make it (the image the lower
     * layer, the container's writes in the upper one): the container binds it as its root; the
     * count goes on after the restore and lands in the upper layer.
     */
    @Test
    void aContainerOnAnOverlayRootfsGoesOnAfterTheRestore() throws Exception {
        Path bundle = bundle(COUNTER);
        Path merged = Files.createDirectory(tmp.resolve("merged"));
        Files.createDirectory(tmp.resolve("upper"));
        Files.createDirectory(tmp.resolve("work"));
        NetNamespaceTest.host("mount", "-t", "overlay", "cryo-rootfs", "-o", "lowerdir=" + bundle.resolve("rootfs")
                + ",upperdir=" + tmp.resolve("upper") + ",workdir=" + tmp.resolve("work"), merged.toString());
        try {
            NetNamespaceTest.host("sed", "-i", "s|\"path\": \"rootfs\"|\"path\": \"" + merged + "\"|",
                    bundle.resolve("config.json").toString());
            countsOnAcrossDumpAndRestore(bundle, "cryo-ns9-ovl", tmp.resolve("upper/data/count"), init ->
                    assertTrue(Files.readString(Path.of("/proc/" + init + "/mountinfo")).contains(" / rw"), "its root"));
        } finally {
            NetNamespaceTest.host("umount", "-l", merged.toString());
        }
    }

    /**
     * busybox httpd in the container behind a veth pair to the test's namespace (the host end
     * cryo-vh9 10.91.0.1, the container's cryo-vc9 10.91.0.2): it answers the host before the dump
     * and again after the restore, which made both ends of the pair again.
     */
    @Test
    void aContainersHttpServerAnswersTheHostThroughItsVethAgain() throws Exception {
        Path bundle = bundle("mkdir -p /www && echo hello-from-crun > /www/index.html && i=0; while [ $i -lt 300 ]"
                + " && ! ip link show cryo-vc9 >/dev/null 2>&1; do i=$((i+1)); sleep 0.1; done;"
                + " ip link set lo up && ip addr add 10.91.0.2/24 dev cryo-vc9 && ip link set cryo-vc9 up"
                + " && exec httpd -f -p 10.91.0.2:8080 -h /www");
        int init = run(bundle, "cryo-ns9-http");
        try {
            NetNamespaceTest.host("ip", "link", "add", "cryo-vh9", "type", "veth", "peer", "name", "cryo-vc9", "netns",
                    Integer.toString(init));
            NetNamespaceTest.host("ip", "addr", "add", "10.91.0.1/24", "dev", "cryo-vh9");
            NetNamespaceTest.host("ip", "link", "set", "cryo-vh9", "up");
            DetachedProcess.awaitCondition(() -> get().contains("hello-from-crun"), Duration.ofSeconds(30),
                    "httpd to answer through the veth");
            DetachedProcess r = DumpRestore.dump(init, tmp.resolve("img")).restoreDetached(tmp.resolve("restored.out"));
            try {
                DetachedProcess.awaitCondition(() -> get().contains("hello-from-crun"), Duration.ofSeconds(30),
                        "the restored httpd to answer through the veth made again");
            } finally {
                RestoreTest.killAndReap(r);
            }
        } finally {
            Workloads.killQuietly(init);
            try {
                NetNamespaceTest.host("ip", "link", "del", "cryo-vh9");
            } catch (AssertionError gone) {
                // gone with the namespace
            }
        }
    }

    /**
     * A bundle: busybox-static as the rootfs's only program, and crun's own default config.json
     * ({@code crun spec}) running {@code script} with no terminal, a writable rootfs and no cgroup
     * resources (the test hosts' cgroups are v1 with cgroup2 holding a controller, a layout crun
     * refuses to manage).
     */
    private Path bundle(String script) throws Exception {
        Path b = tmp.resolve("bundle");
        Path bin = Files.createDirectories(b.resolve("rootfs/bin"));
        for (String d : List.of("proc", "dev", "sys", "tmp", "data")) {
            Files.createDirectories(b.resolve("rootfs").resolve(d));
        }
        Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
        for (String c : List.of("sh", "sleep", "echo", "mkdir", "ip", "httpd")) {
            Files.createSymbolicLink(bin.resolve(c), Path.of("busybox"));
        }
        NetNamespaceTest.host("sh", "-c", "cd " + b + " && crun spec");
        NetNamespaceTest.host("python3", "-c", "import json, sys\nc = json.load(open(sys.argv[1]))\n"
                + "c['process']['terminal'] = False\nc['process']['args'] = ['sh', '-c', sys.argv[2]]\n"
                + "c['process']['capabilities'] = {k: ['CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_KILL'] for k in"
                + " ('bounding', 'effective', 'permitted')}\n"
                + "c['root']['readonly'] = False\nc['linux'].pop('resources', None)\n"
                + "json.dump(c, open(sys.argv[1], 'w'), indent=1)\n", b.resolve("config.json").toString(), script);
        return b;
    }

    /**
     * {@code crun run -d}: the container's init, a child of pid 1 once crun exits. crun runs in a
     * mount namespace of its own where the host's cgroup2 mount (holding the hugetlb controller,
     * which crun takes for a hybrid layout it refuses) is unmounted; the container copies that.
     */
    private int run(Path bundle, String id) throws Exception {
        Path state = Files.createDirectories(tmp.resolve("crun-state"));
        // its stdio opened here, on the host's mounts, as an orchestrator's would be
        NetNamespaceTest.host("sh", "-c", "exec </dev/null >" + tmp.resolve(id + ".log") + " 2>&1; exec unshare -m"
                + " --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root " + state
                + " --cgroup-manager=disabled run -d --bundle " + bundle + " " + id + "'");
        String out = NetNamespaceTest.host("crun", "--root", state.toString(), "state", id);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"pid\": (\\d+)").matcher(out);
        assertTrue(m.find(), "crun state: " + out);
        return Integer.parseInt(m.group(1));
    }

    /**
     * A systemd-nspawn container (busybox rootfs, {@code --pipe}: the container's stdio is nspawn's,
     * no console pty), dumped by its init's pid as crun's are. nspawn makes the container's root a
     * shared mount and mounts everything under it, so nearly every mount is in a peer group of its
     * own; /run and its /run/host bind are peers, its os-release binds are peers, /run/host/incoming
     * is a slave of the copy below it, /proc's read-only binds are peers of /proc; boot_id and kmsg
     * are binds of a file and a FIFO removed from /run. The restore makes all of it again — the
     * groups, the masters, the removed files — and the container counts on.
     */
    @Test
    void aSystemdNspawnContainerWithItsSharedMountsCountsOnAfterTheRestore() throws Exception {
        Path root = bundle(COUNTER).resolve("rootfs");
        Files.createDirectories(root.resolve("usr/lib")); // nspawn wants an OS tree: /usr and an os-release
        Files.writeString(Files.createDirectories(root.resolve("etc")).resolve("os-release"), "ID=busybox\n");
        Path count = root.resolve("data/count");
        // no systemd on the test hosts: no machine registration, no unit of its own
        // its stdio not a file: nspawn writes there once its container is killed, which the restore would take as a
        // change. nspawn's own seccomp filters stay: a sleep of the count exiting at the dump is a zombie under them
        try (DetachedProcess nspawn = DetachedProcess.start(tmp.resolve("nspawn.out"), "sh", "-c", "exec </dev/null"
                + " >/dev/null 2>&1; exec systemd-nspawn --pipe --register=no --keep-unit -q -D " + root + " /bin/sh -c '"
                + COUNTER + "'")) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, Duration.ofSeconds(60), "the container to count");
            int init = NamespaceTest.pidNamespaceInitBelow(nspawn.pid().value());
            // nspawn's directory for what it propagates into /run/host/incoming: nspawn removes it when its container
            // dies (the dump), and the restored container binds it again, so it is made again as a manager would
            Path incoming = Path.of(Files.readString(Path.of("/proc/" + init + "/mountinfo")).lines()
                    .filter(l -> l.contains(" /run/host/incoming ")).findFirst().orElseThrow().split(" ")[3]);
            String bootId = Files.readString(Path.of("/proc/" + init + "/root/proc/sys/kernel/random/boot_id"));
            List<String> groups = peerGroups(init);
            assertTrue(groups.stream().anyMatch(g -> g.startsWith("/ shared(")), "nspawn's root is shared: " + groups);
            assertTrue(groups.stream().anyMatch(g -> g.startsWith("/run/host/incoming master(")), "a slave: " + groups);
            try {
                countsOn(init, count, () -> Files.createDirectories(incoming), restored -> {
                    assertEquals(groups, peerGroups(restored), "peer groups and masters, by their members");
                    assertEquals(bootId, Files.readString(Path.of("/proc/" + restored + "/root/proc/sys/kernel/random/boot_id")));
                    int mode = (Integer) Files.getAttribute(Path.of("/proc/" + restored + "/root/proc/kmsg"), "unix:mode",
                            java.nio.file.LinkOption.NOFOLLOW_LINKS);
                    assertEquals(0010000, mode & 0170000, "/proc/kmsg is a FIFO again");
                });
            } finally {
                Files.deleteIfExists(incoming); // unmounted with the killed container
            }
        }
    }

    /**
     * systemd-nspawn --console=interactive, run under script(1) as from a user's terminal: the
     * container's console is a pty of the container's own devpts instance whose master nspawn holds
     * on the host (and the host's pty of the same number is nspawn's terminal). Dumped by its init's
     * pid, the container is refused, naming nspawn's fd, and counts on.
     */
    @Test
    void anNspawnConsoleWhoseMasterNspawnHoldsIsRefusedNamingIt() throws Exception {
        Path root = bundle(COUNTER).resolve("rootfs");
        Files.createDirectories(root.resolve("usr/lib"));
        Files.writeString(Files.createDirectories(root.resolve("etc")).resolve("os-release"), "ID=busybox\n");
        Files.writeString(root.resolve("count.sh"), COUNTER + "\n");
        Path count = root.resolve("data/count");
        Path fifo = tmp.resolve("in");
        int init = 0;
        try (DetachedProcess script = DetachedProcess.start(tmp.resolve("script.out"), "sh", "-c", "mkfifo " + fifo
                + " && exec script -qfec 'systemd-nspawn --console=interactive --register=no --keep-unit -q -D " + root
                + " /bin/sh /count.sh' /dev/null <>" + fifo)) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) >= 3, Duration.ofSeconds(60), "the container to count");
            // script runs nspawn through $SHELL -c, which need not exec it
            int nspawn = NamespaceTest.descendantNamed(script.pid().value(), "systemd-nspawn");
            init = NamespaceTest.pidNamespaceInitBelow(nspawn);
            Cli r = Cli.run("dump", "-t", Integer.toString(init), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, r.code(), r.toString());
            // named by an fd or as a controlling terminal of whichever task of the container the dump looks
            // at first (its tasks are read in parallel), held by one of nspawn's processes (it forks helpers)
            assertTrue(java.util.regex.Pattern.compile("pid \\d+( fd \\d+: terminal|: its controlling terminal)"
                    + " /dev/pts/0 of a devpts instance of"
                    + " its own \\(device \\d+:\\d+, a container's /dev/pts\\) has its master outside the tree \\(pid "
                    + "\\d+ systemd-nspawn fd \\d+, ").matcher(r.err()).find(), r.err());
            assertFalse(Files.exists(tmp.resolve("img").resolve("image.cryo")));
            long before = Workloads.lines(count);
            DetachedProcess.awaitCondition(() -> Workloads.lines(count) > before, Duration.ofSeconds(30), "it to count on");
        } finally {
            if (init > 0) { // the init of the container's pid namespace: nspawn ends with it
                Workloads.killQuietly(init);
            }
        }
    }

    /**
     * Each mount of the init's namespace as "point shared(G) master(G)", G named by the group's first
     * member (point@root): the kernel numbers groups anew at a restore.
     */
    static List<String> peerGroups(int pid) throws Exception {
        List<dev.cryo.kernel.proc.MountInfo.Mount> t = dev.cryo.kernel.proc.MountInfo.parse("mountinfo",
                Files.readString(Path.of("/proc/" + pid + "/mountinfo")));
        java.util.Map<Integer, String> name = new java.util.TreeMap<>();
        for (var m : t) {
            if (m.sharedGroup() != 0) {
                name.merge(m.sharedGroup(), m.point() + "@" + m.root(), (a, b) -> a.compareTo(b) <= 0 ? a : b);
            }
        }
        List<String> out = new java.util.ArrayList<>();
        for (var m : t) {
            out.add(m.point() + (m.sharedGroup() != 0 ? " shared(" + name.get(m.sharedGroup()) + ")" : "")
                    + (m.masterGroup() != 0 ? " master(" + name.getOrDefault(m.masterGroup(), "outside") + ")" : ""));
        }
        java.util.Collections.sort(out);
        return out;
    }

    private static String get() {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress("10.91.0.2", 8080), 2000);
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET /index.html HTTP/1.0\r\n\r\n".getBytes());
            return new String(s.getInputStream().readAllBytes());
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
