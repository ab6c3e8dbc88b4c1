package dev.cryo.api;

import com.typesafe.config.Config;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cluster agent's configuration: every module's defaults, cryo's Pekko settings over Pekko's. */
class ClusterReferenceTest {
    @Test
    void cryosPekkoSettingsWinOverTheClusterModules() {
        Config c = ClusterReference.load(Optional.empty(), Map.of());
        assertEquals("WARNING", c.getString("pekko.loglevel"));
        assertFalse(c.getBoolean("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook"));
        assertTrue(c.hasPath("pekko.remote.artery"), "pekko-remote's defaults");
        assertTrue(c.hasPath("pekko.cluster.seed-nodes"), "pekko-cluster's defaults");
        assertTrue(c.hasPath("cryo.parallelism.regions"), "cryo's settings");
    }

    /** As in the fat jar: one reference.conf, cryo-actors' block first, Pekko's after it (the later key wins there). */
    @Test
    void cryosPekkoSettingsWinInAConcatenatedReference(@TempDir Path dir) throws Exception {
        ClassLoader here = getClass().getClassLoader();
        String cryoActors = text(here, ClusterReference.CRYO_ACTORS);
        String pekko = text(here, "dev/cryo/actors/local/pekko-actor/reference.conf");
        String cryoConfig = text(here, "dev/cryo/config/cryo/reference.conf");
        Files.writeString(dir.resolve("reference.conf"), cryoConfig + "\n" + cryoActors + "\n" + pekko);
        Path copy = dir.resolve(ClusterReference.CRYO_ACTORS);
        Files.createDirectories(copy.getParent());
        Files.writeString(copy, cryoActors);
        try (URLClassLoader fatJar = new URLClassLoader(new URL[] {dir.toUri().toURL()}, null)) {
            Config plain = dev.cryo.config.CryoConfig.loadConfig(Optional.empty(), Map.of(), fatJar);
            assertEquals("INFO", plain.getString("pekko.loglevel"), "the concatenation's own order (the bug)");
            Config c = ClusterReference.load(fatJar, Map.of());
            assertEquals("WARNING", c.getString("pekko.loglevel"));
            assertEquals("OFF", c.getString("pekko.stdout-loglevel"));
            assertFalse(c.getBoolean("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook"));
            assertEquals("off", c.getString("pekko.log-dead-letters"));
        }
    }

    private static String text(ClassLoader loader, String name) throws Exception {
        try (InputStream in = loader.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
