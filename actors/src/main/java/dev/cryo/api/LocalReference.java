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
 * The defaults of an actor system that never leaves this host — {@link Cryo}'s: cryo's own and
 * Pekko's actor modules', without the remote, cluster and stream modules' that share the class path
 * (the cluster agent's). A fat jar concatenates them all into one {@code reference.conf} of 4,500
 * lines; parsing it, and the serializers of the cluster modules Pekko then creates at start-up,
 * were a good share of a cold command. The build places the local ones under
 * {@code dev/cryo/actors/local/} and {@link #loader} serves them as the {@code reference.conf}
 * resources, for the configuration and for the actor system (which falls back to the reference
 * of its class loader); classes and every other resource come from the parent as usual.
 */
public final class LocalReference {
    private LocalReference() {}

    /** Strongest first: the first {@code reference.conf} resource wins where they overlap. */
    static final String[] PARTS = {"cryo-actors", "pekko-actor", "pekko-actor-typed"};

    private static final ClassLoader LOADER = new Loader(LocalReference.class.getClassLoader());

    /** A class loader whose {@code reference.conf} is the local actor system's. */
    public static ClassLoader loader() {
        return LOADER;
    }

    /** Like {@link CryoConfig#loadConfig(Optional, Map)}, over the local defaults. */
    public static Config load(Optional<Path> file, Map<String, String> overrides) {
        return CryoConfig.loadConfig(file, overrides, LOADER);
    }

    private static final class Loader extends ClassLoader {
        static {
            registerAsParallelCapable();
        }

        private final List<URL> references = new ArrayList<>();

        Loader(ClassLoader parent) {
            super(parent);
            // cryo's settings over Pekko's defaults (cryo-actors sets some of pekko's keys)
            add(parent, "dev/cryo/config/cryo/reference.conf");
            for (String part : PARTS) {
                add(parent, "dev/cryo/actors/local/" + part + "/reference.conf");
            }
        }

        private void add(ClassLoader parent, String name) {
            URL url = parent.getResource(name);
            if (url == null) {
                throw new IllegalStateException("missing " + name + " (cryo-actors was not built with its local reference)");
            }
            references.add(url);
        }

        @Override
        public URL getResource(String name) {
            return name.equals("reference.conf") ? references.get(0) : super.getResource(name);
        }

        @Override
        public Enumeration<URL> getResources(String name) throws IOException {
            return name.equals("reference.conf") ? Collections.enumeration(references) : super.getResources(name);
        }
    }
}
