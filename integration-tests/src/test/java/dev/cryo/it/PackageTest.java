package dev.cryo.it;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Debian package that `mvn package` builds, unpacked into a temporary root (dpkg-deb -x) and
 * used from there as an operator would after `apt install ./cryo_*.deb`: the launcher runs
 * `cryo check` and `cryo demo`, the settings are a conffile, the agent's unit verifies, and the
 * completion and man pages cover every command of the CLI.
 */
class PackageTest {
    private static final Path TARGET = Path.of("../actors/target").toAbsolutePath().normalize();

    @TempDir
    static Path root;

    static Path deb;

    @BeforeAll
    static void unpack() throws Exception {
        try (Stream<Path> s = Files.list(TARGET)) {
            // the newest: each snapshot build adds one with its own timestamp
            deb = s.filter(p -> p.getFileName().toString().matches("cryo_.*_amd64\\.deb"))
                    .max(java.util.Comparator.comparingLong(p -> p.toFile().lastModified()))
                    .orElseThrow(() -> new AssertionError("no cryo_*.deb in " + TARGET + ": `mvn package` builds it"));
        }
        assertEquals(0, run(List.of("dpkg-deb", "-x", deb.toString(), root.toString())).code());
    }

    @Test
    void theUnpackedLauncherRunsCheckAndTheDemo() throws Exception {
        Path cryo = root.resolve("usr/bin/cryo");
        assertTrue(Files.isExecutable(cryo), cryo + " is not executable");
        Result version = run(List.of(cryo.toString(), "--version"));
        assertEquals(0, version.code(), version.out());
        assertTrue(version.out().contains("image format: writes version 1"), version.out());
        Result check = run(List.of(cryo.toString(), "check"));
        assertEquals(0, check.code(), check.out());
        assertTrue(check.out().contains("ptrace-seize") && check.out().contains("supported"), check.out());
        Result demo = run(List.of(cryo.toString(), "demo"));
        assertEquals(0, demo.code(), demo.out());
        assertTrue(demo.out().contains("no gap, no repeat"), demo.out());
    }

    @Test
    void theLauncherReadsTheSettingsInEtcCryo() throws Exception {
        // an unknown key is refused: proof that the packaged cryo.conf is what the launcher reads
        Path conf = root.resolve("etc/cryo/cryo.conf");
        String original = Files.readString(conf);
        try {
            Files.writeString(conf, "cryo.no-such-key = 1\n");
            Result r = run(List.of(root.resolve("usr/bin/cryo").toString(), "show", root.toString()));
            assertEquals(2, r.code(), r.out());
            assertTrue(r.out().contains("no-such-key"), r.out());
        } finally {
            Files.writeString(conf, original);
        }
    }

    @Test
    void settingsAreAConffileAndTheAgentUnitVerifies() throws Exception {
        Result conffiles = run(List.of("dpkg-deb", "-f", deb.toString(), "Depends"));
        assertTrue(conffiles.out().contains("java17-runtime-headless"), conffiles.out());
        Path control = Files.createTempDirectory(root, "control");
        assertEquals(0, run(List.of("dpkg-deb", "-e", deb.toString(), control.toString())).code());
        assertEquals("/etc/cryo/cryo.conf", Files.readString(control.resolve("conffiles")).trim());
        Path unit = root.resolve("lib/systemd/system/cryo-agent.service");
        String text = Files.readString(unit);
        assertTrue(text.contains("ExecStart=/usr/bin/cryo agent") && text.contains("Restart=on-failure"), text);
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/systemd-analyze")), "systemd-analyze is not installed");
        // the unit's default dependencies (sysinit.target, ...) come from the host's systemd, copied
        // beside it; ExecStart is checked inside the unpacked root, so /usr/bin/cryo must be there
        try (Stream<Path> targets = Files.list(Path.of("/usr/lib/systemd/system"))) {
            for (Path t : targets.filter(p -> p.toString().endsWith(".target")).toList()) {
                Files.copy(t, unit.resolveSibling(t.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Result verify = run(List.of("systemd-analyze", "verify", "--man=no", "--root=" + root,
                "/lib/systemd/system/cryo-agent.service"));
        assertEquals(0, verify.code(), verify.out());
    }

    @Test
    void completionAndManPagesCoverEveryCommand() throws Exception {
        String completion = Files.readString(root.resolve("usr/share/bash-completion/completions/cryo"));
        Path man = root.resolve("usr/share/man/man1");
        List<String> commands = new ArrayList<>();
        boolean inCommands = false;
        for (String line : run(List.of(root.resolve("usr/bin/cryo").toString(), "--help")).out().split("\n")) {
            if (line.startsWith("Commands:")) {
                inCommands = true;
            } else if (inCommands && line.matches("  [a-z].*")) {
                commands.add(line.strip().split("\\s+")[0]);
            }
        }
        assertTrue(commands.containsAll(List.of("check", "dump", "restore", "show", "demo")), commands.toString());
        assertTrue(Files.exists(man.resolve("cryo.1")), "cryo.1");
        for (String c : commands) {
            assertTrue(Files.exists(man.resolve("cryo-" + c + ".1")), "no man page for cryo " + c);
            assertTrue(completion.contains(c), "completion does not offer " + c);
        }
        assertTrue(completion.contains("--images-dir") && completion.contains("--leave-running"), "dump's options");
    }

    record Result(int code, String out) {}

    static Result run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        return new Result(p.exitValue(), out);
    }
}
