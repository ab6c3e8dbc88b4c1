package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Two hosts on one machine: network namespaces a and b joined by a veth pair (10.231.N.1 and .2,
 * N chosen per fixture), an agent in each (the packaged CLI), b's agent also in its own pid and
 * mount namespace under a shell that reaps, as on a real second host. Traffic stays inside the
 * namespaces. {@link #close()} removes everything, even after a failure.
 */
final class TwoHosts implements AutoCloseable {
    /** The packaged CLI; -Dbench.jar=FILE: another build's, to compare two versions in the same minutes. */
    static final Path JAR = Path.of(System.getProperty("bench.jar", "../actors/target/cryo.jar")).toAbsolutePath().normalize();
    static final int PORT = 25520;
    private static final java.util.concurrent.atomic.AtomicInteger NEXT =
            new java.util.concurrent.atomic.AtomicInteger(ThreadLocalRandom.current().nextInt(240));

    final String nsA, nsB, ipA, ipB;
    /** Host c, made by {@link #clientHost()}: a client's, linked to a alone (10.232.N.2, a is .1 there). */
    final String nsC, ipC, ipAtoC;
    private final String tag;
    final Path keys, logA, logB;
    /**
     * The packaged launcher's JVM options (actors/src/deb/bin/cryo, ./cryo; without its class-data archive,
     * built once per jar): the agents and CLI runs here are what users run. -Dbench.launcher-jvm="...": others
     * (e.g. "-XX:-UsePerfData" alone for the JVM's default collector), to compare.
     */
    static final String LAUNCHER_JVM = System.getProperty("bench.launcher-jvm", "-XX:-UsePerfData -XX:+UseSerialGC -Xms32m");
    /** The launcher's for a command (not an agent): the client compiler only. */
    static final String LAUNCHER_COMMAND_JVM = LAUNCHER_JVM + " -XX:TieredStopAtLevel=1";
    /**
     * The launcher's for an agent: its young generation's size. -Dbench.launcher-agent-jvm="..." (empty: none),
     * to compare.
     */
    static final String LAUNCHER_AGENT_JVM = LAUNCHER_JVM + " " + System.getProperty("bench.launcher-agent-jvm", "-Xms192m -Xmn64m");

    private final List<Process> agents = new ArrayList<>();
    private Process agentB;
    private boolean initOutlivesAgentB;
    private String[] extra = {};

    TwoHosts(Path tmp) throws Exception {
        int n = 10 + NEXT.getAndIncrement() % 240; // hosts alive at once in one JVM (shared ones) differ
        String tag = Long.toString(ProcessHandle.current().pid() % 10000) + "x" + n;
        nsA = "cryo-a" + tag;
        nsB = "cryo-b" + tag;
        ipA = "10.231." + n + ".1";
        ipB = "10.231." + n + ".2";
        nsC = "cryo-c" + tag;
        ipC = "10.232." + n + ".2";
        ipAtoC = "10.232." + n + ".1";
        this.tag = tag;
        keys = tmp.resolve("keys");
        logA = tmp.resolve("agent-a.log");
        logB = tmp.resolve("agent-b.log");
        try {
            sh("ip netns add " + nsA + " && ip netns add " + nsB
                    + " && ip link add v" + tag + "a type veth peer name v" + tag + "b"
                    + " && ip link set v" + tag + "a netns " + nsA + " && ip link set v" + tag + "b netns " + nsB
                    + " && ip -n " + nsA + " addr add " + ipA + "/24 dev v" + tag + "a"
                    + " && ip -n " + nsB + " addr add " + ipB + "/24 dev v" + tag + "b"
                    + " && ip -n " + nsA + " link set v" + tag + "a up && ip -n " + nsA + " link set lo up"
                    + " && ip -n " + nsB + " link set v" + tag + "b up && ip -n " + nsB + " link set lo up");
            Cli k = Cli.run("keys", "init", keys.toString());
            if (k.code() != 0) throw new IOException(k.toString());
        } catch (Exception | Error e) { // an Error too (a class missing from the build): the namespaces go either way
            close();
            throw e;
        }
    }

    /**
     * Makes host c, where the clients of a's services run, as on a LAN behind a router: c's one link goes to a
     * (its default route), a forwards, and b reaches c through a. A service's address then moves between a and
     * b (a container's, with its routes) without c noticing. Removed by {@link #close()}.
     */
    TwoHosts clientHost() throws Exception {
        sh("ip netns add " + nsC + " && ip link add v" + tag + "c type veth peer name v" + tag + "d"
                + " && ip link set v" + tag + "c netns " + nsC + " && ip link set v" + tag + "d netns " + nsA
                + " && ip -n " + nsC + " addr add " + ipC + "/24 dev v" + tag + "c"
                + " && ip -n " + nsA + " addr add " + ipAtoC + "/24 dev v" + tag + "d"
                + " && ip -n " + nsC + " link set v" + tag + "c up && ip -n " + nsC + " link set lo up"
                + " && ip -n " + nsA + " link set v" + tag + "d up"
                + " && ip -n " + nsC + " route add default via " + ipAtoC
                + " && ip -n " + nsB + " route add " + ipC.substring(0, ipC.lastIndexOf('.')) + ".0/24 via " + ipA
                + " && ip netns exec " + nsA + " sysctl -qw net.ipv4.ip_forward=1"
                + " && ip netns exec " + nsB + " sysctl -qw net.ipv4.ip_forward=1");
        return this;
    }

    String linkA() {
        return nsA.replace("cryo-a", "v") + "a";
    }

    /**
     * b's pid namespace outlives its agent (its init goes on for 5 minutes or more after the agent ended,
     * reaping), as a host outlives a crashed agent: whatever the agent leaves behind stays to be seen.
     */
    TwoHosts initOutlivesAgentB() {
        initOutlivesAgentB = true;
        return this;
    }

    /** Starts both agents (extra: settings for both, e.g. -Dcryo.cluster.io-timeout=5s) and waits until b has joined a. */
    TwoHosts start(String... extra) throws Exception {
        try {
            return startAgents(extra);
        } catch (Exception | Error e) {
            close(); // the caller's try-with-resources never saw this object
            throw e;
        }
    }

    private TwoHosts startAgents(String... extra) throws Exception {
        this.extra = extra;
        String sockA = " -Dcryo.cluster.local-socket=" + logA.resolveSibling("sock-a/agent.sock");
        // nsenter, not ip netns exec: a's agent and workloads share the host's mount namespace (cryo
        // refuses a task whose namespaces are not its own, and ip netns exec makes a mount namespace each time)
        agents.add(spawn(logA, "nsenter --net=/run/netns/" + nsA + " java" + agentJvm("a") + "-jar " + JAR + " "
                + String.join(" ", extra) + sockA + " agent --name a --bind " + ipA + ":" + PORT + " --keys " + keys));
        spawnB();
        awaitLog(logA, "member pekko://cryo@" + ipB + ":" + PORT + " joined (up)", Duration.ofSeconds(300));
        return this;
    }

    /** The JVM options of agent {@code name}: the launcher's (what users run) and -Dbench.agent-jvm's, with spaces around. */
    private static String agentJvm(String name) {
        // -Dbench.agent-jvm="...": JVM options for both agents (a profiler's, when measuring; %n: the agent's name)
        return " " + LAUNCHER_AGENT_JVM + " " + System.getProperty("bench.agent-jvm", "").replace("%n", name) + " ";
    }

    /**
     * ip netns exec mounts a fresh sysfs, without the cgroup hierarchies a host has under it: mounted
     * again in b's mount namespace, one per hierarchy of b's shell (as the host has them), so that b's
     * agent sees its tasks' cgroups as on a real host (its warm-up's dump refused a sleep whose cgroup no
     * mount showed, and every first migration into b ran cold).
     */
    private static final String CGROUP_MOUNTS = "mount -t tmpfs tmpfs /sys/fs/cgroup; "
            + "while IFS=: read -r id c path; do if [ -z \"$c\" ]; then mkdir -p /sys/fs/cgroup/unified; "
            + "mount -t cgroup2 none /sys/fs/cgroup/unified; else d=${c#name=}; mkdir -p /sys/fs/cgroup/$d; "
            + "case $c in name=*) o=none,$c;; *) o=$c;; esac; mount -t cgroup -o $o cgroup /sys/fs/cgroup/$d; fi; "
            + "done < /proc/self/cgroup; ";

    private void spawnB() throws IOException {
        // each agent's local socket is its own: the default one belongs to this host's real agent, if any
        String sockB = " -Dcryo.cluster.local-socket=" + logB.resolveSibling("sock-b/agent.sock");
        agentB = spawn(logB, "ip netns exec " + nsB + " unshare --pid --fork --mount-proc /bin/bash -c '"
                + CGROUP_MOUNTS + "java" + agentJvm("b") + "-jar " + JAR + " " + String.join(" ", extra) + sockB + " agent --name b --bind "
                + ipB + ":" + PORT + " --seed " + ipA + ":" + PORT
                + " --keys " + keys + " & p=$!; trap \"kill -TERM $p\" TERM; while kill -0 $p 2>/dev/null; do wait; done"
                + (initOutlivesAgentB ? "; trap - TERM; for i in $(seq 3000); do sleep 0.1; done" : "")
                + "'");
        agents.add(agentB);
    }

    /**
     * Host b comes back after its agent died or was killed: everything left in its namespaces goes (b's
     * pid namespace with it), a new agent b starts there in a new pid namespace and joins a again as a
     * new incarnation of the same address (a downs and removes the old one first).
     */
    void restartB() throws Exception {
        String joined = "member pekko://cryo@" + ipB + ":" + PORT + " joined (up)";
        int before = count(logA, joined);
        agentB.descendants().forEach(ProcessHandle::destroyForcibly);
        agentB.destroyForcibly();
        sh("ip netns pids " + nsB + " | xargs -r kill -9 2>/dev/null; true"); // a pid listed may be gone by then (ESRCH)
        agents.remove(agentB);
        spawnB();
        long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
        while (count(logA, joined) <= before) {
            if (System.nanoTime() > deadline || !agents.get(0).isAlive()) {
                throw new AssertionError("b did not join a again:\n" + Files.readString(logA) + "\nagent b:\n" + Files.readString(logB));
            }
            Thread.sleep(100);
        }
    }

    /** Both agents run: a's process and b's agent JVM inside b's namespaces. */
    boolean agentsRunning() throws Exception {
        return agentARunning() && agentB.isAlive() && agentPidInB() > 0;
    }

    boolean agentARunning() {
        return !agents.isEmpty() && agents.get(0).isAlive();
    }

    /**
     * Kills whatever runs in b's pid namespace besides its init and agent: trees migrated there and any
     * stub a failed case left, so the next case on the same hosts finds b as fresh.
     */
    void clearB() throws Exception {
        int agent = agentPidInB();
        for (String line : sh("ip netns pids " + nsB).split("\n")) {
            if (line.isBlank() || Integer.parseInt(line.trim()) == agent) continue;
            try {
                for (String l : Files.readAllLines(Path.of("/proc/" + line.trim() + "/status"))) {
                    if (l.startsWith("NSpid:")) {
                        String[] f = l.substring(6).trim().split("\\s+");
                        if (f.length > 1 && !f[f.length - 1].equals("1")) {
                            sh("kill -9 " + line.trim() + " 2>/dev/null; true");
                        }
                    }
                }
            } catch (IOException gone) {
                // exited meanwhile
            }
        }
    }

    /** How many times {@code text} occurs in {@code log} (0 when there is no log yet). */
    static int count(Path log, String text) throws IOException {
        return Files.exists(log) ? Files.readString(log).split(java.util.regex.Pattern.quote(text), -1).length - 1 : 0;
    }

    /** Where {@code log} ends now: a case on shared hosts looks for its own lines after this mark. */
    static long mark(Path log) throws IOException {
        return Files.exists(log) ? Files.size(log) : 0;
    }

    /** The part of {@code log} from byte {@code from} on (all of it if the log was started anew since). */
    static String since(Path log, long from) throws IOException {
        if (!Files.exists(log)) return "";
        byte[] all = Files.readAllBytes(log);
        return new String(all, all.length >= from ? (int) from : 0, all.length >= from ? all.length - (int) from : all.length,
                StandardCharsets.UTF_8);
    }

    /**
     * A workload of host a: started in a's network namespace, as the agent there is (cryo refuses
     * a task whose namespaces are not its own). Same pid: {@code nsenter} without --fork execs in place.
     */
    DetachedProcess startOnA(Path output, String program, String... args) throws Exception {
        java.util.List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + nsA, program));
        cmd.addAll(List.of(args));
        return Workloads.ready(DetachedProcess.start(output, cmd.toArray(String[]::new)));
    }

    DetachedProcess counterOnA(Path dir) throws Exception {
        return startOnA(dir.resolve("counter.out"), TestPrograms.compile("/c/counter.c").toString(),
                dir.resolve("counter.txt").toString());
    }

    DetachedProcess dirtierOnA(Path dir, int mib, int mibPerSecond) throws Exception {
        return startOnA(dir.resolve("dirtier.out"), TestPrograms.compile("/c/dirtier.c", "-O2").toString(),
                Integer.toString(mib), Integer.toString(mibPerSecond));
    }

    DetachedProcess bigmemOnA(Path dir, int mib) throws Exception {
        return startOnA(dir.resolve("bigmem.out"), TestPrograms.compile("/c/bigmem.c").toString(), Integer.toString(mib));
    }

    /** Runs the CLI inside host a's network namespace, as a user there would. */
    CliRun cliOnA(String... args) throws Exception {
        return cli(List.of("ip", "netns", "exec", nsA), args);
    }

    /**
     * Runs the CLI in its own process (--no-agent) inside network namespace {@code ns} (nsA or nsB),
     * sharing the host's other namespaces, as the trees started there do: for a dump or restore there.
     */
    CliRun cliIn(String ns, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--no-agent");
        return cli(List.of("nsenter", "--net=/run/netns/" + ns), all.toArray(String[]::new));
    }

    /** The nftables tables of network namespace {@code ns}, one per line. */
    static String nftTables(String ns) throws Exception {
        return sh("ip netns exec " + ns + " nft list tables");
    }

    private static CliRun cli(List<String> prefix, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add("java");
        cmd.addAll(List.of(LAUNCHER_COMMAND_JVM.split(" ")));
        cmd.addAll(List.of("-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        byte[] err = new byte[0];
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        err = p.getErrorStream().readAllBytes();
        if (!p.waitFor(15, TimeUnit.MINUTES)) {
            p.destroyForcibly();
        }
        return new CliRun(p.exitValue(), out, new String(err, StandardCharsets.UTF_8));
    }

    record CliRun(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + "\nstdout:\n" + out + "\nstderr:\n" + err;
        }
    }

    /** The host pid of the process that has pid {@code nsPid} inside b's pid namespace, or -1. */
    int hostPidInB(int nsPid) throws Exception {
        for (String line : sh("ip netns pids " + nsB).split("\n")) {
            if (line.isBlank()) continue;
            try {
                for (String l : Files.readAllLines(Path.of("/proc/" + line.trim() + "/status"))) {
                    if (l.startsWith("NSpid:")) {
                        String[] f = l.substring(6).trim().split("\\s+");
                        if (f.length > 1 && Integer.parseInt(f[f.length - 1]) == nsPid) {
                            return Integer.parseInt(line.trim());
                        }
                    }
                }
            } catch (IOException gone) {
                // exited meanwhile
            }
        }
        return -1;
    }

    /**
     * The host pid of the init of a container migrated to b: pid {@code nsPid} in b's pid namespace
     * and 1 in a pid namespace of its own (its net namespace is its own too, so b's does not list it); -1 if none.
     */
    static int containerInB(int nsPid) throws Exception {
        for (String line : sh("grep -s '^NSpid:' /proc/[0-9]*/status || true").split("\n")) {
            String[] f = line.substring(line.indexOf(':', line.indexOf("NSpid")) + 1).trim().split("\\s+");
            if (f.length == 3 && f[1].equals(Integer.toString(nsPid)) && f[2].equals("1")) {
                String path = line.substring(0, line.indexOf(":NSpid"));
                return Integer.parseInt(path.split("/")[2]);
            }
        }
        return -1;
    }

    /** Kills the process that has pid {@code nsPid} in b's pid namespace, if there is one. */
    void killMigrated(int nsPid) throws Exception {
        int host = hostPidInB(nsPid);
        if (host > 0) {
            sh("kill -9 " + host);
        }
    }

    /**
     * MiB/s of a plain TCP copy of {@code bytes} from a to b over the same link (no TLS, no framing):
     * the yardstick of the page channel. A python listener in b counts them; bash sends zeros from a.
     */
    double plainTcpMiBPerSecond(long bytes) throws Exception {
        int port = 25599;
        Process sink = new ProcessBuilder("ip", "netns", "exec", nsB, "python3", "-c",
                "import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                        + "s.bind(('" + ipB + "'," + port + "));s.listen(1);print('listening',flush=True)\n"
                        + "c,_=s.accept();n=0\nwhile True:\n d=c.recv(1<<20)\n if not d: break\n n+=len(d)\nprint(n)")
                .redirectErrorStream(true).start();
        try {
            java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(sink.getInputStream()));
            if (!"listening".equals(r.readLine())) throw new IOException("the plain TCP listener did not start");
            long t0 = System.nanoTime();
            sh("ip netns exec " + nsA + " bash -c 'head -c " + bytes + " /dev/zero > /dev/tcp/" + ipB + "/" + port + "'");
            String got = r.readLine();
            long nanos = System.nanoTime() - t0;
            if (got == null || Long.parseLong(got.trim()) != bytes) throw new IOException("plain TCP copy got " + got);
            return bytes / (1024.0 * 1024) / (nanos / 1e9);
        } finally {
            sink.destroyForcibly();
        }
    }

    /** The host pid of b's agent (the JVM in b's namespaces), or -1. */
    int agentPidInB() throws Exception {
        return agentPidIn(nsB);
    }

    /** The host pid of the agent in net namespace {@code ns} (nsA or nsB: the JVM there), or -1. */
    int agentPidIn(String ns) throws Exception {
        for (String line : sh("ip netns pids " + ns).split("\n")) {
            if (line.isBlank()) continue;
            try {
                if (Files.readString(Path.of("/proc/" + line.trim() + "/comm")).trim().equals("java")) {
                    return Integer.parseInt(line.trim());
                }
            } catch (IOException gone) {
                // exited meanwhile
            }
        }
        return -1;
    }

    /** Kills everything in b's namespaces at once (the agent dies mid-whatever). */
    void killB() throws Exception {
        sh("ip netns pids " + nsB + " | xargs -r kill -9 2>/dev/null; true"); // a pid listed may be gone by then (ESRCH)
    }

    static void awaitLog(Path log, String text, Duration timeout) throws Exception {
        awaitLog(log, 0, text, timeout);
    }

    /** Waits for {@code text} in {@code log} after byte {@code from} (a {@link #mark}). */
    static void awaitLog(Path log, long from, String text, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!since(log, from).contains(text)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for '" + text + "' in " + log + ":\n"
                        + (Files.exists(log) ? Files.readString(log) : "(no log)"));
            }
            Thread.sleep(100);
        }
    }

    private static Process spawn(Path log, String command) throws IOException {
        return new ProcessBuilder("/bin/bash", "-c", command).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
    }

    static String sh(String command) throws Exception {
        Process p = new ProcessBuilder("/bin/bash", "-c", command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(command + " failed: " + out);
        }
        return out;
    }

    @Override
    public void close() {
        if (!System.getProperty("bench.agent-jvm", "").isBlank()) { // a profiler writes its recording on a clean exit
            for (Process p : agents) { // a's is java itself (nsenter execs it), b's a descendant
                java.util.stream.Stream.concat(java.util.stream.Stream.of(p.toHandle()), p.descendants())
                        .filter(d -> d.info().command().orElse("").endsWith("java")).forEach(ProcessHandle::destroy);
            }
            for (Process p : agents) {
                java.util.stream.Stream.concat(java.util.stream.Stream.of(p.toHandle()), p.descendants())
                        .forEach(d -> d.onExit().completeOnTimeout(d, 30, TimeUnit.SECONDS).join());
            }
        }
        for (Process p : agents) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (String ns : List.of(nsC, nsB, nsA)) {
            try {
                sh("ip netns pids " + ns + " 2>/dev/null | xargs -r kill -9; ip netns del " + ns + " 2>/dev/null; true");
            } catch (Exception ignored) {
                // best effort; the next line still runs
            }
        }
    }
}
