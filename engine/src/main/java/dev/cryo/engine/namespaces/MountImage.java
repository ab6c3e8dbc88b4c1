package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.model.codec.ModelFields;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One mount of a mount namespace the tree made, in its table's order. {@code made} false: a copy
 * of a mount of the host's namespace (cryo's), which the restore's own copy has too (its mount
 * options and propagation are set as dumped); true: a mount made inside the namespace, made again
 * by the restore — a fresh file system of {@code fsType} (proc, sysfs, mqueue, tmpfs with its
 * {@code contents}, binfmt_misc with its entries as contents: each a file named as the entry, its
 * text as the kernel shows it its data, BinfmtEntries) or, with {@code bindFrom}, a bind mount of that path as the namespace saw it
 * at that point of its table ({@code hostSource}: that path as cryo sees it, in its own table — a
 * namespace whose root is not the host's, a container's after pivot_root, binds its rootfs and
 * such from paths of the host it no longer reaches). {@code tags} are mountinfo's propagation
 * fields (shared:N, master:N, unbindable; none: private). {@code external}: the name CRIU's {@code dump --external
 * mnt[POINT]:NAME} gave it ("" none), by which {@code restore --external mnt[NAME]:PATH} binds PATH there instead
 * ({@link ExternalMounts}).
 */
