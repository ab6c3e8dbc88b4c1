package dev.cryo.api;

import com.typesafe.config.Config;
import dev.cryo.config.CryoConfig;

import java.io.IOException;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The defaults of an actor system that joins a cluster (the agent, a client of one): every
 * module's, with cryo's own Pekko settings over Pekko's. The fat jar concatenates cryo-actors'
 * {@code reference.conf} <em>before</em> Pekko's into one file, where the later key wins: the agent
 * ran with Pekko's {@code loglevel = INFO}, its JVM shutdown hook and dead-letter logging. Here
 * cryo-actors' own copy (placed by the build under {@code dev/cryo/actors/local/}) comes first.
 */
public final class ClusterReference {
    private ClusterReference() {}

    private static final ClassLoader LOADER = new Loader(ClusterReference.class.getClassLoader());

    /** Like {@link CryoConfig#loadConfig(Optional, Map)}, with cryo's Pekko settings winning. */
    public static Config load(Optional<Path> file, Map<String, String> overrides) {
        return CryoConfig.loadConfig(file, overrides, LOADER);
    }

    static Config load(ClassLoader parent, Map<String, String> overrides) {
        return CryoConfig.loadConfig(Optional.empty(), overrides, new Loader(parent));
    }

    private static final class Loader extends ClassLoader {
        static {
            registerAsParallelCapable();
        }

        private final URL first;

        Loader(ClassLoader parent) {
            super(parent);
            first = parent.getResource(CRYO_ACTORS);
            if (first == null) {
                throw new IllegalStateException("missing " + CRYO_ACTORS + " (cryo-actors was not built with its local reference)");
            }
        }

        @Override
        public URL getResource(String name) {
            return name.equals("reference.conf") ? first : super.getResource(name);
        }

        @Override
        public Enumeration<URL> getResources(String name) throws IOException {
            if (!name.equals("reference.conf")) {
                return super.getResources(name);
            }
            List<URL> all = new ArrayList<>(List.of(first));
            all.addAll(Collections.list(super.getResources(name)));
            return Collections.enumeration(all);
        }
    }

    static final String CRYO_ACTORS = "dev/cryo/actors/local/cryo-actors/reference.conf";
}
