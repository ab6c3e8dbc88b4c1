package dev.cryo.it;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The cryo CLI in a JVM of its own, as a user runs it: the kill, interrupt and concurrency tests
 * need a cryo process they can signal without killing the test JVM. Its output goes to a file.
 */
final class CryoProcess {
    private CryoProcess() {}

    static Process start(Path log, String... args) throws IOException {
        return new ProcessBuilder(command(args)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** The command line that runs the CLI with {@code args} (for a shell to run, e.g. on a terminal). */
    static List<String> command(String... args) {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // a build started in the background (nohup, `&`) ignores SIGINT, and an exec keeps that:
        // cryo gets the default dispositions, as from a terminal
        List<String> cmd = new ArrayList<>(List.of("env", "--default-signal=INT,TERM",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1", "-cp", cp, "dev.cryo.cli.CryoCli"));
        cmd.addAll(List.of(args));
        return cmd;
    }
}
