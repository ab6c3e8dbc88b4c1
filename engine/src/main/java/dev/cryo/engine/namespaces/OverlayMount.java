package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MountInfo.Mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An overlay a task mounted inside its mount namespace. Its files live in its layers, directories
 * of other mounts, so a restore mounts it again with the same options; that is right only when
 * each layer, named in the options as the mounter named it, is the same directory from the task's
 * root and from cryo's (where the restore's new namespace starts). An overlay in a namespace
 * whose root is not the host's names its layers as nobody can resolve them at restore time
 * before the pivot; the runtimes mount a container's rootfs overlay on the host, which is a bind.
 */
final class OverlayMount {
    private OverlayMount() {}

    static void check(Pid p, Mount m, boolean pivoted, String what) {
        if (pivoted) {
            throw new DumpException(what + " was made inside a namespace whose root is not the host's; an overlay"
                    + " made there is not supported yet (one mounted on the host and bound in is)");
        }
        for (String layer : layers(m.superOptions())) {
            if (!layer.startsWith("/")) {
                throw new DumpException(what + " names its layer " + layer + " by a relative path; not supported yet");
            }
            try {
                Map<String, Object> inside = Files.readAttributes(Path.of("/proc/" + p + "/root" + layer), "unix:dev,ino");
                Map<String, Object> here = Files.readAttributes(Path.of(layer), "unix:dev,ino");
                if (!inside.equals(here)) {
                    throw new DumpException(what + ": its layer " + layer + " is another directory in the namespace"
                            + " than on the host; it cannot be mounted again as it was");
                }
            } catch (IOException e) {
                throw new DumpException(what + ": its layer " + layer + " cannot be reached (" + e.getMessage()
                        + "); it cannot be mounted again");
            }
        }
    }

    /** The lowerdir (':'-separated, '\' escapes), upperdir and workdir paths of overlay options. */
    static List<String> layers(String superOptions) {
        List<String> out = new ArrayList<>();
        for (String o : superOptions.split(",")) {
            int eq = o.indexOf('=');
            String key = eq < 0 ? o : o.substring(0, eq);
            if (eq < 0 || !List.of("lowerdir", "upperdir", "workdir", "datadir").contains(key)) {
                continue;
            }
            StringBuilder cur = new StringBuilder();
            String v = o.substring(eq + 1);
            for (int i = 0; i < v.length(); i++) {
                char c = v.charAt(i);
                if (c == '\\' && i + 1 < v.length()) {
                    cur.append(v.charAt(++i));
                } else if (c == ':' && key.equals("lowerdir")) {
                    out.add(cur.toString());
                    cur.setLength(0);
                } else {
                    cur.append(c);
                }
            }
            if (!cur.isEmpty()) {
                out.add(cur.toString().startsWith(":") ? cur.substring(1) : cur.toString());
            }
        }
        return out;
    }
}
