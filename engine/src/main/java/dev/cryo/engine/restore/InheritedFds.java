package dev.cryo.engine.restore;

import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.files.InFlightFiles;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.TaskImage;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CRIU's {@code --inherit-fd fd[N]:NAME}: the restorer hands its own fd N to the restored tree in
 * place of the dumped object named NAME — a pipe to a reader that is gone (a container's stdio,
 * given anew by its orchestrator), a log file to be written elsewhere. Every fd of that object
 * takes the restorer's open file (pidfd_getfd: one open file, as a dup), and the dumped object is
 * neither checked nor made again. Names are the handlers' ({@code pipe:[INODE]}, a path with or
 * without its leading slash).
 */
public final class InheritedFds {
    /** An fd of a live process (the restorer's own CLI) that stands in for a dumped object. */
    public record Source(int pid, int fd) {
        public String procPath() {
            return "/proc/" + pid + "/fd/" + fd;
        }
    }

    public static final InheritedFds NONE = new InheritedFds(Map.of());
    private static final Pattern SPEC = Pattern.compile("fd\\[(\\d+)]:(.+)");

    private final Map<String, Source> byName;

    private InheritedFds(Map<String, Source> byName) {
        this.byName = byName;
    }

    /**
     * Parses {@code fd[N]:NAME} specs whose fds belong to {@code pid}; throws
     * IllegalArgumentException naming a malformed spec, a name given twice or an fd not open.
     */
    public static InheritedFds parse(List<String> specs, int pid) {
        Map<String, Source> out = new LinkedHashMap<>();
        for (String spec : specs) {
            Matcher m = SPEC.matcher(spec);
            if (!m.matches()) {
                throw new IllegalArgumentException("--inherit-fd " + spec + ": expected fd[N]:NAME, e.g. fd[3]:pipe:[12345]"
                        + " or fd[3]:var/log/app.log");
            }
            int fd = Integer.parseInt(m.group(1));
            if (!java.nio.file.Files.exists(java.nio.file.Path.of("/proc/" + pid + "/fd/" + fd),
                    java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                throw new IllegalArgumentException("--inherit-fd " + spec + ": fd " + fd + " is not open here");
            }
            String name = normal(m.group(2));
            if (out.put(name, new Source(pid, fd)) != null) {
                throw new IllegalArgumentException("--inherit-fd " + spec + ": " + name + " is given twice");
            }
        }
        return new InheritedFds(Map.copyOf(out));
    }

    /** A path is named relative to the root, as CRIU does; with its slash it means the same. */
    private static String normal(String name) {
        return name.startsWith("/") ? name.substring(1) : name;
    }

    public boolean isEmpty() {
        return byName.isEmpty();
    }

    /** The fd standing in for this dumped object, or null. */
    public Source of(FileDesc d) {
        if (byName.isEmpty()) {
            return null;
        }
        String name = FdHandlers.inheritName(d);
        return name == null ? null : byName.get(name);
    }

    /** The names given that no fd of the image has: a typo, or an image other than the one meant. */
    public List<String> unused(List<TaskImage> tasks) {
        Set<String> left = new LinkedHashSet<>(byName.keySet());
        for (TaskImage t : tasks) {
            for (FdImage fd : InFlightFiles.of(t)) {
                String name = FdHandlers.inheritName(fd.desc());
                if (name != null) {
                    left.remove(name);
                }
            }
        }
        List<String> out = new ArrayList<>();
        left.forEach(n -> out.add("fd[" + byName.get(n).fd() + "]:" + n));
        return out;
    }
}
