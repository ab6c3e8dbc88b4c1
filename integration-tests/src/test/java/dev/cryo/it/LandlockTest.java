package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A task confined by a Landlock domain cannot be carried (nothing reads a domain back) and came back
 * unconfined, silently (real37: a task limited to writing in one directory could write anywhere after
 * the restore). The dump now refuses it by name and the tree runs on; the same program without the
 * domain is dumped and restored.
 */
class LandlockTest {
    @TempDir
    Path tmp;

    /** Python making a ruleset that handles file writes with no rule (it may write nowhere), restricting itself if asked. */
    private static String program(boolean restrict) {
        return """
                import ctypes, os, signal, sys
                libc = ctypes.CDLL(None, use_errno=True)
                libc.syscall.restype = ctypes.c_long
                handled = ctypes.c_uint64(1 << 1)  # LANDLOCK_ACCESS_FS_WRITE_FILE
                fd = libc.syscall(ctypes.c_long(444), ctypes.byref(handled), ctypes.c_size_t(8), ctypes.c_uint32(0))
                assert fd >= 0, 'landlock_create_ruleset: errno %d' % ctypes.get_errno()
                if RESTRICT:
                    r = libc.syscall(ctypes.c_long(446), ctypes.c_long(fd), ctypes.c_uint32(0))
                    assert r == 0, 'landlock_restrict_self: errno %d' % ctypes.get_errno()
                os.close(fd)
                checked = []
                signal.signal(signal.SIGUSR2, lambda *a: checked.append(1))
                print('ready', flush=True)
                while not checked:
                    signal.pause()
                print('PASS', flush=True)
                """.replace("RESTRICT", restrict ? "True" : "False");
    }

    @Test
    void aTaskInALandlockDomainIsRefusedByNameAndRunsOn() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("landlock.out"), "/usr/bin/python3",
                "-c", program(true)))) {
            int pid = p.pid().value();
            Cli r = Cli.run("dump", "-t", Integer.toString(pid), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, r.code(), r.toString());
            String err = r.err().strip();
            assertTrue(err.contains("pid " + pid + " (python3): it is confined by a Landlock domain"), err);
            assertFalse(err.contains("\tat "), err);
            Workloads.awaitUntraced(pid);
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void theSameProgramWithoutADomainIsCarried() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("free.out"), "/usr/bin/python3",
                "-c", program(false)))) {
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
        }
    }
}
