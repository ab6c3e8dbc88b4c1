package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Clone;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which mounts {@code dump --external mnt[POINT]:NAME} names. */
class ExternalMountsTest {
    private static MountImage bind(String point) {
        return new MountImage(point, "tmpfs", "zdtm", "/dev", "rw", "rw", List.of(), true, "/tmp/d", List.of(), true);
    }

    private static MountImage tmpfs(String point) {
        return new MountImage(point, "tmpfs", "tmpfs", "/", "rw", "rw", List.of(), true, null, List.of());
    }

    private static NamespaceImage ns(int pid, int flags, MountImage... mounts) {
        return new NamespaceImage(pid, flags, "", "", Map.of(), false, List.of(), List.of(mounts));
    }

    private static List<String> names(NamespaceImage n) {
        return n.mounts().stream().map(MountImage::external).toList();
    }

    /** zdtm's mnt_ext_collision: a namespace below has its own mount at the point; a program's tmpfs over /dev too. */
    @Test
    void onlyTheFirstMountAtThePointOfTheRootsNamespaceIsNamed() {
        List<NamespaceImage> out = ExternalMounts.name(List.of(ns(10, Clone.NEWNS, bind("/dev"), tmpfs("/dev")),
                ns(11, Clone.NEWNS, bind("/dev"))), 10, Map.of("/dev", "ZDTM_DEV"));
        assertEquals(List.of("ZDTM_DEV", ""), names(out.get(0)));
        assertEquals(List.of(""), names(out.get(1)));
    }

    @Test
    void aRootInCryosMountNamespaceHasTheNamespacesBelowNamed() {
        List<NamespaceImage> out = ExternalMounts.name(List.of(ns(10, Clone.NEWPID), ns(11, Clone.NEWNS, bind("/v"))),
                10, Map.of("/v", "V"));
        assertEquals(List.of("V"), names(out.get(1)));
        // no mount namespace of the tree's at all: nothing to name, as CRIU ignores it
        assertEquals(List.of(ns(10, 0)), ExternalMounts.name(List.of(ns(10, 0)), 10, Map.of("/v", "V")));
    }

    @Test
    void aPointWithNoMountIsRefused() {
        DumpException e = assertThrows(DumpException.class, () -> ExternalMounts.name(
                List.of(ns(10, Clone.NEWNS, bind("/dev"))), 10, Map.of("/nope", "N")));
        assertTrue(e.getMessage().startsWith("--external mnt[/nope]:N: no mount namespace of the tree has a mount at"
                + " /nope"), e.getMessage());
    }
}
