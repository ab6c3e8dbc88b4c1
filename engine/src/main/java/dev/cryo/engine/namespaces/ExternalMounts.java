package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.ImageContents;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.MountInfo;
import dev.cryo.kernel.proc.MountInfo.Mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * CRIU's external bind mounts: {@code dump --external mnt[POINT]:NAME} names the mount at POINT of the tree's mount
 * namespaces NAME in the image; {@code restore --external mnt[NAME]:PATH} binds the host's PATH there instead of
 * what was dumped (a container's volume moved to another directory, or another host's). cryo finds bind mounts of
 * host paths by itself, so an unnamed mount, or a named one the restore is given no path for, comes back as dumped.
 */
public final class ExternalMounts {
    private ExternalMounts() {}

    /**
     * {@code namespaces} with the mounts at {@code names}' points (point → name) named: the first at each point (one
     * mounted over it later is another) of the mount namespace of the tree's root ({@code root}), as CRIU's points are; a mount a namespace below it has at the same point is
     * another (zdtm's mnt_ext_collision). Where the root is in cryo's namespace, those of every mount namespace the
     * tree made. A point at which no such namespace has a mount is refused. A tree with no mount namespace of its own
     * carries no mount: its names have nothing to name (CRIU ignores them there too).
     */
    public static List<NamespaceImage> name(List<NamespaceImage> namespaces, int root, Map<String, String> names) {
        if (names.isEmpty() || namespaces.stream().noneMatch(n -> n.has(Clone.NEWNS))) {
            return namespaces;
        }
        boolean rootMade = namespaces.stream().anyMatch(n -> n.pid() == root && n.has(Clone.NEWNS));
        Set<String> unused = new LinkedHashSet<>(names.keySet());
        List<NamespaceImage> out = new ArrayList<>();
        for (NamespaceImage n : namespaces) {
            if (!n.has(Clone.NEWNS) || rootMade && n.pid() != root) {
                out.add(n);
                continue;
            }
            List<MountImage> mounts = new ArrayList<>();
            Set<String> named = new java.util.HashSet<>();
            for (MountImage m : n.mounts()) {
                // the first mount at the point: one made over it later is the program's own (a tmpfs over /dev)
                String name = named.add(m.point()) ? names.get(m.point()) : null;
                unused.remove(m.point());
                mounts.add(name == null ? m : m.named(name));
            }
            out.add(n.withMounts(mounts));
        }
        if (!unused.isEmpty()) {
            String point = unused.iterator().next();
            throw new DumpException("--external mnt[" + point + "]:" + names.get(point) + ": no mount namespace of the"
                    + " tree has a mount at " + point + " (a mount point of the root's mount namespace, as its tasks see"
                    + " it inside their root)");
        }
        return out;
    }

    /**
     * {@code image} with the mounts named by {@code paths}' keys (name → host path) bound from those paths. A name no
     * mount of the image has is refused, as is a path that is not there. A tmpfs whose files the image carries is
     * bound from the path all the same, as asked (and CRIU does), with a note to {@code notes} saying so.
     */
    public static ImageContents bind(ImageContents image, Map<String, String> paths, java.util.function.Consumer<String> notes) {
        if (paths.isEmpty()) {
            return image;
        }
        Set<String> names = new LinkedHashSet<>();
        image.namespaceImages().forEach(n -> n.mounts().forEach(m -> {
            if (!m.external().isEmpty()) {
                names.add(m.external());
            }
        }));
        for (String name : paths.keySet()) {
            if (!names.contains(name)) {
                throw new RestoreException("--external mnt[" + name + "]:" + paths.get(name) + ": no mount of the image"
                        + " is named " + name + (names.isEmpty() ? " (its dump named none: dump --external"
                        + " mnt[POINT]:NAME names one)" : " (named: " + String.join(", ", names) + ")"));
            }
        }
        List<NamespaceImage> namespaces = new ArrayList<>();
        for (NamespaceImage n : image.namespaceImages()) {
            List<MountImage> mounts = new ArrayList<>();
            for (MountImage m : n.mounts()) {
                String path = m.external().isEmpty() ? null : paths.get(m.external());
                mounts.add(path == null ? m : boundFrom(n.pid(), m, path, notes));
            }
            namespaces.add(n.withMounts(mounts));
        }
        return image.withNamespaceImages(namespaces);
    }

    /**
     * {@code m} made again as a bind of the host's {@code path}: its file system, source and root are then that
     * path's (the restore checks its table against them), its options and propagation the dumped ones.
     */
    private static MountImage boundFrom(int pid, MountImage m, String path, java.util.function.Consumer<String> notes) {
        String what = "--external mnt[" + m.external() + "]:" + path;
        if (!m.made()) { // a copy of a host mount, which the restore's copy of cryo's namespace holds already
            throw new RestoreException(what + ": pid " + pid + "'s " + m.describe() + " is a copy of the host's mount"
                    + " there, which a restore keeps; binding another path there instead is not supported");
        }
        if (!m.contents().isEmpty()) { // as asked, as CRIU does: said, never silently
            notes.accept(what + ": pid " + pid + "'s " + m.describe() + " is bound from " + path + " as asked; the "
                    + m.contents().size() + " files the image carries for it are left out");
        }
        Path real;
        try {
            real = Path.of(path).toRealPath();
        } catch (IOException | java.nio.file.InvalidPathException e) {
            throw new RestoreException(what + ": " + path + " is not there (" + e.getMessage() + ")");
        }
        Mount host = mountOf(real, what);
        String rel = real.toString().equals(host.point()) ? "" : real.toString().substring(
                host.point().equals("/") ? 0 : host.point().length());
        String root = MountScan.join(host.root(), rel);
        return new MountImage(m.point(), host.fsType(), host.source(), root, m.options(), host.superOptions(), m.tags(),
                true, real.toString(), List.of(), true, m.external());
    }

    /** The mount of cryo's table {@code real} lives on (statx's mount id). */
    private static Mount mountOf(Path real, String what) {
        long id = Sys.mountId(real.toString());
        try {
            String table = Files.readString(Path.of("/proc/self/mountinfo"));
            return MountInfo.parse("/proc/self/mountinfo", table).stream().filter(x -> x.id() == id).findFirst()
                    .orElseThrow(() -> new RestoreException(what + ": the mount " + real + " is on (id " + id + ") is"
                            + " not in cryo's mount table"));
        } catch (IOException e) {
            throw new RestoreException(what + ": cannot read /proc/self/mountinfo: " + e.getMessage());
        }
    }
}
