package dev.cryo.engine.files;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.HostFds;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.function.IntPredicate;

/**
 * Who else holds an object the tree holds or is joined to (the other end of a unix socket, another
 * open file of a removed message queue), for a refusal that names it: "held by pid 812 (tmux)" tells
 * the user which client to detach or stop. Scans /proc, so it runs only where a refusal may follow.
 */
final class OutsideHolder {
    private OutsideHolder() {}

    /** A process's fd and the process's command. */
    record Holder(Pid pid, int fd, String comm) {}

    /** Whether fd {@code fd} of {@code pid}, which links to the object, is one that counts. */
    interface Counts {
        boolean test(Pid pid, int fd, Path link) throws IOException;
    }

    /** " (held by pid N (comm))" for the first process outside the tree with an fd linking to {@code link}, else "". */
    static String of(String link, IntPredicate inTree) {
        try {
            Holder h = first(link, inTree, (pid, fd, path) -> true);
            return h == null ? "" : " (held by pid " + h.pid() + " (" + h.comm() + "))";
        } catch (UncheckedIOException e) {
            return "";
        }
    }

    /**
     * The first fd linking to {@code link} that {@code counts} accepts, of a process other than cryo and
     * those {@code skip} names; null when none. Fails only when /proc cannot be listed.
     */
    static Holder first(String link, IntPredicate skip, Counts counts) {
        return HostFds.first(skip, (pid, fd, target) -> target.equals(link)
                && counts.test(Pid.of(pid), fd, Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd))
                ? new Holder(Pid.of(pid), fd, ProcFs.stat(Pid.of(pid)).comm()) : null);
    }
}
