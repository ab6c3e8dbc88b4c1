package dev.cryo.it;

import dev.cryo.kernel.Sys;
import dev.cryo.kernel.WaitStatus;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Batch jobs nobody here wrote, checkpointed mid-run: a tree that forks and execs short-lived
 * programs all the time while it is dumped, restored through {@link DumpRestore} (so the state
 * comparator holds it too), must finish as if nothing had happened, with the same output as a run
 * that was never interrupted.
 */
class RealBatchJobsTest {
    @TempDir
    Path tmp;

    /** Object files enough that the build is still compiling when the first one appears. */
    private static final int SOURCES = 24;

    /**
     * The build's last step waits for the file {@code go} (the first job started, holding one of the
     * two job slots with a shell loop): however fast the machine, the dump finds make running, and
     * the restored make must finish the build once the test writes {@code go}.
     */
    private static final String MAKEFILE = """
            OBJS := $(patsubst %.c,%.o,$(sort $(wildcard f*.c)))
            lib.a: gate $(OBJS)
            \tar rcsD $@ $(OBJS)
            gate:
            \t@while [ ! -e go ]; do sleep 0.1; done
            %.o: %.c
            \tgcc -O2 -c $< -o $@
            .PHONY: gate
            """;

    /**
     * GNU make -j2 dumped while it compiles: its jobserver pipe (tokens in flight), the compilers it
     * posix_spawn'd (vfork) and their own vfork'd cc1/as children with the assembler files in /tmp,
     * zombies not reaped yet. The restored make finishes with exit status 0 and all its jobserver
     * tokens back, and the archive it builds is byte for byte the one a clean rebuild of the same
     * sources makes (`ar D`: no dates).
     */
    @Test
    void aMakeBuildDumpedWhileCompilingFinishesWithTheSameArchive() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/make")), "GNU make");
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(src.resolve("Makefile"), MAKEFILE);
        for (int i = 0; i < SOURCES; i++) {
            Files.writeString(src.resolve("f" + i + ".c"), """
                    static double t[64];
                    double f%1$d(int n) {
                        double s = 0;
                        for (int k = 0; k < n; k++) { t[k %% 64] += k * 0.%1$d + 1; s += t[(k * 7) %% 64] / (k + 1); }
                        return s;
                    }
                    """.formatted(i));
        }
        DetachedProcess make = DetachedProcess.start(src.resolve("make.out"), "make", "-j2", "-C", src.toString());
        DetachedProcess.awaitCondition(() -> Files.exists(src.resolve("f0.o")), Duration.ofSeconds(60),
                "make to compile its first object");
        DetachedProcess r = DumpRestore.dumpAndRestore(make, tmp.resolve("img"));
        int root = r.pid().value();
        Files.writeString(src.resolve("go"), "");
        DetachedProcess.awaitCondition(() -> r.state() == 'Z', Duration.ofSeconds(120),
                "the restored make to finish the build");
        WaitStatus st = Sys.wait4(root, 0);
        String out = Files.readString(src.resolve("make.out"));
        assertTrue(st.exited() && st.exitCode() == 0, "the restored make " + st + ":\n" + out);
        // make counts its jobserver tokens back from the pipe at exit: one lost or made twice by the restore says so
        assertFalse(out.contains("jobserver tokens"), out);

        Map<String, byte[]> built = new HashMap<>();
        for (String f : outputs(src)) {
            built.put(f, Files.readAllBytes(src.resolve(f)));
        }
        assertEquals(SOURCES + 1, built.size(), "objects and archive: " + built.keySet());
        Process again = new ProcessBuilder("make", "-B", "-j2", "-C", src.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("rebuild.out").toFile()).start();
        assertEquals(0, again.waitFor(), Files.readString(tmp.resolve("rebuild.out")));
        for (Map.Entry<String, byte[]> e : built.entrySet()) {
            assertArrayEquals(Files.readAllBytes(src.resolve(e.getKey())), e.getValue(),
                    e.getKey() + " differs from a clean rebuild's");
        }
    }

    private static List<String> outputs(Path dir) throws java.io.IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".o") || n.equals("lib.a")).sorted()
                    .toList();
        }
    }
}
