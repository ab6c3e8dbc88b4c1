package dev.cryo.it;

import dev.cryo.actors.restore.RestoreSupervisor;
import dev.cryo.api.RestoreRequest;
import dev.cryo.config.CryoConfig;
import dev.cryo.config.CryoSettings;
import dev.cryo.kernel.testing.DetachedProcess;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/** The restore supervisor's failure paths: whatever was created is killed, nothing runs on. */
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class RestoreSupervisorTest {
    @JUnit5TestKit
    public ActorTestKit testKit = ActorTestKit.create(CryoConfig.loadConfig(Optional.empty(), Map.of()));

    @TempDir
    Path tmp;

    /** Gone, or a zombie waiting for init to reap it: in both cases not running. */
    private static boolean notRunning(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
        } catch (Exception e) {
            return true;
        }
    }

    @Test
    void aRestoreThatTimesOutHalfwayKillsEveryTaskItCreated() throws Exception {
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.tree(tmp)) {
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(0, r.code(), r.toString());
        }
        var doc = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Cli.run("show", img.toString()).out());
        List<Integer> tree = new java.util.ArrayList<>();
        doc.get("dump").get("pids").forEach(n -> tree.add(n.asInt()));
        assertEquals(3, tree.size());
        for (int pid : tree) {
            DetachedProcess.awaitCondition(() -> notRunning(pid) && !Files.exists(Path.of("/proc/" + pid)),
                    Duration.ofSeconds(10), "dumped pid " + pid + " to be gone");
        }
        CryoSettings settings = CryoConfig.load(Optional.empty(), Map.of("cryo.restore.timeout", "15ms"));
        TestProbe<RestoreSupervisor.Outcome> probe = testKit.createTestProbe();
        testKit.spawn(RestoreSupervisor.create(new RestoreRequest(img), settings, probe.getRef()));
        RestoreSupervisor.Failed f = probe.expectMessageClass(RestoreSupervisor.Failed.class, Duration.ofSeconds(30));
        assertTrue(f.message().contains("timed out"), f.message());
        System.out.println("restore aborted: " + f.message());
        for (int pid : tree) {
            DetachedProcess.awaitCondition(() -> notRunning(pid), Duration.ofSeconds(10),
                    "pid " + pid + " of the half-restored tree to be killed");
        }
        assertTrue(Files.exists(img.resolve("image.cryo")), "the image is untouched");
    }
}
