package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * What DMTCP's own test programs (its test/ directory) found here, written again in our words and
 * restored through {@link DumpRestore}, so the state comparator holds them too.
 */
class DmtcpProgramsTest {
    @TempDir
    Path tmp;

    /**
     * DMTCP's procfd1: /proc/self/maps read 100 bytes into and shared with a forked child. The
     * restore set its position while cryo's bootstrap area was still mapped, so the program read on
     * from text of that layout (the tail of another line): "the fd does not read the parent's maps".
     */
    @Test
    void aMapsFileReadHalfwayReadsOnFromTheRestoredLayout() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "procmaps");
        assertTrue(out.contains("PASS"), out);
    }

    /** The same, dumped with --leave-running, the tree killed, its image restored twice. */
    @Test
    void aMapsFileReadHalfwayAfterTwoRestoresOfALeftRunningDump() throws Exception {
        Path output = tmp.resolve("procmaps.out");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(output,
                TestPrograms.compile("/c/procmaps.c").toString()))) {
            DumpRestore d = DumpRestore.dumpLeavingRunning(p.pid().value(), tmp.resolve("img"));
            long atDump = Files.size(output);
            FileTime mtime = Files.getLastModifiedTime(output);
            List<Integer> tree = StateComparator.tree(p.pid().value());
            tree.forEach(Workloads::killQuietly);
            DetachedProcess.awaitCondition(() -> tree.stream().noneMatch(q -> Files.exists(Path.of("/proc/" + q))),
                    Duration.ofSeconds(20), "the dumped tree to be gone");
            for (int round = 1; round <= 2; round++) {
                String verdict = RestoreTest.checkAndReap(d.restoreDetached(output));
                assertTrue(verdict.contains("PASS"), "restore " + round + ": " + verdict);
                try (FileChannel c = FileChannel.open(output, StandardOpenOption.WRITE)) {
                    c.truncate(atDump); // the output as the dump found it: a restore checks its size and time
                }
                Files.setLastModifiedTime(output, mtime);
            }
        }
    }

    /**
     * DMTCP's heap-growth: a program that re-exec'd itself without address randomization and grows
     * its brk heap across the dump. Its restored task had PF_RANDOMIZE (the comparator: "stat flags:
     * dumped '0', restored '4194304'") and a randomized mmap base; now its stub is exec'd so too. And
     * its .bss area (pages of its own) and the heap right above it came back as one area ("maps
     * 555555559000-...: dumped 'rw-p ...', restored (absent)"); now they stay apart.
     */
    @Test
    void aProgramWithoutAddressRandomizationComesBackWithoutIt() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "heapgrow");
        assertTrue(out.contains("PASS"), out);
    }
}
