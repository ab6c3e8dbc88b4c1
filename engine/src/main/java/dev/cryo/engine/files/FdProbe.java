package dev.cryo.engine.files;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.FdInfo;

import java.nio.file.Path;

/** What /proc says of one fd of a frozen task: its link target and fdinfo. */
public record FdProbe(Pid pid, int fd, String target, FdInfo info) {
    /** The /proc/PID/fd/N link: stat and open go through it so deleted or renamed files still resolve. */
    public Path procPath() {
        return Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd);
    }

    public Ref ref() {
        return new Ref(pid.value(), fd);
    }

    /** An fd of a task of the tree. */
    public record Ref(int pid, int fd) {
        @Override
        public String toString() {
            return "pid " + pid + " fd " + fd;
        }
    }

    public String where() {
        return "pid " + pid + " fd " + fd;
    }
}
