package dev.cryo.engine.show;

import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.DumpInfo;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ZombieImage;
import dev.cryo.engine.model.codec.ModelCodecs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An image directory as a tree of LinkedHashMaps, Lists, Strings, numbers and booleans, ready for
 * any JSON writer (the engine has none). Addresses are "0x..." strings, flags octal strings.
 * The whole image is verified first, so damage is reported (as the image exceptions, which name
 * file and chunk) before anything could be printed.
 */
public final class ImageJson {
    private ImageJson() {}

    /** With {@code pages}, each task also lists its page chunks. */
    public static Map<String, Object> read(Path dir, boolean pages) throws IOException {
        try (ImageReader r = ImageReader.open(dir, ModelCodecs.ALL)) {
            r.verify();
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("format", format(r, Files.size(dir.resolve(ImageFormat.IMAGE_FILE))));
            DumpInfo dump = null;
            List<Object> tasks = new ArrayList<>();
            List<Object> zombies = new ArrayList<>();
            List<Object> namespaces = new ArrayList<>();
            List<Object> netNamespaces = new ArrayList<>();
            List<Object> sharedData = new ArrayList<>();
            for (Object record : r.records()) {
                if (record instanceof DumpInfo d && dump == null) {
                    dump = d;
                } else if (record instanceof TaskImage t) {
                    tasks.add(TaskJson.task(t, pagesOf(r, t.pid()), pages, e -> fillByte(r, e)));
                } else if (record instanceof ZombieImage z) {
                    zombies.add(zombie(z));
                } else if (record instanceof dev.cryo.engine.namespaces.NamespaceImage n) {
                    namespaces.add(n.json());
                } else if (record instanceof dev.cryo.engine.namespaces.NetNamespaceImage n) {
                    netNamespaces.add(n.json());
                } else if (record instanceof dev.cryo.engine.namespaces.UserNsImage u) {
                    namespaces.add(u.json());
                } else if (record instanceof dev.cryo.engine.memory.SharedObjectData d) {
                    sharedData.add(d.json());
                }
            }
            doc.put("dump", dump == null ? null : dump(dump));
            doc.put("tasks", tasks);
            if (!zombies.isEmpty()) {
                doc.put("zombies", zombies);
            }
            if (!namespaces.isEmpty()) {
                doc.put("namespaces", namespaces);
            }
            if (!netNamespaces.isEmpty()) {
                doc.put("netNamespaces", netNamespaces);
            }
            if (!sharedData.isEmpty()) { // shared memory's pages outside every area
                doc.put("sharedMemoryOutsideAreas", sharedData);
            }
            return doc;
        }
    }

    private static Map<String, Object> format(ImageReader r, long bytes) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", r.formatVersion());
        m.put("pageSize", r.pageSize());
        m.put("chunks", r.entries().size());
        m.put("bytes", bytes);
        return m;
    }

    private static Map<String, Object> dump(DumpInfo d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cryoVersion", d.cryoVersion());
        m.put("created", Instant.ofEpochMilli(d.createdEpochMillis()).toString());
        m.put("createdEpochMillis", d.createdEpochMillis());
        m.put("hostname", d.hostname());
        m.put("kernel", d.kernel());
        m.put("rootPid", d.rootPid());
        m.put("pids", d.pids());
        m.put("xstateSize", d.xstateSize());
        m.put("leftRunning", d.leftRunning());
        return m;
    }

    private static Map<String, Object> zombie(ZombieImage z) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", z.pid());
        m.put("ppid", z.ids().ppid());
        m.put("pgid", z.ids().pgid());
        m.put("sid", z.ids().sid());
        m.put("comm", z.comm());
        m.put("uid", z.uid());
        m.put("exitSignal", z.exitSignal());
        m.put("status", z.status());
        m.put("blocked", String.format("%016x", z.blocked()));
        m.put("ignored", String.format("%016x", z.ignored()));
        m.put("caught", String.format("%016x", z.caught()));
        m.put("execed", z.execed());
        m.put("wait", z.exited() ? "exited " + z.exitCode() : "killed by " + dev.cryo.kernel.Signals.name(z.termSignal()));
        if (z.seccompMode() != 0) {
            m.put("seccomp", z.seccompMode() == dev.cryo.kernel.Seccomp.MODE_STRICT ? "strict"
                    : z.seccompFilters() + " filters");
        }
        return m;
    }

    private static int fillByte(ImageReader r, IndexEntry e) {
        try {
            return r.fillByte(e);
        } catch (java.io.IOException verifiedAbove) {
            throw new java.io.UncheckedIOException(verifiedAbove);
        }
    }

    private static List<IndexEntry> pagesOf(ImageReader r, int pid) {
        return r.pageChunks().stream().filter(e -> e.pid() == pid).toList();
    }
}
