package dev.cryo.kernel.proc;

import java.util.ArrayList;
import java.util.List;

/**
 * /proc/PID/mountinfo: the mounts of a task's mount namespace as it sees them (paths relative to
 * its root), in the kernel's order (a parent before the mounts on it, later mounts on one point
 * after the ones they cover).
 */
public final class MountInfo {
    private MountInfo() {}

    /**
     * One line: {@code 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue}.
     * {@code options} are the mount's own (ro, nosuid, noatime...), {@code superOptions} its
     * file system's (size=, mode=, hidepid=...); {@code tags} the optional fields (shared:N,
     * master:N, propagate_from:N, unbindable).
     */
    public record Mount(int id, int parent, int major, int minor, String root, String point, String options,
                        List<String> tags, String fsType, String source, String superOptions) {
        public Mount {
            tags = List.copyOf(tags);
        }

        /** The peer group of a shared mount, 0 when it is not shared. */
        public int sharedGroup() {
            return group("shared:");
        }

        /** The peer group a slave mount receives from, 0 when it is not a slave. */
        public int masterGroup() {
            return group("master:");
        }

        /** Its device number as stat's st_dev encodes major and minor. */
        public long stDev() {
            return ((long) (major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((long) (minor & 0xffffff00) << 12)
                    | (minor & 0xff);
        }

        public boolean unbindable() {
            return tags.contains("unbindable");
        }

        private int group(String prefix) {
            for (String t : tags) {
                if (t.startsWith(prefix)) {
                    return Integer.parseInt(t.substring(prefix.length()));
                }
            }
            return 0;
        }
    }

    public static List<Mount> parse(String path, String text) {
        List<Mount> out = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String l = lines[i];
            if (l.isBlank()) {
                continue;
            }
            String[] f = l.split(" ");
            int dash = -1;
            for (int k = 6; k < f.length; k++) {
                if (f[k].equals("-")) {
                    dash = k;
                    break;
                }
            }
            if (dash < 0 || dash + 2 >= f.length) {
                throw ProcFormatException.at(path, i + 1, "not a mountinfo line: " + l);
            }
            try {
                String[] dev = f[2].split(":");
                List<String> tags = new ArrayList<>();
                for (int k = 6; k < dash; k++) {
                    tags.add(f[k]);
                }
                out.add(new Mount(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(dev[0]),
                        Integer.parseInt(dev[1]), unescape(f[3]), unescape(f[4]), f[5], tags, unescape(f[dash + 1]),
                        unescape(f[dash + 2]), dash + 3 < f.length ? unescape(f[dash + 3]) : ""));
            } catch (RuntimeException e) {
                throw ProcFormatException.at(path, i + 1, "not a mountinfo line (" + e.getMessage() + "): " + l);
            }
        }
        return out;
    }

    /** The kernel writes space, tab, newline and backslash in paths as \040, \011, \012, \134. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
