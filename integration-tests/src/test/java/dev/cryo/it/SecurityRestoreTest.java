package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Capabilities, securebits, no_new_privs, dumpable, subreaper and seccomp come back exactly:
 * each workload records its own state at ready and compares after the restore, and the seccomp
 * ones prove their filters still refuse what they refused.
 */
class SecurityRestoreTest {
    @TempDir
    Path tmp;

    private static void assertPass(String out) {
        assertTrue(out.contains("PASS"), out);
        assertEquals(1, out.split("ready", -1).length - 1, "the restored process did not start over:\n" + out);
    }

    private String dumpRestoreCheck(DetachedProcess p) throws Exception {
        Thread.sleep(50);
        DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
        Thread.sleep(100);
        assertSecurityAsDumped(r);
        String out = RestoreTest.checkAndReap(r);
        assertPass(out);
        return out;
    }

    /**
     * Dumps the restored tree again (leaving it running) and compares what cryo reads of its security
     * state — every task's filter table and flags, every thread's capability sets, securebits,
     * no_new_privs and seccomp mode and chain, and the credentials — with the first image.
     */
    private void assertSecurityAsDumped(DetachedProcess restored) throws Exception {
        Path again = tmp.resolve("img-again");
        Cli dump = Cli.run("dump", "-t", restored.pid().toString(), "-D", again.toString(), "-R", "--no-progress");
        assertEquals(0, dump.code(), dump.toString());
        assertEquals(security(show(tmp.resolve("img"))), security(show(again)));
    }

    private static java.util.Map<String, JsonNode> security(String showJson) throws Exception {
        java.util.Map<String, JsonNode> out = new java.util.TreeMap<>();
        for (JsonNode task : new ObjectMapper().readTree(showJson).findParents("threads")) {
            String pid = task.get("pid").asText();
            out.put(pid + " security", task.get("security"));
            out.put(pid + " creds", task.get("creds"));
            for (JsonNode t : task.get("threads")) {
                out.put(pid + "/" + t.get("tid").asText() + " security", t.get("security"));
            }
        }
        assertFalse(out.isEmpty(), showJson);
        return out;
    }

    private static String show(Path img) {
        Cli show = Cli.run("show", img.toString());
        assertEquals(0, show.code(), show.toString());
        return show.out();
    }

    private String show() {
        Cli show = Cli.run("show", tmp.resolve("img").toString());
        assertEquals(0, show.code(), show.toString());
        return show.out();
    }

