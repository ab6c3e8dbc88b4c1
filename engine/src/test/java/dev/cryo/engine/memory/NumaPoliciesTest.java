package dev.cryo.engine.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.cryo.engine.model.MemPolicy;
import org.junit.jupiter.api.Test;

class NumaPoliciesTest {
    @Test
    void aPolicyReadsAsNumaMapsWordsIt() {
        assertEquals("default", MemPolicy.DEFAULT.text());
        assertEquals("local", new MemPolicy(MemPolicy.MPOL_LOCAL, 0).text());
        assertEquals("bind:0", new MemPolicy(MemPolicy.MPOL_BIND, 1).text());
        assertEquals("interleave=static:0-1,4", new MemPolicy(MemPolicy.MPOL_INTERLEAVE | MemPolicy.MPOL_F_STATIC_NODES,
                0b10011).text());
        assertEquals("bind=relative|balancing:2", new MemPolicy(MemPolicy.MPOL_BIND | MemPolicy.MPOL_F_RELATIVE_NODES
                | MemPolicy.MPOL_F_NUMA_BALANCING, 4).text());
        assertEquals("prefer=balancing:63", new MemPolicy(MemPolicy.MPOL_PREFERRED | MemPolicy.MPOL_F_NUMA_BALANCING,
                1L << 63).text());
        assertThrows(IllegalArgumentException.class, () -> new MemPolicy(7, 0));
    }

    @Test
    void sysfsNodeListsParse() {
        assertEquals(1L, NumaPolicies.parseNodes("0\n"));
        assertEquals(0b10111L, NumaPolicies.parseNodes("0-2,4\n"));
        assertEquals(1L << 63, NumaPolicies.parseNodes("63-70"));
    }
}
