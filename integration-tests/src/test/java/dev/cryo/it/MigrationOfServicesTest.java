package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code cryo migrate --tcp-established} of the servers operators run, with a client connected from a third
 * host, c ({@link TwoHosts#clientHost()}: c's link goes to a, which routes; b reaches c through a). A service
 * moves as a container: its own net and pid namespaces, its address behind a veth to the host it runs on. Its
 * address moves with its namespace; each host keeps a standing fallback route to the other for the container's
 * subnet (metric 100), which takes over once the container's veth has left it. The client keeps one connection
 * and checks every answer (serviceclient.py): it must go on across each move, never reconnecting.
 */
class MigrationOfServicesTest {
    @TempDir
    Path tmp;

    private static Path sharedDir;
    private static TwoHosts shared;

    @BeforeEach
    void jar() {
        assumeTrue(Files.exists(TwoHosts.JAR), "the packaged CLI " + TwoHosts.JAR + " is built by `mvn verify` (package phase)");
    }

    private static TwoHosts hosts() throws Exception {
        if (shared == null) {
            sharedDir = Files.createTempDirectory("cryo-migration-services-");
            System.out.println("hosts in " + sharedDir);
            shared = new TwoHosts(sharedDir).start(Boolean.getBoolean("mig.verbose") ? new String[] {"-vv"} : new String[0]).clientHost();
        }
        return shared;
    }

    @AfterAll
    static void stopHosts() throws Exception {
        if (shared != null) {
            shared.close();
            shared = null;
        }
        if (sharedDir != null && !Boolean.getBoolean("mig.keep")) {
            try (var files = Files.walk(sharedDir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    /**
     * Redis (its main thread and its background threads) in a container on a, a client on c incrementing a key
     * every 50 ms on one connection: moved to b and back to a, the client goes on, each INCR the one before + 1.
     * Each `cryo migrate` prints its rounds, bytes, downtime and total, which must add up.
     */
    @Test
    void redisInAContainerMovesToBAndBackWhileAClientOnAThirdHostGoesOnWithoutReconnecting() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/redis-server")), "Debian package redis-server");
        TwoHosts h = hosts();
        Container c = Container.onA(h, tmp, "10.85.1", "cryo-r",
                "/usr/bin/redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save \"\" --appendonly no");
        try (c; DetachedProcess client = clientOnC(h, "redis", "10.85.1.2", 6379)) {
            awaitAnswers(client, 10, "the client's first answers from a");
            TwoHosts.CliRun there = migrate(h, h.ipA, c.init, "b");
            assertTrue(c.runsInB(), "the container's init runs in b's pid namespace");
            // b's next pid back below the tree's (a's) once the restore ended: b's own forks stay clear of a's next pids
            DetachedProcess.awaitCondition(() -> nextPidInB(h) < c.init, Duration.ofSeconds(30),
                    "b's next pid back below " + c.init);
            awaitAnswers(client, answers(client) + 20, "answers with the container on b\n" + there.out());
            assertFalse(c.unshare.alive(), "the container is gone from a");

            // b's fallback route to a for the container's subnet, once it leaves b
            TwoHosts.sh("ip -n " + h.nsB + " route replace 10.85.1.0/24 via " + h.ipA + " metric 100");
            TwoHosts.CliRun back = migrate(h, h.ipB, c.init, "a");
            DetachedProcess.awaitCondition(() -> !c.runsInB() && c.runsOnA(), Duration.ofSeconds(30),
                    "the container's init back in a's pid namespace");
            awaitAnswers(client, answers(client) + 20, "answers with the container back on a\n" + back.out());
            for (String ns : List.of(h.nsA, h.nsB)) {
                assertFalse(TwoHosts.nftTables(ns).contains("cryo_"), ns + ": " + TwoHosts.nftTables(ns));
            }
        }
    }

    /**
     * nginx, a master and two workers (unix socket pairs between them, each worker's epoll), in a container on
     * a, a client on c making keep-alive GETs on one connection (which a worker holds): the tree moves to b and
     * the client goes on with the same connection.
     */
    @Test
    void nginxMasterAndWorkersInAContainerMoveWithAKeptAliveClient() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/nginx")), "Debian package nginx-light");
        TwoHosts h = hosts();
        Path dir = Files.createDirectories(tmp.resolve("nginx"));
        Files.writeString(dir.resolve("nginx.conf"), "worker_processes 2;\ndaemon off;\nerror_log " + dir
                + "/error.log;\npid " + dir + "/nginx.pid;\nevents { worker_connections 64; }\n"
                + "http {\n access_log off;\n keepalive_timeout 600s;\n keepalive_requests 1000000;\n"
                + " client_body_temp_path " + dir + ";\n proxy_temp_path " + dir + ";\n fastcgi_temp_path " + dir + ";\n"
                + " uwsgi_temp_path " + dir + ";\n scgi_temp_path " + dir + ";\n"
                + " server { listen 8080; location / { return 200 \"hello from nginx\\n\"; } }\n}\n");
        Container c = Container.onA(h, tmp, "10.85.2", "cryo-n",
                "/usr/sbin/nginx -c " + dir.resolve("nginx.conf") + " -p " + dir);
        try (c; DetachedProcess client = clientOnC(h, "http", "10.85.2.2", 8080)) {
            awaitAnswers(client, 10, "the client's first answers from a");
            DetachedProcess.awaitCondition(() -> tree(c.init).size() == 3, Duration.ofSeconds(30), "nginx's two workers");
            TwoHosts.CliRun there = migrate(h, h.ipA, c.init, "b");
            assertTrue(c.runsInB(), "the container's init runs in b's pid namespace");
            assertEquals(3, there.out().replaceAll("(?s).*pids there: \\[([^]]*)].*", "$1").split(",").length, there.out());
            awaitAnswers(client, answers(client) + 20, "answers with the container on b\n" + there.out());
            assertFalse(c.unshare.alive(), "the container is gone from a");
        }
    }

    /**
     * memcached (its worker, LRU and hash threads) in a container on a, a client on c incrementing a counter every
     * 50 ms on one connection: moved to b, the client goes on, each incr the one before + 1.
     */
    @Test
    void memcachedInAContainerMovesWithAClientThatIncrementsOnOneConnection() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/memcached")), "Debian package memcached");
        TwoHosts h = hosts();
        Container c = Container.onA(h, tmp, "10.85.3", "cryo-m", "/usr/bin/memcached -u nobody -p 11211 -m 16");
        try (c) {
            movesToBWithItsClient(h, c, "memcached", "10.85.3.2", 11211);
        }
    }

    /**
     * PostgreSQL, the postmaster as the container's init and its background processes (their shared memory: a
     * SysV segment, shared anonymous memory, /dev/shm), with a client on c asking its session's temporary sequence
     * every 50 ms on one connection (served by its own backend process): moved to b, the same session answers on,
     * each value the one before + 1.
     */
    @Test
    void postgresqlInAContainerMovesWithASessionOnOneConnection() throws Exception {
        Path bin = RealServersTest.postgresBin();
        assumeTrue(bin != null, "Debian package postgresql");
        TwoHosts h = hosts();
        Path dir = Files.createDirectories(tmp.resolve("pg"));
        Path data = dir.resolve("data");
        Set<String> segments = postgresSegments();
        try {
            TwoHosts.sh("chown postgres:postgres " + tmp + " " + dir);
            RealServersTest.asPostgres(null, bin.resolve("initdb").toString(), "-D", data.toString(), "-A", "trust", "--no-sync");
            Files.writeString(data.resolve("pg_hba.conf"), "host all all 0.0.0.0/0 trust\n", java.nio.file.StandardOpenOption.APPEND);
            Container c = Container.onA(h, tmp, "10.85.4", "cryo-p", "setpriv --reuid=postgres --regid=postgres --init-groups "
                    + bin.resolve("postgres") + " -D " + data + " -p 5432 -k " + dir + " -c listen_addresses=0.0.0.0");
            try (c) {
                movesToBWithItsClient(h, c, "postgres", "10.85.4.2", 5432);
            }
        } finally {
            // the SysV segment a killed postmaster leaves in the host's IPC namespace
            Set<String> left = postgresSegments();
            left.removeAll(segments);
            for (String id : left) {
                TwoHosts.sh("ipcrm -m " + id + " 2>/dev/null; true");
            }
        }
    }

    /**
     * Tarantool 2.6 (its tx thread running fibers, its WAL writer and I/O threads, a 64 MiB memtx arena reserved
     * up front) in a container on a: a fiber writes a row to its WAL every 100 ms while a client on c increments
     * a counter kept in a space, on one connection; moved to b with pre-copy, the client goes on, each answer the
     * one before + 1, and the WAL writer writes on after the move (its xlog file grows on b).
     */
    @Test
    void tarantoolInAContainerMovesWithItsWalWriterAndAClientOnOneConnection() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/tarantool")), "Debian package tarantool");
        TwoHosts h = hosts();
        Path dir = Files.createDirectories(tmp.resolve("tarantool"));
        Files.writeString(dir.resolve("app.lua"), String.join("\n",
                "box.cfg{work_dir = '" + dir + "', memtx_memory = 64 * 1024 * 1024, log = 'tarantool.log'}",
                "local kv = box.schema.space.create('kv')",
                "kv:create_index('pk')",
                "kv:insert{1, 0}",
                "local fiber = require('fiber')",
                "fiber.create(function() local n = 0 while true do n = n + 1; kv:replace{2, n}; fiber.sleep(0.1) end end)",
                "require('socket').tcp_server('0.0.0.0', 3302, function(s)",
                "  while s:read('\\n') do s:write(kv:update(1, {{'+', 2, 1}})[2] .. '\\r\\n') end",
                "end)", ""));
        Container c = Container.onA(h, tmp, "10.85.5", "cryo-t", "/usr/bin/tarantool " + dir.resolve("app.lua"));
        try (c) {
            movesToBWithItsClient(h, c, "line", "10.85.5.2", 3302);
            Path xlog = dir.resolve("00000000000000000000.xlog");
            long size = Files.size(xlog);
            DetachedProcess.awaitProbe(() -> Files.size(xlog) > size, Duration.ofSeconds(30),
                    "the WAL writer to write on b");
        }
    }

    /** Container {@code c} moves to b while a client on c asks it every 50 ms on one connection (serviceclient.py KIND). */
    private void movesToBWithItsClient(TwoHosts h, Container c, String kind, String ip, int port) throws Exception {
        try (DetachedProcess client = clientOnC(h, kind, ip, port)) {
            awaitAnswers(client, 10, "the client's first answers from a");
            TwoHosts.CliRun there = migrate(h, h.ipA, c.init, "b");
            assertTrue(c.runsInB(), "the container's init runs in b's pid namespace");
            awaitAnswers(client, answers(client) + 20, "answers with the container on b\n" + there.out());
            assertFalse(c.unshare.alive(), "the container is gone from a");
        }
    }

    /** The ids of the SysV segments the postgres user owns. */
    private static Set<String> postgresSegments() throws Exception {
        return new java.util.HashSet<>(List.of(TwoHosts.sh("awk -v u=$(id -u postgres) 'NR>1 && $8==u {print $2}'"
                + " /proc/sysvipc/shm").trim().split("\\s+"))).stream().filter(x -> !x.isEmpty())
                .collect(java.util.stream.Collectors.toCollection(java.util.HashSet::new));
    }

    /**
     * Redis in a's own network namespace (no container: its address is a's) with a client on c: its
     * connection cannot move (the address stays on a), so the migration is refused by name, and Redis goes on
     * answering the same client at a.
     */
    @Test
    void aServiceOnTheSourceHostsOwnAddressIsRefusedAndGoesOnServingItsClient() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/redis-server")), "Debian package redis-server");
        TwoHosts h = hosts();
        try (DetachedProcess redis = DetachedProcess.start(tmp.resolve("redis.out"), "nsenter", "--net=/run/netns/" + h.nsA,
                "/usr/bin/redis-server", "--port", "6380", "--bind", h.ipAtoC, "--protected-mode", "no", "--save", "", "--appendonly", "no");
             DetachedProcess client = clientOnC(h, "redis", h.ipAtoC, 6380)) {
            awaitAnswers(client, 10, "the client's first answers");
            TwoHosts.CliRun m = h.cliOnA("migrate", "-t", redis.pid().toString(), "--to", "b", "--agent",
                    h.ipA + ":" + TwoHosts.PORT, "--keys", h.keys.toString(), "--tcp-established");
            assertNotEquals(0, m.code(), m.toString());
            assertTrue(m.err().contains(h.ipAtoC + ":6380 -> " + h.ipC + ":") && m.err().contains(
                    "lives in this host's network namespace and its peer is not the tree's"), m.toString());
            assertFalse(m.err().contains("\tat "), "a stack trace:\n" + m);
            awaitAnswers(client, answers(client) + 20, "answers at a after the refusal");
            assertTrue(redis.alive());
            assertFalse(TwoHosts.nftTables(h.nsA).contains("cryo_"), TwoHosts.nftTables(h.nsA));
        }
    }

    /** ns_last_pid of b's pid namespace (read by a process in it, which takes a pid there itself). */
    private static int nextPidInB(TwoHosts h) {
        try {
            return Integer.parseInt(TwoHosts.sh("nsenter -t " + h.agentPidInB() + " -p cat /proc/sys/kernel/ns_last_pid").trim());
        } catch (Exception e) {
            return Integer.MAX_VALUE;
        }
    }

    /** `cryo migrate` of pid {@code init} to agent {@code to} through the agent at {@code agentIp}; checks its output adds up. */
    private static TwoHosts.CliRun migrate(TwoHosts h, String agentIp, int init, String to) throws Exception {
        TwoHosts.CliRun m = h.cliOnA("migrate", "-t", Integer.toString(init), "--to", to, "--agent",
                agentIp + ":" + TwoHosts.PORT, "--keys", h.keys.toString(), "--tcp-established");
        assertEquals(0, m.code(), m + "\nagent a:\n" + Files.readString(h.logA) + "\nagent b:\n" + Files.readString(h.logB));
        System.out.println(m.out());
        checkFigures(m.out(), to);
        return m;
    }

    /**
     * The figures of a migrate's output: rounds numbered from 1, the last one frozen; the frozen dump and send and
     * the destination's restore each within the downtime; the downtime within the total; the bytes sent at least
     * 9/10 of the rounds' bytes (a round's zero pages, which the image holds without their bytes, said apart).
     */
    static void checkFigures(String out, String to) {
        Matcher round = Pattern.compile("  round (\\d+)( \\(frozen\\))?: ([\\d.]+) (B|KiB|MiB|GiB)"
                + "(?: and \\d+ zero or one-byte pages? \\(not sent\\))?\n").matcher(out);
        double least = 0;
        int n = 0;
        boolean frozen = false;
        while (round.find()) {
            assertFalse(frozen, "a round after the frozen one:\n" + out);
            assertEquals(++n, Integer.parseInt(round.group(1)), out);
            frozen = round.group(2) != null;
            least += bytes(round.group(3), -0.05, round.group(4)); // printed to one decimal
        }
        assertTrue(n >= 1 && frozen, "rounds ending with the frozen one:\n" + out);
        Matcher d = Pattern.compile("  downtime (\\d+) ms \\(frozen dump and send (\\d+) ms, restore on " + to
                + " (\\d+) ms\\), total (\\d+) ms, ([\\d.]+) (B|KiB|MiB|GiB) sent\n").matcher(out);
        assertTrue(d.find(), out);
        long downtime = Long.parseLong(d.group(1)), send = Long.parseLong(d.group(2)), restore = Long.parseLong(d.group(3));
        long total = Long.parseLong(d.group(4));
        // each within it (b's restore starts at the last chunk's arrival, a few ms before a's send ends on the receipt)
        assertTrue(send <= downtime && restore <= downtime, "dump+send and restore within the downtime:\n" + out);
        assertTrue(downtime <= total, "the downtime within the total:\n" + out);
        assertTrue(bytes(d.group(5), 0.05, d.group(6)) >= least * 0.9, "sent at least 9/10 of the rounds' pages:\n" + out);
        assertFalse(out.contains("failed"), "a note of a failure:\n" + out);
    }

    /** {@code n} {@code unit} (as Sizes prints it) + {@code slack} (of that unit, not of bytes). */
    private static double bytes(String n, double slack, String unit) {
        return unit.equals("B") ? Double.parseDouble(n) : (Double.parseDouble(n) + slack) * switch (unit) {
            case "KiB" -> 1024;
            case "MiB" -> 1024 * 1024;
            case "GiB" -> 1024 * 1024 * 1024;
            default -> 1;
        };
    }

    private DetachedProcess clientOnC(TwoHosts h, String kind, String ip, int port) throws Exception {
        Path script = Workloads.script(tmp, "serviceclient.py");
        return DetachedProcess.start(tmp.resolve(kind + "-client.out"), "nsenter", "--net=/run/netns/" + h.nsC,
                "python3", script.toString(), kind, ip, Integer.toString(port));
    }

    private static long answers(DetachedProcess client) {
        return NetNamespaceTest.count(client.output(), "ok ");
    }

    /** Waits for the client's {@code n}th answer; fails at once when it failed or connected twice. */
    private static void awaitAnswers(DetachedProcess client, long n, String what) throws Exception {
        DetachedProcess.awaitCondition(() -> answers(client) >= n || NetNamespaceTest.count(client.output(), "FAIL") > 0,
                Duration.ofSeconds(90), what);
        String out = Files.readString(client.output());
        assertFalse(out.contains("FAIL"), what + ":\n" + out);
        assertEquals(1, NetNamespaceTest.count(client.output(), "connected"), "one connection all along:\n" + out);
    }

    private static List<Integer> tree(int pid) {
        try {
            return StateComparator.tree(pid);
        } catch (Exception e) {
            return List.of();
        }
    }

    /**
     * A container on a: {@code unshare -n --pid --fork} (no mount namespace of its own, as b's agent sees
     * another /sys), its init running {@code service} once its veth end DEVc is there with NET.2/24 and a
     * default route via NET.1, a's end DEVh; a routes NET.0/24 to b when DEVh is gone (metric 100).
     */
    private record Container(DetachedProcess unshare, int init) implements AutoCloseable {
        static Container onA(TwoHosts h, Path dir, String net, String dev, String service) throws Exception {
            String line = "ip link set lo up && i=0; while [ $i -lt 300 ] && ! ip link show " + dev + "c >/dev/null 2>&1; do"
                    + " i=$((i+1)); sleep 0.1; done; ip addr add " + net + ".2/24 dev " + dev + "c && ip link set " + dev
                    + "c up && ip route add default via " + net + ".1 && exec " + service;
            DetachedProcess u = DetachedProcess.start(dir.resolve(dev + "-container.out"), "sh", "-c",
                    "exec nsenter --net=/run/netns/" + h.nsA + " unshare -n --pid --fork sh -c '" + line + "'");
            try {
                DetachedProcess.awaitCondition(() -> NetNamespaceTest.hasChild(u.pid().value()), Duration.ofSeconds(20),
                        "unshare's child");
                int init = NamespaceTest.initUnder(u.pid().value());
                TwoHosts.sh("ip -n " + h.nsA + " link add " + dev + "h type veth peer name " + dev + "c netns " + init
                        + " && ip -n " + h.nsA + " addr add " + net + ".1/24 dev " + dev + "h && ip -n " + h.nsA
                        + " link set " + dev + "h up && ip -n " + h.nsA + " route replace " + net + ".0/24 via " + h.ipB
                        + " metric 100");
                return new Container(u, init);
            } catch (Exception | Error e) {
                u.close();
                throw e;
            }
        }

        /** The init runs in b's pid namespace (pid init there, 1 in its own). */
        boolean runsInB() {
            try {
                return TwoHosts.containerInB(init) > 0;
            } catch (Exception e) {
                return false;
            }
        }

        /** The init runs on a with its pid: init in a's (the host's) pid namespace, 1 in its own. */
        boolean runsOnA() {
            try {
                return Files.readAllLines(Path.of("/proc/" + init + "/status")).stream()
                        .anyMatch(l -> l.matches("NSpid:\\s+" + init + "\\s+1"));
            } catch (Exception e) {
                return false;
            }
        }

        @Override
        public void close() throws Exception {
            List<Integer> left = new ArrayList<>();
            int inB = TwoHosts.containerInB(init);
            if (inB > 0) left.add(inB);
            if (runsOnA()) left.add(init);
            for (int p : left) {
                TwoHosts.sh("kill -9 " + p + " 2>/dev/null; true");
            }
            unshare.close();
        }
    }
}
