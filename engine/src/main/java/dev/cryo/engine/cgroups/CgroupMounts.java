package dev.cryo.engine.cgroups;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where this host mounts each cgroup hierarchy, from /proc/self/mountinfo: a v1 hierarchy is
 * known by its controllers ("cpu,cpuacct", "name=systemd"), the unified one by "". A mount may
 * show only part of a hierarchy (its root, e.g. /docker/ID in a container): a cgroup outside it
 * is not reachable from here.
 */
public final class CgroupMounts {
    private record Mount(String hierarchy, Set<String> controllers, String root, Path mountPoint) {}

    private final List<Mount> mounts;

    private CgroupMounts(List<Mount> mounts) {
        this.mounts = mounts;
    }

    public static CgroupMounts read() {
        try {
            return parse(Files.readAllLines(Path.of("/proc/self/mountinfo")));
        } catch (IOException e) {
            return new CgroupMounts(List.of());
        }
    }

    static CgroupMounts parse(List<String> mountinfo) {
        List<Mount> out = new ArrayList<>();
        for (String line : mountinfo) {
            String[] f = line.split(" ");
            int dash = Arrays.asList(f).indexOf("-");
            if (f.length < 5 || dash < 0 || dash + 3 >= f.length) {
                continue;
            }
            String type = f[dash + 1];
            String root = unescape(f[3]);
            Path point = Path.of(unescape(f[4]));
            if (type.equals("cgroup2")) {
                out.add(new Mount("", Set.of(), root, point));
            } else if (type.equals("cgroup")) {
                Set<String> controllers = new java.util.TreeSet<>(Arrays.asList(f[dash + 3].split(",")));
                out.add(new Mount(null, controllers, root, point));
            }
        }
        return new CgroupMounts(out);
    }

    /** The directory of {@code path} in {@code hierarchy} on this host, if a mount shows it. */
    public Optional<Path> dir(String hierarchy, String path) {
        for (Mount m : mounts) {
            boolean same = hierarchy.isEmpty() ? "".equals(m.hierarchy())
                    : m.hierarchy() == null && m.controllers().containsAll(Arrays.asList(hierarchy.split(",")));
            if (!same) {
                continue;
            }
            if (m.root().equals("/")) {
                return Optional.of(path.equals("/") ? m.mountPoint() : m.mountPoint().resolve(path.substring(1)));
            }
            if (path.equals(m.root())) {
                return Optional.of(m.mountPoint());
            }
            if (path.startsWith(m.root() + "/")) {
                return Optional.of(m.mountPoint().resolve(path.substring(m.root().length() + 1)));
            }
        }
        return Optional.empty();
    }

    /** mountinfo escapes blanks and backslashes as octal. */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                try {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                    i += 3;
                    continue;
                } catch (NumberFormatException ignored) {
                    // not an escape: kept as it is
                }
            }
            b.append(c);
        }
        return b.toString();
    }
}
