package dev.cryo.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Time namespaces come back with their CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets: one a task made
 * for its children without entering it, and one a child made and entered, with a grandchild born in
 * it; the comparator checks which tasks share each and the offsets each task's children get.
 */
class TimeNamespaceTest {
    @TempDir
    Path tmp;

    @Test
    void timeNamespacesComeBackWithTheirOffsetsAndTheirMembers() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "timens");
        assertTrue(out.contains("PASS"), out);
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("\"forChildren\"") && show.contains("\"monotonic\" : \"86400.000000000\""), show);
    }

    /**
     * zdtm timens_nested: tasks in time namespaces of their own keep an fd of the host's (refused
     * before as a namespace file of another namespace); it comes back as the host's.
     */
    @Test
    void anFdOfTheHostsTimeNamespaceIsCarried() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "timens", "hostfd");
        assertTrue(out.contains("PASS"), out);
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("\"of\" : \"host\""), show);
    }

    /**
     * zdtm's clean_mntns in its ns flavor: a task in a time namespace of its own whose mount namespace has
     * no /proc. The restore opened its time_for_children through /proc of the task's view and failed
     * after the killing dump (ENOENT: the tree was lost); cryo opens it from its own view now.
     */
    @Test
    void aTaskInATimeNamespaceOfItsOwnWithoutProcInItsViewComesBack() throws Exception {
        String out = DumpRestore.workloadVerdict(tmp, "timens", "noproc");
        assertTrue(out.contains("PASS"), out);
    }
}
