package dev.cryo.kernel.proc;

import dev.cryo.kernel.Pid;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GoRuntimeTest {
    @TempDir
    Path tmp;

    @Test
    void aGoExecutableIsKnownByItsBuildInfoSection() {
        Path go = Path.of("/usr/bin/prometheus-node-exporter"); // Debian's, stripped
        assumeTrue(Files.isExecutable(go), "Debian package prometheus-node-exporter (see .ci/run)");
        assertTrue(GoRuntime.isGoExecutable(go));
    }

    @Test
    void cAndJavaAreNotGo() {
        assertFalse(GoRuntime.isGoExecutable(Path.of("/bin/sleep")));
        assertFalse(GoRuntime.runs(Pid.of((int) ProcessHandle.current().pid())));
    }

    @Test
    void whatIsNotAnElfFileOrIsCutShortIsNotGo() throws Exception {
        Path text = Files.writeString(tmp.resolve("text"), "#!/bin/sh\necho .go.buildinfo\n");
        assertFalse(GoRuntime.isGoExecutable(text));
        Path go = Path.of("/usr/bin/prometheus-node-exporter");
        assumeTrue(Files.isExecutable(go));
        byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(go), 4096); // its section table is at the end
        assertFalse(GoRuntime.isGoExecutable(Files.write(tmp.resolve("cut"), head)));
        assertFalse(GoRuntime.isGoExecutable(tmp.resolve("none")));
    }
}
