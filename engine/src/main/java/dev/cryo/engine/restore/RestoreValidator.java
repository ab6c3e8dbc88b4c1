package dev.cryo.engine.restore;

import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.files.RegularFileHandler;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * Checks, before anything is created, that the image can be restored here: every file it refers
 * to is present and unchanged, and every pid is free. A pid still held by a zombie its reaper has
 * not collected yet is waited for briefly.
 */
public final class RestoreValidator {
    private RestoreValidator() {}

    public static void validate(ImageContents image, Duration pidWait, Consumer<String> notice) {
        // pids first: a busy pid is the likelier, and more useful, thing to report
        for (TaskImage t : image.tasks()) {
            for (var th : t.threads()) {
                checkPidFree(th.tid(), pidWait, notice);
            }
        }
        for (var z : image.zombies()) {
            checkPidFree(z.pid(), pidWait, notice);
        }
        for (TaskImage t : image.tasks()) {
            checkFile("pid " + t.pid() + " executable", t.exe());
            for (VmaImage v : t.vmas()) {
                if (v.file() != null && v.kind() != dev.cryo.engine.model.VmaKind.SHARED_ANON) {
                    checkFile("pid " + t.pid() + " mapping at 0x" + Long.toHexString(v.start()), v.file());
                }
            }
            for (FdImage fd : t.fds()) {
                if (fd.desc() instanceof RegularFileHandler.RegularFile f) {
                    checkFile("pid " + t.pid() + " fd " + fd.fd(), f.file());
                }
            }
        }
    }

    /** Regular files must be the very file dumped: same inode, size and mtime. */
    static void checkFile(String what, FileRef ref) {
        if (ref == null) {
            return;
        }
        FileRef now;
        try {
            now = FileIdentity.of(ref.path(), Path.of(ref.path()));
        } catch (IOException e) {
            throw new RestoreException(what + ": " + ref.path() + " is missing (" + e.getMessage() + ")");
        }
        String diff = FileIdentity.difference(ref, now);
        if (diff != null) {
            throw new RestoreException(what + ": " + ref.path() + " changed since the dump: " + diff);
        }
    }

    public static void checkPidFree(int pid, Duration wait, Consumer<String> notice) {
        long deadline = System.nanoTime() + wait.toNanos();
        boolean told = false;
        while (true) {
            ProcStat st;
            try {
                st = ProcFs.stat(Pid.of(pid));
            } catch (KernelException e) {
                return; // free
            }
            boolean zombie = st.state() == 'Z' || st.state() == 'X';
            if (!zombie || System.nanoTime() > deadline) {
                throw new RestoreException("pid " + pid + " is in use by '" + st.comm() + "'"
                        + (zombie ? " (a zombie its parent has not reaped)" : ""));
            }
            if (!told) {
                notice.accept("pid " + pid + " is held by a zombie of '" + st.comm() + "'; waiting up to "
                        + wait.toSeconds() + " s for it to be reaped");
                told = true;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RestoreException("interrupted while waiting for pid " + pid + " to be free");
            }
        }
    }
}
