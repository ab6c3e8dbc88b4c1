package dev.cryo.kernel.features;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class KernelFeaturesTest {
    @Test
    void probesEveryFeatureOnThisKernel() {
        KernelFeatures f = KernelFeatures.probe();
        assertEquals(KernelProbe.Names.ORDER, f.features().stream().map(Feature::name).toList());
        f.features().forEach(x -> System.out.println(x));
        // This machine is the reference: root, Linux 6.18 (see shared/guide/kernel.md).
        assertTrue(f.usable(), "required features missing: " + f.blocking());
        assertTrue(f.get("xstate").orElseThrow().detail().matches("NT_X86_XSTATE is \\d+ bytes"));
        assertTrue(f.get("clone3-set-tid").orElseThrow().detail().startsWith("forked a test process as pid"));
        assertTrue(f.get("vdso-layout").orElseThrow().detail().contains("[vdso] 2 pages"));
    }

    @Test
    void aMissingRequiredFeatureBlocks() {
        Feature missing = Feature.missing("x", true, "absent");
        Feature optional = Feature.missing("y", false, "absent");
        KernelFeatures f = new KernelFeatures(java.util.List.of(missing, optional));
        assertFalse(f.usable());
        assertEquals(java.util.List.of(missing), f.blocking());
    }
}
