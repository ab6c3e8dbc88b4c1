package dev.cryo.kernel.proc;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntPredicate;

/**
 * Every open fd of every process of the host, as cryo's /proc shows them: who else holds a pty, a
 * pipe, a socket or a queue the tree holds. One walk of /proc for each question, so it runs only
 * where the answer is needed (a refusal's text, a pty of the tree, a pipe to reopen).
 */
public final class HostFds {
    private HostFds() {}

    /** Looks at one fd: an answer ends the walk, null goes on. */
    public interface Visitor<T> {
        T visit(int pid, int fd, String target) throws IOException;
    }

    /**
     * The first answer {@code visitor} gives for an fd of a process other than cryo's own and those
     * {@code skip} names, or null. A process that exits meanwhile, a kernel thread, an fd closed
     * meanwhile or one the visitor fails on is passed over. Fails only when /proc cannot be listed.
     */
    public static <T> T first(IntPredicate skip, Visitor<T> visitor) {
        return first(ProcFs.pids(), skip, visitor);
    }

    /** As above, over {@code pids} only, in their order (the likeliest holders first). */
    public static <T> T first(Iterable<Integer> pids, IntPredicate skip, Visitor<T> visitor) {
        long self = ProcessHandle.current().pid();
        for (int pid : pids) {
            if (pid != self && !skip.test(pid)) {
                T answer = firstOf(pid, Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd"), visitor);
                if (answer != null) {
                    return answer;
                }
            }
        }
        return null;
    }

    private static <T> T firstOf(int pid, Path fdDir, Visitor<T> visitor) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(fdDir)) {
            for (Path fd : fds) {
                try {
                    T answer = visitor.visit(pid, Integer.parseInt(fd.getFileName().toString()),
                            Files.readSymbolicLink(fd).toString());
                    if (answer != null) {
                        return answer;
                    }
                } catch (IOException | RuntimeException closed) {
                    // closed meanwhile, or not a question about this fd: the next one
                }
            }
        } catch (IOException | RuntimeException gone) {
            // exited, or not ours to read
        }
        return null;
    }
}
