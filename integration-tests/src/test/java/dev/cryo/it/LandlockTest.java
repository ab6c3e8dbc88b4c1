package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
                    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: an unprivileged task needs it to restrict itself
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

    /** As root (cryo itself is the probe's witness). */
    private static final List<String> ROOT = List.of();
    /** As nobody, no capabilities: cryo starts a witness of that uid (before: not seen, restored unconfined). */
    private static final List<String> NOBODY = List.of("/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534",
            "--clear-groups");
    /** As root of its own user and pid namespaces: a witness in them (before: not seen, restored unconfined). */
    // unshare complains on stderr when its child is killed (the dump): stderr goes nowhere
    private static final List<String> CONTAINED = List.of("sh", "-c", "exec unshare \"$@\" 2>/dev/null", "sh",
            "--user", "--map-root-user", "--pid", "--fork");

    private DetachedProcess start(List<String> as, boolean restrict) throws Exception {
        List<String> cmd = new ArrayList<>(as);
        cmd.addAll(List.of("/usr/bin/python3", "-c", program(restrict)));
        return Workloads.ready(DetachedProcess.start(tmp.resolve("landlock.out"), cmd.toArray(String[]::new)));
    }

    /** The program itself: unshare's child in its namespaces. */
    private static DetachedProcess program(DetachedProcess started, List<String> as) throws Exception {
        return as == CONTAINED
                ? DetachedProcess.restored(dev.cryo.kernel.Pid.of(NamespaceTest.initUnder(started.pid().value())), started.output())
                : started;
    }

    @Test
    void aTaskInALandlockDomainIsRefusedByNameAndRunsOn() throws Exception {
        refusedByName(ROOT);
    }

    /**
     * Failed before (the dump succeeded): 'expected: <1> but was: <0>', and the restored task
     * could write anywhere.
     */
    @Test
    void aTaskOfAnotherUidInALandlockDomainIsRefusedByNameAndRunsOn() throws Exception {
        refusedByName(NOBODY);
    }

    /** Failed before as above. */
    @Test
    void aTaskInALandlockDomainInsideItsOwnUserAndPidNamespacesIsRefusedByNameAndRunsOn() throws Exception {
        refusedByName(CONTAINED);
    }

    private void refusedByName(List<String> as) throws Exception {
        try (DetachedProcess started = start(as, true)) {
            DetachedProcess p = program(started, as);
            int pid = p.pid().value();
            Cli r = Cli.run("dump", "-t", Integer.toString(pid), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, r.code(), r.toString());
            String err = r.err().strip();
            assertTrue(err.contains("pid " + pid + " (python3): it is confined by a Landlock domain"), err);
            assertFalse(err.contains("\tat "), err);
            Workloads.awaitUntraced(pid);
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
            assertTrue(witnesses().isEmpty(), witnesses().toString());
        }
    }

    @Test
    void theSameProgramWithoutADomainIsCarried() throws Exception {
        carried(ROOT);
    }

    @Test
    void theSameProgramOfAnotherUidWithoutADomainIsCarried() throws Exception {
        carried(NOBODY);
    }

    @Test
    void theSameProgramInsideItsOwnUserAndPidNamespacesWithoutADomainIsCarried() throws Exception {
        carried(CONTAINED);
    }

    private void carried(List<String> as) throws Exception {
        try (DetachedProcess started = start(as, false)) {
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(program(started, as), tmp.resolve("img")));
            assertTrue(out.contains("PASS"), out);
            assertTrue(witnesses().isEmpty(), witnesses().toString());
        }
    }

    /** The witnesses a dump started and did not end (this JVM's dumps make them: its children). */
    private static List<ProcessHandle> witnesses() {
        return ProcessHandle.current().descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("/nsenter") || c.endsWith("/cat")).orElse(false))
                .toList();
    }
}
