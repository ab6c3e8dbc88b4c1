package dev.cryo.engine.cgroups;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** cgroup.subtree_control reads "cpu pids" and takes "+cpu -io": what a restore writes to get the dumped set. */
class CgroupPlacementTest {
    @Test
    void subtreeControlIsWrittenAsTheChangeFromWhatItReads() {
        assertEquals("+cpu +pids", CgroupPlacement.controlChange("", "cpu pids"));
        assertEquals("+pids -io", CgroupPlacement.controlChange("cpu io", "cpu pids"));
        assertEquals("-memory", CgroupPlacement.controlChange("memory", ""));
        assertEquals("", CgroupPlacement.controlChange("cpu", "cpu"));
    }

    @Test
    void theTreesTopCgroupIsTheLowestHoldingBothPaths() {
        assertEquals("/svc", CgroupReader.common("/svc/a", "/svc/b/c"));
        assertEquals("/svc/a", CgroupReader.common("/svc/a", "/svc/a/x"));
        assertEquals("/", CgroupReader.common("/svc", "/svcx"));
        assertEquals("/", CgroupReader.common("/a", "/"));
    }
}