    /**
     * A process of a login keeps its audit login uid (loginuid), in every thread: it used to take
     * cryo's, so audit records named whoever ran the restore. Set here by the shell that execs the
     * workload (this JVM has none, so root may set it).
     */
    @Test
    void aProcessKeepsItsAuditLoginUid() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/proc/self/loginuid")), "no audit login uid here");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.readString(Path.of("/proc/self/loginuid")).trim()
                .equals("4294967295"), "this JVM has a login uid of its own");
        String threads = dev.cryo.kernel.testing.TestPrograms.compile("/c/threads.c", "-pthread").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("threads.out"), "sh", "-c",
                "echo 1000 > /proc/self/loginuid && exec " + threads))) {
            assertEquals("1000", Files.readString(Path.of("/proc/" + p.pid() + "/loginuid")).trim());
            DetachedProcess r = DumpRestore.dump(p.pid().value(), tmp.resolve("img"))
                    .alsoKnown(StateComparator.NEW_AUDIT_SESSION).restoreDetached(p.output());
            try {
                try (var tasks = Files.list(Path.of("/proc/" + r.pid() + "/task"))) {
                    for (Path t : (Iterable<Path>) tasks::iterator) {
                        assertEquals("1000", Files.readString(t.resolve("loginuid")).trim(), "thread " + t.getFileName());
                    }
                }
            } finally {
                assertTrue(RestoreTest.checkAndReap(r).contains("PASS"), p.outputText());
            }
        }
    }

    /**
     * The same in a user namespace mapping 100001-165535 outside to 1-65535 inside (zdtm's loginuid, uns
     * flavor): the restore wrote the host's value from inside the namespace, where it names no uid ("write(
     * /proc/self/loginuid, 100005): EINVAL" after the killing dump, the tree lost). loginuidns.c reads 5 in there.
     */
    @Test
    void aProcessInAUserNamespaceKeepsItsAuditLoginUid() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/proc/self/loginuid")), "no audit login uid here");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.readString(Path.of("/proc/self/loginuid")).trim()
                .equals("4294967295"), "this JVM has a login uid of its own");
        try (DetachedProcess p = Workloads.program(tmp.resolve("loginuidns.out"), "loginuidns")) {
            DetachedProcess r = DumpRestore.dump(p.pid().value(), tmp.resolve("img"))
                    .alsoKnown(StateComparator.NEW_AUDIT_SESSION).restoreDetached(p.output());
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void aNonRootProcessKeepsItsAmbientCapsSecurebitsNoNewPrivsDumpableAndSubreaper() throws Exception {
        try (DetachedProcess p = Workloads.caps(tmp, "ambient")) {
            String out = dumpRestoreCheck(p);
            assertTrue(out.contains("dumpable=0 subreaper=1"), out);
            String json = show();
            assertTrue(json.contains("\"capAmb\" : \"0x400\"") || json.contains("\"capAmb\": \"0x400\""), json);
            assertTrue(json.contains("\"childSubreaper\" : true") || json.contains("\"childSubreaper\": true"), json);
        }
    }

    @Test
    void aRootProcessKeepsItsReducedBoundingSetAndLockedSecurebits() throws Exception {
        try (DetachedProcess p = Workloads.caps(tmp, "root")) {
            dumpRestoreCheck(p);
        }
    }

    @Test
    void seccompFiltersSharedByTsyncAndOneThreadsOwnStillRefuseTheirSyscalls() throws Exception {
        try (DetachedProcess p = Workloads.seccomp(tmp, "tsync")) {
            String out = dumpRestoreCheck(p);
            assertTrue(out.contains("filters=1,1,2"), out);
            String json = show();
            // one shared first filter plus worker 1's own: two entries, not four
            assertEquals(2, json.split("\"instructions\"", -1).length - 1, json);
        }
    }

    @Test
    void aSeccompFilterInheritedByThreadsWithLogAndNoNewPrivsStaysSharedAndEffective() throws Exception {
        try (DetachedProcess p = Workloads.seccomp(tmp, "inherit")) {
            String out = dumpRestoreCheck(p);
            assertTrue(out.contains("filters=1,1,1"), out);
        }
    }

    @Test
    void aFilterInstalledAsRootSurvivesTheDropToAnUnprivilegedUser() throws Exception {
        // the task can no longer install filters itself: cryo must put them back before its credentials
        try (DetachedProcess p = Workloads.seccomp(tmp, "user")) {
            String out = dumpRestoreCheck(p);
            assertTrue(out.contains("filters=1,1,1"), out);
        }
    }

    @Test
    void aFilterLongerThanTheBootstrapDataAreaIsCarried() throws Exception {
        try (DetachedProcess p = Workloads.seccomp(tmp, "big")) {
            dumpRestoreCheck(p);
            assertTrue(show().contains("\"instructions\" : 3004"), "the 3004-instruction filter is in the image");
        }
    }

    @Test
    void aDumpThatLeavesTheTaskRunningLeavesItsFiltersBiting() throws Exception {
        try (DetachedProcess p = Workloads.seccomp(tmp, "tsync")) {
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "-R",
                    "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            // the suspension lasted only while cryo held the threads
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void aThreadWithIdsOfItsOwnComesBackWithThem() throws Exception {
        // the worker set its own groups, gids and uids with raw syscalls: the old build refused it
        try (DetachedProcess p = Workloads.caps(tmp, "split")) {
            dumpRestoreCheck(p);
            var ids = new ObjectMapper().readTree(show(tmp.resolve("img"))).findValues("uids").stream()
                    .map(JsonNode::toString).toList();
            assertTrue(ids.contains("[1000,1001,1002,1001]"), "the worker's own uids in the image: " + ids);
        }
    }

    @Test
    void aChildInStrictModeIsDumpedRestoredAndStillKilledByAForbiddenSyscall() throws Exception {
        try (DetachedProcess p = Workloads.strict(tmp)) {
            dumpRestoreCheck(p);
        }
    }

    @Test
    void aRestoreByACryoWithoutACapabilityTheTaskHadFailsClearlyAndLeavesNothing() throws Exception {
        Path img = tmp.resolve("img");
        int pid;
        try (DetachedProcess p = Workloads.caps(tmp, "ambient")) {
            pid = p.pid().value();
            Cli dump = Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)),
                    java.time.Duration.ofSeconds(10), "the dumped pid to be reaped");
        }
        // cryo (and so its restore stub) runs without CAP_NET_RAW, which the task held
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        Path jar = Path.of("../actors/target/cryo.jar").toAbsolutePath().normalize();
        Process restore = new ProcessBuilder("setpriv", "--bounding-set", "-net_raw", javaBin, "-XX:-UsePerfData",
                "-jar", jar.toString(), "restore", "-D", img.toString(), "-d").redirectErrorStream(true).start();
        String out = new String(restore.getInputStream().readAllBytes());
        assertEquals(1, restore.waitFor(), out);
        assertTrue(out.contains("pid " + pid + " tid " + pid + " had capabilities 0x2000 that cryo itself does not "
                + "hold"), out);
        DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)),
                java.time.Duration.ofSeconds(10), "the half-restored pid to be gone");
    }

    @Test
    void aFilterWithAUserSpaceListenerIsRefusedAndTheProcessKeepsRunning() throws Exception {
        try (DetachedProcess p = Workloads.seccomp(tmp, "notif")) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().contains("pid " + p.pid() + " tid " + p.pid() + ": seccomp filter 0")
                    && r.err().contains("SECCOMP_RET_USER_NOTIF"), r.err());
            assertFalse(Files.exists(img.resolve("image.cryo")), "no image may be left");
            char s = p.state();
            assertTrue(s == 'S' || s == 'R', "state " + s);
            assertTrue(Files.readString(Path.of("/proc/" + p.pid() + "/status")).contains("TracerPid:\t0"));
        }
    }
}
