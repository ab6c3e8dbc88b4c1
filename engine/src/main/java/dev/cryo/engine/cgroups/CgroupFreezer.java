package dev.cryo.engine.cgroups;

import dev.cryo.engine.DumpException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CRIU's --freeze-cgroup with the unified hierarchy's freezer (cgroup.freeze): the cgroup is
 * frozen right before the seize, so no task in it forks or exits while the tree is walked and
 * seized, and thawed once every task is held by ptrace (a ptrace trap comes before the freezer's,
 * so a frozen task still stops for PTRACE_INTERRUPT), before anything is injected: a frozen
 * task would never run an injected call.
 */
public final class CgroupFreezer {
    private static final long FREEZE_WAIT_NANOS = 5_000_000_000L;
    private final Path dir;
    private boolean frozen;
    /** Thaws the cgroup should cryo die while it is frozen: its tasks, let go by their tracer, would stay frozen. */
    private dev.cryo.engine.files.LockWatchdog watchdog;

    private CgroupFreezer(Path dir) {
        this.dir = dir;
    }

    /** The freezer of the cgroup directory {@code path}; one without cgroup.freeze (a v1 cgroup) is a usage error. */
    public static CgroupFreezer of(String path) {
        Path dir = Path.of(path);
        if (!dir.isAbsolute() || !Files.isRegularFile(dir.resolve("cgroup.freeze"))) {
            throw new IllegalArgumentException(path + " is not a cgroup of the unified hierarchy (no cgroup.freeze"
                    + " there): cryo freezes with the cgroup v2 freezer; give the cgroup's absolute path");
        }
        return new CgroupFreezer(dir);
    }

    public Path dir() {
        return dir;
    }

    /** Freezes the cgroup and waits (bounded) until the kernel says every task in it is frozen. */
    public synchronized void freeze() {
        try {
            watchdog = dev.cryo.engine.files.LockWatchdog.start(java.util.List.of());
        } catch (RuntimeException e) {
            throw new DumpException(e.getMessage());
        }
        watchdog.thaw(dir);
        write("1");
        frozen = true;
        long limit = System.nanoTime() + FREEZE_WAIT_NANOS;
        while (!events().contains("frozen 1")) {
            if (System.nanoTime() - limit > 0) {
                thaw();
                throw new DumpException("cgroup " + dir + " did not freeze within 5 s");
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                thaw();
                throw new DumpException("interrupted while freezing cgroup " + dir);
            }
        }
    }

    /** Thaws the cgroup if this freezer froze it; safe to call again. */
    public synchronized void thaw() {
        try {
            if (frozen) {
                write("0");
                frozen = false;
            }
        } finally {
            if (watchdog != null) {
                watchdog.close();
                watchdog = null;
            }
        }
    }

    private void write(String value) {
        try {
            Files.writeString(dir.resolve("cgroup.freeze"), value);
        } catch (IOException e) {
            throw new DumpException("cannot write " + value + " to " + dir.resolve("cgroup.freeze") + ": " + e.getMessage());
        }
    }

    private String events() {
        try {
            return Files.readString(dir.resolve("cgroup.events"));
        } catch (IOException e) {
            throw new DumpException("cannot read " + dir.resolve("cgroup.events") + ": " + e.getMessage());
        }
    }
}