public record MountImage(String point, String fsType, String source, String root, String options,
                         String superOptions, List<String> tags, boolean made, String bindFrom,
                         List<Entry> contents, boolean hostSource, String external) {
    public MountImage {
        tags = List.copyOf(tags);
        contents = List.copyOf(contents);
        external = external == null ? "" : external;
    }

    public MountImage(String point, String fsType, String source, String root, String options, String superOptions,
                      List<String> tags, boolean made, String bindFrom, List<Entry> contents, boolean hostSource) {
        this(point, fsType, source, root, options, superOptions, tags, made, bindFrom, contents, hostSource, "");
    }

    public MountImage(String point, String fsType, String source, String root, String options, String superOptions,
                      List<String> tags, boolean made, String bindFrom, List<Entry> contents) {
        this(point, fsType, source, root, options, superOptions, tags, made, bindFrom, contents, false);
    }

    /** This, named {@code name} by {@code dump --external mnt[POINT]:NAME}. */
    public MountImage named(String name) {
        return new MountImage(point, fsType, source, root, options, superOptions, tags, made, bindFrom, contents,
                hostSource, name);
    }

    /**
     * A file of a tmpfs: {@code path} relative to its root ("" is the root itself), {@code type}
     * 'd' directory, 'f' regular file ({@code data} its bytes), 'l' symlink ({@code data} its
     * target), 'h' hard link of the earlier entry named by {@code data}; {@code ino} its inode
     * number (0: unknown, a directory a mount covers), which a restore makes again by creating
     * the files in that order (a tmpfs numbers its inodes as they are made); 'p' a FIFO, 'c' and 'b'
     * character and block device nodes ({@code data} their device number, 8 bytes big-endian), 's' a
     * unix socket file (made with mknod: a socket of the tree's bound to it is bound again over it);
     * {@code xattrs} its extended attributes (user.*, trusted.*, POSIX ACLs as system.posix_acl_*).
     */
    public record Entry(String path, char type, int mode, int uid, int gid, long mtimeNanos, long ino, byte[] data,
                        Map<String, byte[]> xattrs) {
        public Entry {
            xattrs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(xattrs));
        }

        public Entry(String path, char type, int mode, int uid, int gid, long mtimeNanos, long ino, byte[] data) {
            this(path, type, mode, uid, gid, mtimeNanos, ino, data, Map.of());
        }

        public Entry withXattrs(Map<String, byte[]> x) {
            return new Entry(path, type, mode, uid, gid, mtimeNanos, ino, data, x);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e && path.equals(e.path) && type == e.type && mode == e.mode && uid == e.uid
                    && gid == e.gid && mtimeNanos == e.mtimeNanos && ino == e.ino && java.util.Arrays.equals(data, e.data)
                    && xattrs.keySet().equals(e.xattrs.keySet())
                    && xattrs.entrySet().stream().allMatch(x -> java.util.Arrays.equals(x.getValue(), e.xattrs.get(x.getKey())));
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(path, type, ino) * 31 + java.util.Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "Entry[" + path + " " + type + " 0" + Integer.toOctalString(mode) + " ino " + ino + ", " + data.length
                    + " bytes]";
        }
    }

    /** "tmpfs tmpfs on /tmp (rw,nosuid), made" for messages and {@code cryo show}. */
    public String describe() {
        return fsType + " " + source + " on " + point;
    }

    Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("point", point);
        m.put("fsType", fsType);
        m.put("source", source);
        m.put("root", root);
        m.put("options", options);
        m.put("superOptions", superOptions);
        m.put("propagation", tags.isEmpty() ? "private" : String.join(" ", tags));
        m.put("made", made);
        if (bindFrom != null) {
            m.put(hostSource ? "bindFromHost" : "bindFrom", bindFrom);
        }
        if (!external.isEmpty()) {
            m.put("external", external);
        }
        if (!contents.isEmpty()) {
            m.put("files", contents.size());
            m.put("bytes", contents.stream().filter(e -> e.type() == 'f').mapToLong(e -> e.data().length).sum());
            m.put("xattrs", contents.stream().mapToInt(e -> e.xattrs().size()).sum());
        }
        return m;
    }

    static final int MAX_MOUNTS = 4096, MAX_ENTRIES = 1 << 20, PATH = 4096, OPTIONS = 4096, TAGS = 16;
    /** What one namespace's tmpfs contents may weigh in the image (one record, under a chunk's 64 MiB). */
    public static final long MAX_CONTENT_BYTES = 48L << 20;

    static void write(Output out, List<MountImage> mounts) {
        out.writeVarInt(mounts.size(), true);
        for (MountImage m : mounts) {
            ModelFields.writeText(out, m.point(), PATH, "MountImage.point");
            ModelFields.writeText(out, m.fsType(), PATH, "MountImage.fsType");
            ModelFields.writeText(out, m.source(), PATH, "MountImage.source");
            ModelFields.writeText(out, m.root(), PATH, "MountImage.root");
            ModelFields.writeText(out, m.options(), OPTIONS, "MountImage.options");
            ModelFields.writeText(out, m.superOptions(), OPTIONS, "MountImage.superOptions");
            out.writeVarInt(m.tags().size(), true);
            for (String t : m.tags()) {
                ModelFields.writeText(out, t, PATH, "MountImage.tag");
            }
            out.writeBoolean(m.made());
            ModelFields.writeText(out, m.bindFrom(), PATH, "MountImage.bindFrom");
            out.writeVarInt(m.contents().size(), true);
            for (Entry e : m.contents()) {
                ModelFields.writeText(out, e.path(), PATH, "MountImage.Entry.path");
                out.writeByte((byte) e.type());
                out.writeVarInt(e.mode(), true);
                out.writeVarInt(e.uid(), true);
                out.writeVarInt(e.gid(), true);
                out.writeLong(e.mtimeNanos());
                out.writeVarLong(e.ino(), true);
                ModelFields.writeBytes(out, e.data(), (int) MAX_CONTENT_BYTES, "MountImage.Entry.data");
            }
        }
    }

    static final int MAX_XATTRS = 1 << 16, XATTR_NAME = 255, XATTR_VALUE = 65536;

    /** The extended attributes of the tmpfs entries (NamespaceImage version 3): mount index, entry index, name, value. */
    static void writeXattrs(Output out, List<MountImage> mounts) {
        int n = 0;
        for (MountImage m : mounts) {
            for (Entry e : m.contents()) {
                n += e.xattrs().size();
            }
        }
        out.writeVarInt(n, true);
        for (int i = 0; i < mounts.size(); i++) {
            List<Entry> c = mounts.get(i).contents();
            for (int j = 0; j < c.size(); j++) {
                for (var x : c.get(j).xattrs().entrySet()) {
                    out.writeVarInt(i, true);
                    out.writeVarInt(j, true);
                    ModelFields.writeText(out, x.getKey(), XATTR_NAME, "MountImage.Entry.xattr");
                    ModelFields.writeBytes(out, x.getValue(), XATTR_VALUE, "MountImage.Entry.xattrValue");
                }
            }
        }
    }

    static List<MountImage> readXattrs(Input in, List<MountImage> mounts) {
        int n = ModelFields.readCount(in, "MountImage", MAX_XATTRS, "xattrs");
        List<List<Map<String, byte[]>>> found = new ArrayList<>();
        mounts.forEach(m -> {
            List<Map<String, byte[]>> l = new ArrayList<>();
            m.contents().forEach(e -> l.add(new LinkedHashMap<>()));
            found.add(l);
        });
        for (int k = 0; k < n; k++) {
            int i = in.readVarInt(true), j = in.readVarInt(true);
            if (i < 0 || i >= mounts.size() || j < 0 || j >= mounts.get(i).contents().size()) {
                throw new KryoException("MountImage: an xattr of entry " + j + " of mount " + i + ", which does not exist");
            }
            found.get(i).get(j).put(text(in, XATTR_NAME, "Entry.xattr"),
                    ModelFields.readBytes(in, XATTR_VALUE, "MountImage.Entry.xattrValue"));
        }
        List<MountImage> out = new ArrayList<>();
        for (int i = 0; i < mounts.size(); i++) {
            MountImage m = mounts.get(i);
            List<Entry> c = new ArrayList<>();
            for (int j = 0; j < m.contents().size(); j++) {
                Map<String, byte[]> x = found.get(i).get(j);
                c.add(x.isEmpty() ? m.contents().get(j) : m.contents().get(j).withXattrs(x));
            }
            out.add(new MountImage(m.point(), m.fsType(), m.source(), m.root(), m.options(), m.superOptions(), m.tags(),
                    m.made(), m.bindFrom(), c, m.hostSource()));
        }
        return out;
    }

    /** Which mounts bind a path of the host's table (NamespaceImage version 4): their indexes. */
    static void writeHostSources(Output out, List<MountImage> mounts) {
        List<Integer> host = new ArrayList<>();
        for (int i = 0; i < mounts.size(); i++) {
            if (mounts.get(i).hostSource()) {
                host.add(i);
            }
        }
        out.writeVarInt(host.size(), true);
        host.forEach(i -> out.writeVarInt(i, true));
    }

    static List<MountImage> readHostSources(Input in, List<MountImage> mounts) {
        int n = ModelFields.readCount(in, "MountImage", MAX_MOUNTS, "hostSources");
        List<MountImage> out = new ArrayList<>(mounts);
        for (int k = 0; k < n; k++) {
            int i = in.readVarInt(true);
            if (i < 0 || i >= mounts.size() || mounts.get(i).bindFrom() == null) {
                throw new KryoException("MountImage: mount " + i + " binds a host path but is no bind mount");
            }
            MountImage m = mounts.get(i);
            out.set(i, new MountImage(m.point(), m.fsType(), m.source(), m.root(), m.options(), m.superOptions(),
                    m.tags(), m.made(), m.bindFrom(), m.contents(), true));
        }
        return out;
    }

    static final int NAME = 1024;

    /** The names {@code dump --external mnt[POINT]:NAME} gave (NamespaceImage version 11): mount index, name. */
    static void writeExternals(Output out, List<MountImage> mounts) {
        List<Integer> named = new ArrayList<>();
        for (int i = 0; i < mounts.size(); i++) {
            if (!mounts.get(i).external().isEmpty()) {
                named.add(i);
            }
        }
        out.writeVarInt(named.size(), true);
        for (int i : named) {
            out.writeVarInt(i, true);
            ModelFields.writeText(out, mounts.get(i).external(), NAME, "MountImage.external");
        }
    }

    static List<MountImage> readExternals(Input in, List<MountImage> mounts) {
        int n = ModelFields.readCount(in, "MountImage", MAX_MOUNTS, "externals");
        List<MountImage> out = new ArrayList<>(mounts);
        for (int k = 0; k < n; k++) {
            int i = in.readVarInt(true);
            if (i < 0 || i >= mounts.size()) {
                throw new KryoException("MountImage: external name of mount " + i + ", which does not exist");
            }
            String name = text(in, NAME, "external");
            if (name.isEmpty()) {
                throw new KryoException("MountImage: mount " + i + " has an empty external name");
            }
            out.set(i, out.get(i).named(name));
        }
        return out;
    }

    static List<MountImage> read(Input in) {
        int n = ModelFields.readCount(in, "MountImage", MAX_MOUNTS, "mounts");
        List<MountImage> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String point = text(in, PATH, "point");
            String fsType = text(in, PATH, "fsType");
            String source = text(in, PATH, "source");
            String root = text(in, PATH, "root");
            String options = text(in, OPTIONS, "options");
            String superOptions = text(in, OPTIONS, "superOptions");
            int k = ModelFields.readCount(in, "MountImage", TAGS, "tags");
            List<String> tags = new ArrayList<>();
            for (int j = 0; j < k; j++) {
                tags.add(text(in, PATH, "tag"));
            }
            boolean made = in.readBoolean();
            String bindFrom = ModelFields.readText(in, PATH, "MountImage.bindFrom");
            int e = ModelFields.readCount(in, "MountImage", MAX_ENTRIES, "contents");
            List<Entry> contents = new ArrayList<>(Math.min(e, 1024));
            for (int j = 0; j < e; j++) {
                String path = text(in, PATH, "Entry.path");
                char type = (char) in.readByte();
                if ("dflhpcbs".indexOf(type) < 0) {
                    throw new KryoException("MountImage.Entry: unknown type '" + type + "'");
                }
                contents.add(new Entry(path, type, in.readVarInt(true), in.readVarInt(true), in.readVarInt(true),
                        in.readLong(), in.readVarLong(true), ModelFields.readBytes(in, (int) MAX_CONTENT_BYTES, "MountImage.Entry.data")));
            }
            out.add(new MountImage(point, fsType, source, root, options, superOptions, tags, made, bindFrom, contents));
        }
        return out;
    }

    private static String text(Input in, int max, String what) {
        String s = ModelFields.readText(in, max, "MountImage." + what);
        if (s == null) {
            throw new KryoException("MountImage: no " + what);
        }
        return s;
    }
}
