package dev.cryo.engine.files;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.FdInfo;

import java.nio.file.Path;

/**
 * What /proc says of one fd of a frozen task: its link target and fdinfo, and a socket's protocol name
 * ({@link SocketProbe#protoName}, "" for any other file).
 */
public record FdProbe(Pid pid, int fd, String target, FdInfo info, String sockProto) {
    /**
     * A socket's protocol name read once here: each socket handler's {@code handles} asks it, and the
     * handlers are asked in turn (a UDP socket's name was read five times).
     */
    public FdProbe(Pid pid, int fd, String target, FdInfo info) {
        this(pid, fd, target, info, SocketProbe.readProtoName(pid, fd, target));
    }

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
