package dev.cryo.api;

import com.typesafe.config.Config;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The local actor system's configuration: cryo's settings over Pekko's actor defaults, and nothing of the cluster's. */
class LocalReferenceTest {
    @Test
    void cryosPekkoSettingsWinAndNoClusterModuleIsRead() {
        Config c = LocalReference.load(Optional.empty(), Map.of());
        assertEquals("local", c.getString("pekko.actor.provider"));
        assertEquals("WARNING", c.getString("pekko.loglevel"));
        assertEquals("OFF", c.getString("pekko.stdout-loglevel"));
        assertFalse(c.getBoolean("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook"));
        assertFalse(c.hasPath("pekko.remote"), "pekko-remote's defaults");
        assertFalse(c.hasPath("pekko.cluster.seed-nodes"), "pekko-cluster's defaults");
        assertFalse(c.hasPath("pekko.stream"), "pekko-stream's defaults");
        assertTrue(c.hasPath("cryo.parallelism.regions"), "cryo's settings");
        assertTrue(c.hasPath("cryo-dispatchers.task"), "cryo's dispatchers");
        assertEquals(1000, c.getInt("pekko.actor.typed.restart-stash-capacity"), "pekko-actor-typed's defaults");
    }

    @Test
    void anOverrideStillWins() {
        Config c = LocalReference.load(Optional.empty(), Map.of("cryo.parallelism.regions", "3"));
        assertEquals(3, c.getInt("cryo.parallelism.regions"));
    }

    @Test
    void cryoStartsOnIt() {
        try (Cryo cryo = Cryo.create(LocalReference.load(Optional.empty(), Map.of("cryo.parallelism.regions", "3")))) {
            assertEquals(3, cryo.settings().parallelism().regions());
        }
    }
}
