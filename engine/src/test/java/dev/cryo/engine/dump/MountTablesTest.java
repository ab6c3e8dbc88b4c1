package dev.cryo.engine.dump;

import dev.cryo.kernel.Sys;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** In whose mount namespace a mount is, read from this JVM's own tables (no namespace of a tree here). */
class MountTablesTest {
    private static final int SELF = (int) ProcessHandle.current().pid();

    @Test
    void cryosOwnMountIsCryos() {
        MountTables t = new MountTables(List.of(SELF));
        long root = Sys.mountId("/");
        assertTrue(t.cryos().contains((int) root), t.cryos().toString());
        assertEquals(t.cryos(), t.of(SELF), "a task in cryo's namespace reads cryo's table");
        assertEquals(0, t.whose(SELF, root));
    }

    @Test
    void aKernelInternalMountCountsAsCryosAndAnUnknownOneAsNobodys() {
        MountTables t = new MountTables(List.of(SELF));
        assertEquals(0, t.whose(SELF, 0), "mount 0: shared anonymous memory's /dev/zero");
        assertEquals(-1, t.whose(SELF, Integer.MAX_VALUE));
    }
}
