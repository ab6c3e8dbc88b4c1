package dev.cryo.cli;

import dev.cryo.api.Cryo;

import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * The run the launchers archive the classes of (class-data sharing, {@code -XX:ArchiveClassesAtExit}):
 * it loads what a dump or a restore loads before its first page moves — the command model and
 * its help, the settings, the actor system, the native bindings and the engine's hot classes —
 * and touches no process. Every later cryo command maps those classes instead of loading them.
 */
public final class ClassDataTraining {
    private ClassDataTraining() {}

    public static void main(String[] args) {
        PrintWriter sink = new PrintWriter(new StringWriter());
        for (String command : new String[] {"dump", "restore", "show", "check", "migrate"}) {
            CryoCli.run(new String[] {command, "--help"}, sink, sink);
        }
        // a plain dump's own way (no command model), up to its settings
        PlainCommandLine.parse(new String[] {"dump", "-t", "1", "-D", "/nonexistent"});
        try (Cryo cryo = Cryo.create()) {
            cryo.settings();
        }
        System.exit(0);
    }
}
