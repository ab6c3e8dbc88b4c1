package dev.cryo.engine.restore.stage;

import dev.cryo.engine.files.RegularFileHandler;
import dev.cryo.engine.model.FdImage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * A file under /proc/PID takes its owner from the task when it is opened (and when its path is looked up again):
 * the task reopened its own /proc files in FILES, still as root, so an fstat showed them root's where a program
 * running as another user had its own. Once its credentials are set, each path is looked up once, which gives the
 * open file the task's owner again. /proc/PID/net files are left: a lookup drops the dentry an open one holds.
 */
public final class ProcFileOwners implements StateStage {
    private static final java.util.regex.Pattern TASK_FILE = java.util.regex.Pattern.compile("^/proc/\\d+/(?!net(/|$)).+");

    @Override
    public String name() {
        return "/proc file owners";
    }

    @Override
    public void run(TaskContext t) {
        if (RegularFileHandler.inOtherMountNamespace(t.pid().value())) {
            return; // its /proc is not the one cryo would look in
        }
        for (FdImage f : t.task().fds()) {
            if (f.desc() instanceof RegularFileHandler.RegularFile r && r.file().path() != null
                    && TASK_FILE.matcher(r.file().path()).matches() && !r.file().path().endsWith(" (deleted)")) {
                lookUpAgain(r.file().path());
            }
        }
    }

    /**
     * A stat of the path for its side alone, its answer unused: the lookup revalidates the /proc dentry
     * (pid_revalidate), which sets the inode's owner, the open file's too, from the task's credentials now.
     */
    private static void lookUpAgain(String path) {
        try {
            Files.readAttributes(Path.of(path), BasicFileAttributes.class);
        } catch (IOException gone) {
            // the task's file went meanwhile: nothing to give an owner
        }
    }
}
