package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.DumpInfo;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.model.ZombieImage;
import dev.cryo.engine.model.codec.ModelCodecs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An image read and checked for restore: every chunk's checksum verified, the dump record and one
 * task record per pid, parents before children, the zombies of the tree, and each task's page chunks.
 */
public record ImageContents(Path dir, DumpInfo info, List<TaskImage> tasks, List<ZombieImage> zombies,
                            Map<Integer, List<PageSlice>> pages) {
    public static ImageContents read(Path dir, long maxChunk) throws IOException {
        return read(dir, maxChunk, false);
    }

    /**
     * {@code verified}: every chunk's checksum was checked already as the image arrived (a migration's
     * page channel), so the pass over the whole file is skipped: it would sit in the migration's downtime.
     * Header, index and trailer are still checked, and each page chunk again when it is read.
     */
    public static ImageContents read(Path dir, long maxChunk, boolean verified) throws IOException {
        ImageTrust.check(dir);
        try (ImageReader reader = ImageReader.open(dir, ModelCodecs.ALL, maxChunk)) {
            if (!verified) {
                reader.verify();
            }
            return of(dir, reader.records(), reader.pageChunks());
        }
    }

    /**
     * An image whose records and page chunks were seen, verified, as it arrived (a migration's
     * page channel): nothing is read again, so the restore after the freeze starts at once.
     */
    public static ImageContents arrived(Path dir, List<Object> records, List<IndexEntry> pageChunks) {
        ImageTrust.check(dir);
        return of(dir, records, pageChunks);
    }

    private static ImageContents of(Path dir, List<Object> records, List<IndexEntry> pageChunks) {
        {
            DumpInfo info = null;
            Map<Integer, TaskImage> byPid = new LinkedHashMap<>();
            List<ZombieImage> zombies = new ArrayList<>();
            for (Object r : records) {
                if (r instanceof DumpInfo d) {
                    info = d;
                } else if (r instanceof TaskImage t) {
                    byPid.put(t.pid(), t);
                } else if (r instanceof ZombieImage z) {
                    zombies.add(z);
                }
            }
            if (info == null) {
                throw new RestoreException(dir.resolve("image.cryo") + " holds no dump record");
            }
            List<TaskImage> tasks = new ArrayList<>();
            for (int pid : info.pids()) {
                TaskImage t = byPid.get(pid);
                if (t == null) {
                    throw new RestoreException(dir.resolve("image.cryo") + " lists pid " + pid + " but holds no record of it");
                }
                tasks.add(t);
            }
            Map<Integer, List<IndexEntry>> chunks = new LinkedHashMap<>();
            for (IndexEntry e : pageChunks) {
                chunks.computeIfAbsent(e.pid(), k -> new ArrayList<>()).add(e);
            }
            Map<Integer, List<PageSlice>> pages = new LinkedHashMap<>();
            for (TaskImage t : tasks) {
                pages.put(t.pid(), latest(chunks.getOrDefault(t.pid(), List.of()), t.vmas()));
            }
            for (ZombieImage z : zombies) {
                if (!byPid.containsKey(z.ids().ppid())) {
                    throw new RestoreException(dir.resolve("image.cryo") + " holds zombie pid " + z.pid()
                            + " whose parent pid " + z.ids().ppid() + " is not in the image");
                }
            }
            return new ImageContents(dir, info, tasks, zombies, pages);
        }
    }

    public TaskImage task(int pid) {
        return tasks.stream().filter(t -> t.pid() == pid).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task " + pid + " in the image"));
    }

    /**
     * The pages to write, in address order: where chunks overlap (a pre-copy image sends a page again
     * each time it was written) the later chunk wins, and pages outside the task's final mappings
     * that take page data (memory unmapped between pre-copy rounds) are dropped. A plain image has
     * neither, and every chunk comes out whole.
     */
    static List<PageSlice> latest(List<IndexEntry> chunks, List<VmaImage> vmas) {
        TreeMap<Long, PageSlice> live = new TreeMap<>();
        for (IndexEntry e : chunks) {
            PageSlice next = PageSlice.whole(e);
            Map.Entry<Long, PageSlice> before = live.lowerEntry(next.address());
            if (before != null && before.getValue().end() > next.address()) {
                cut(live, before.getValue(), next);
            }
            for (PageSlice over : List.copyOf(live.subMap(next.address(), true, next.end(), false).values())) {
                cut(live, over, next);
            }
            live.put(next.address(), next);
        }
        List<PageSlice> out = new ArrayList<>();
        for (PageSlice s : live.values()) {
            for (VmaImage v : vmas) {
                PageSlice in = takesPages(v) ? s.within(v.start(), v.end()) : null;
                if (in != null) {
                    out.add(in);
                }
            }
        }
        return out;
    }

    /** Replaces old (already in live) by what is left of it outside next. */
    private static void cut(TreeMap<Long, PageSlice> live, PageSlice old, PageSlice next) {
        live.remove(old.address());
        PageSlice left = old.within(old.address(), next.address());
        PageSlice right = old.within(next.end(), old.end());
        if (left != null) {
            live.put(left.address(), left);
        }
        if (right != null) {
            live.put(right.address(), right);
        }
    }

    /** Mappings whose contents live in a file or come from the kernel never get page data. */
    private static boolean takesPages(VmaImage v) {
        return v.kind().takesPages();
    }

    public List<PageSlice> pagesOf(int pid) {
        return pages.getOrDefault(pid, List.of());
    }

    public int root() {
        return info.rootPid();
    }

    /** Every pid the restore creates: the live tasks and the zombies. */
    public java.util.Set<Integer> allPids() {
        java.util.Set<Integer> out = new java.util.LinkedHashSet<>(info.pids());
        zombies.forEach(z -> out.add(z.pid()));
        return out;
    }
}
