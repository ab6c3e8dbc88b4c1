package dev.cryo.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Per-thread switches that make an instruction or a hardware error fault (cpuid, rdtsc, the
 * machine-check kill policy) are invisible in /proc and kept by a fork: each thread gets its own
 * back, and a thread that had none gets none.
 */
class FaultSwitchesTest {
    @TempDir
    Path tmp;

    @Test
    void cpuidAndRdtscFaultingAndTheMachineCheckPolicyOfEachThreadComeBack() throws Exception {
        assumeTrue(Files.readString(Path.of("/proc/cpuinfo")).contains(" cpuid_fault"),
                "this CPU has no cpuid faulting");
        String out = DumpRestore.workloadVerdict(tmp, "traps");
        assertTrue(out.contains("PASS"), out);
    }
}
