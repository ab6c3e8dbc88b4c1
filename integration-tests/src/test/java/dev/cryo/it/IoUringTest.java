package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** io_uring: an idle ring comes back with its counters, its unreaped completions and a prepared SQE. */
class IoUringTest {
    @TempDir
    Path tmp;

    private DetachedProcess start(String... mode) throws Exception {
        String[] cmd = new String[2 + mode.length];
        cmd[0] = TestPrograms.compile("/c/uring.c", "-luring").toString();
        cmd[1] = tmp.resolve("uring.dat").toString();
        System.arraycopy(mode, 0, cmd, 2, mode.length);
        return Workloads.ready(DetachedProcess.start(tmp.resolve("uring.out"), cmd));
    }

    /**
     * 2003 requests went through the ring (250 turns of its 8 SQEs), three NOPs wait unreaped and a read
     * is prepared but not submitted: after the restore the program reaps the NOPs in order, submits
     * the read (liburing's own SQ tail must match the kernel's head) and goes on using the ring.
     */
    @Test
    void anIdleRingComesBackWithItsCountersUnreapedCompletionsAndAPreparedRead() throws Exception {
        try (DetachedProcess p = start()) {
            assertTrue(p.outputText().contains("ready sqhead=2003 sqtail=2003 cqhead=2000 cqtail=2003"), p.outputText());
            Path img = tmp.resolve("img");
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, img));
            assertTrue(out.contains("PASS 2000 round trips"), out);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"io_uring\"") && show.contains("\"sqHead\" : \"2003\""), show);
        }
    }

    /** A second ring kept busy with NOPs by the main thread: the dump meets rings in use, waits for what is in flight and carries both. */
    @Test
    void ringsInUseAtTheDumpComeBackAndGoOn() throws Exception {
        try (DetachedProcess p = start("busy")) {
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS 2000 round trips"), out);
        }
    }

    /**
     * A read of an empty pipe waits on the ring: a request in flight cannot be carried, so the dump is
     * refused naming pid, fd and reason, and the program goes on with its ring intact.
     */
    @Test
    void aRequestInFlightIsRefusedByNameAndTheTreeRunsOn() throws Exception {
        try (DetachedProcess p = start("waiting")) {
            Cli refused = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("no").toString(),
                    "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("pid " + p.pid().value() + " fd ") && refused.err().contains("io_uring")
                    && refused.err().contains("1 request(s) armed on a poll"), refused.err());
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS 2000 round trips"), out);
        }
    }
}
