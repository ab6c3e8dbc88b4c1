package dev.cryo.it;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** `cryo show DIR ps|fds|mems|stats` (like crit x) on a real image of a 3-level tree with a pipe. */
class ShowSummaryTest {
    @TempDir
    static Path tmp;

    static Path img;
    static int root;

    @BeforeAll
    static void dumpATree() throws Exception {
        try (DetachedProcess p = Workloads.tree(tmp)) {
            root = p.pid().value();
            img = tmp.resolve("img");
            Cli dump = Cli.run("dump", "-t", Integer.toString(root), "-D", img.toString(), "-R", "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> json(String view) throws Exception {
        Cli r = Cli.run("show", img.toString(), view);
        assertEquals(0, r.code(), r.toString());
        return new ObjectMapper().readValue(r.out(), List.class);
    }

    @Test
    void psListsTheTreeWithParentsGroupsSessionsAndThreads() throws Exception {
        List<Map<String, Object>> ps = json("ps");
        assertEquals(3, ps.size(), ps.toString());
        assertEquals(root, ps.get(0).get("pid"));
        for (Map<String, Object> row : ps.subList(1, 3)) {
            assertTrue(ps.stream().anyMatch(p -> p.get("pid").equals(row.get("ppid"))), "parent in the tree: " + row);
            assertEquals(ps.get(0).get("sid"), row.get("sid"));
            assertEquals(1, row.get("threads"));
        }
        Cli table = Cli.run("show", img.toString(), "ps", "--format", "table");
        assertTrue(table.out().startsWith("PID"), table.out());
        assertTrue(table.out().contains(Integer.toString(root)), table.out());
    }

    @Test
    void fdsNameEachKindAndTarget() throws Exception {
        List<Map<String, Object>> fds = json("fds");
        assertTrue(fds.stream().anyMatch(f -> "pipe".equals(f.get("kind"))), fds.toString());
        assertTrue(fds.stream().allMatch(f -> f.get("pid") != null && f.get("fd") != null && f.get("kind") != null
                && f.get("target") != null), fds.toString());
    }

    @Test
    void memsShowEveryMappingAndWhatIsCarried() throws Exception {
        List<Map<String, Object>> mems = json("mems");
        assertTrue(mems.stream().anyMatch(m -> "[vdso]".equals(m.get("file")) || "VDSO".equals(m.get("kind"))
                || String.valueOf(m.get("kind")).toLowerCase().contains("vdso")), mems.toString());
        assertTrue(mems.stream().anyMatch(m -> String.valueOf(m.get("carried")).endsWith("pages")
                || String.valueOf(m.get("carried")).contains("pages (")), "some mapping carries pages: " + mems);
        Cli table = Cli.run("show", img.toString(), "mems", "--format", "table");
        assertTrue(table.out().lines().findFirst().orElse("").contains("CARRIED"), table.out());
    }

    @Test
    void statsComeFromTheImageAndTheDump() throws Exception {
        List<Map<String, Object>> stats = json("stats");
        Map<String, Object> byName = new java.util.HashMap<>();
        stats.forEach(r -> byName.put((String) r.get("name"), r.get("value")));
        assertEquals(3, byName.get("tasks"));
        assertEquals(root, byName.get("root pid"));
        assertNotNull(byName.get("dump frozenMillis"), "stats.json's figures: " + stats);
    }

    @Test
    void anUnknownViewIsRefusedClearly() {
        Cli r = Cli.run("show", img.toString(), "nope");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown view 'nope'"), r.toString());
    }
}
