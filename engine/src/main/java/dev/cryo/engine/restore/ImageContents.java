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

/**
 * An image read and checked for restore: the dump record and one task record per pid, parents
 * before children, the zombies of the tree, and each task's page chunks. Every chunk's checksum
 * is verified before anything is created, except the page chunks the restore writes: those are
 * checked by the page writers right before their pages go into a task ({@code pagesVerified}
 * false), so the image is mapped and read once, and its checksums computed by the writers in
 * parallel (a corrupt one fails the restore, which kills what it created).
 */
public record ImageContents(Path dir, DumpInfo info, List<TaskImage> tasks, List<ZombieImage> zombies,
                            Map<Integer, List<PageSlice>> pages, boolean pagesVerified,
                            List<dev.cryo.engine.namespaces.NamespaceImage> namespaceImages,
                            List<dev.cryo.engine.namespaces.NetNamespaceImage> netNamespaces,
                            List<dev.cryo.engine.namespaces.UserNsImage> userNamespaces,
                            List<dev.cryo.engine.memory.SharedObjectData> sharedObjectData) {
    public ImageContents(Path dir, DumpInfo info, List<TaskImage> tasks, List<ZombieImage> zombies,
                         Map<Integer, List<PageSlice>> pages, boolean pagesVerified) {
        this(dir, info, tasks, zombies, pages, pagesVerified, List.of(), List.of(), List.of(), List.of());
    }

    public ImageContents(Path dir, DumpInfo info, List<TaskImage> tasks, List<ZombieImage> zombies,
                         Map<Integer, List<PageSlice>> pages, boolean pagesVerified,
                         List<dev.cryo.engine.namespaces.NamespaceImage> namespaceImages) {
        this(dir, info, tasks, zombies, pages, pagesVerified, namespaceImages, List.of(), List.of(), List.of());
    }

    /** This image with the namespace records {@code namespaces} instead (a restore's --external/--join-ns). */
    public ImageContents withNamespaceImages(List<dev.cryo.engine.namespaces.NamespaceImage> namespaces) {
        return new ImageContents(dir, info, tasks, zombies, pages, pagesVerified, namespaces, netNamespaces,
                userNamespaces, sharedObjectData);
    }

    /** This image with the task records {@code tasks} instead (the same pids), every other part as it is. */
    public ImageContents withTasks(List<TaskImage> tasks) {
        return new ImageContents(dir, info, tasks, zombies, pages, pagesVerified, namespaceImages, netNamespaces,
                userNamespaces, sharedObjectData);
    }

    /** This image with the net namespace records {@code nets} instead. */
    public ImageContents withNetNamespaces(List<dev.cryo.engine.namespaces.NetNamespaceImage> nets) {
        return new ImageContents(dir, info, tasks, zombies, pages, pagesVerified, namespaceImages, nets,
                userNamespaces, sharedObjectData);
    }

    /** The namespaces the tree made, for its restore. */
    public dev.cryo.engine.namespaces.TreeNamespaces namespaces() {
        int maxFd = tasks.stream().flatMap(t -> t.fds().stream()).mapToInt(fd -> fd.fd()).max().orElse(2);
        Map<Integer, List<Integer>> creatorGroups = new java.util.HashMap<>();
        userNamespaces.forEach(u -> tasks.stream().filter(t -> t.pid() == u.pid()).findFirst()
                .ifPresent(t -> creatorGroups.put(t.pid(), t.creds().groups())));
        return dev.cryo.engine.namespaces.TreeNamespaces.of(namespaceImages, userNamespaces, maxFd, creatorGroups);
    }

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
            ImageContents image = of(dir, records(reader), reader.pageChunks(), verified); // records: CRC-checked as read
            if (!verified) {
                // what no page writer will read is checked now: chunks of other kinds, page chunks no slice takes
                java.util.Set<Long> written = new java.util.HashSet<>();
                image.pages.values().forEach(slices -> slices.forEach(s -> written.add(s.chunk().offset())));
                reader.verify(e -> e.type() == dev.cryo.engine.image.ChunkType.RECORD || written.contains(e.offset()));
            }
            return image;
        }
    }

    /** The records of the image, the pieces of deleted files' contents left in it ({@link GhostPieces#inPlace}). */
    private static List<Object> records(ImageReader reader) throws IOException {
        List<Object> out = new ArrayList<>();
        for (IndexEntry e : reader.recordEntries()) {
            out.add(GhostPieces.inPlace(reader.readRecord(e), e));
        }
        return out;
    }

    /**
     * An image whose records and page chunks were seen, verified, as it arrived (a migration's
     * page channel), its latest pages kept per pid as they came: nothing is read again, so the
     * restore after the freeze starts at once.
     */
    public static ImageContents arrived(Path dir, List<Object> records, Map<Integer, LatestPages> latest) {
        ImageTrust.check(dir);
        return of(dir, records, latest, true);
    }

    private static ImageContents of(Path dir, List<Object> records, List<IndexEntry> pageChunks, boolean verified) {
        Map<Integer, LatestPages> latest = new LinkedHashMap<>();
        for (IndexEntry e : pageChunks) {
            latest.computeIfAbsent(e.pid(), k -> new LatestPages()).add(e);
        }
        return of(dir, records, latest, verified);
    }

    private static ImageContents of(Path dir, List<Object> stored, Map<Integer, LatestPages> latest,
                                    boolean pagesVerified) {
        {
            List<Object> records = GhostPieces.join(stored, dir);
            DumpInfo info = null;
            Map<Integer, TaskImage> byPid = new LinkedHashMap<>();
            List<ZombieImage> zombies = new ArrayList<>();
            List<dev.cryo.engine.namespaces.NamespaceImage> namespaces = new ArrayList<>();
            List<dev.cryo.engine.namespaces.NetNamespaceImage> nets = new ArrayList<>();
            List<dev.cryo.engine.namespaces.UserNsImage> users = new ArrayList<>();
            List<dev.cryo.engine.memory.SharedObjectData> sharedData = new ArrayList<>();
            for (Object r : records) {
                if (r instanceof DumpInfo d) {
                    info = d;
                } else if (r instanceof TaskImage t) {
                    byPid.put(t.pid(), t);
                } else if (r instanceof ZombieImage z) {
                    zombies.add(z);
                } else if (r instanceof dev.cryo.engine.namespaces.NamespaceImage n) {
                    namespaces.add(n);
                } else if (r instanceof dev.cryo.engine.namespaces.NetNamespaceImage n) {
                    nets.add(n);
                } else if (r instanceof dev.cryo.engine.namespaces.UserNsImage u) {
                    users.add(u);
                } else if (r instanceof dev.cryo.engine.memory.SharedObjectData d) {
                    sharedData.add(d);
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
            Map<Integer, List<PageSlice>> pages = new Pages(tasks, latest);
            for (ZombieImage z : zombies) {
                if (!byPid.containsKey(z.ids().ppid())) {
                    throw new RestoreException(dir.resolve("image.cryo") + " holds zombie pid " + z.pid()
                            + " whose parent pid " + z.ids().ppid() + " is not in the image");
                }
            }
            return new ImageContents(dir, info, tasks, zombies, pages, pagesVerified, namespaces, nets, users, sharedData);
        }
    }

    public TaskImage task(int pid) {
        return tasks.stream().filter(t -> t.pid() == pid).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task " + pid + " in the image"));
    }

    /** The pages to write of {@code chunks} (one task's, in image order): see {@link LatestPages}. */
    static List<PageSlice> latest(List<IndexEntry> chunks, List<VmaImage> vmas) {
        LatestPages l = new LatestPages();
        chunks.forEach(l::add);
        return l.within(vmas);
    }

    public List<PageSlice> pagesOf(int pid) {
        return pages.getOrDefault(pid, List.of());
    }

    /**
     * The pages of {@code pid} to write when its stub was prepared as the image arrived: in the areas
     * {@code kept} says the stub keeps, only the slices whose chunks were not placed; empty when the
     * placement was not tracked (the caller then filters {@link #pagesOf} itself).
     */
    public java.util.Optional<List<PageSlice>> pagesNotPlaced(int pid, java.util.function.Predicate<VmaImage> kept) {
        if (pages instanceof Pages p) {
            LatestPages l = p.latest.get(pid);
            if (l != null && l.tracksPlacement()) {
                return java.util.Optional.of(l.withinUnplaced(task(pid).vmas(), kept));
            }
        }
        return java.util.Optional.empty();
    }

    /**
     * Each task's latest pages, cut to its mappings when first asked for: a migration's destination
     * lists tens of thousands of slices of the root's that its prepared stub holds already, which
     * need not be listed at all (see {@link #pagesNotPlaced}).
     */
    private static final class Pages extends java.util.AbstractMap<Integer, List<PageSlice>> {
        private final Map<Integer, TaskImage> tasks = new LinkedHashMap<>();
        private final Map<Integer, LatestPages> latest;
        private final Map<Integer, List<PageSlice>> made = new java.util.concurrent.ConcurrentHashMap<>();

        Pages(List<TaskImage> tasks, Map<Integer, LatestPages> latest) {
            tasks.forEach(t -> this.tasks.put(t.pid(), t));
            this.latest = latest;
        }

        @Override
        public List<PageSlice> get(Object pid) {
            TaskImage t = tasks.get(pid);
            if (t == null) {
                return null;
            }
            return made.computeIfAbsent(t.pid(), k -> {
                LatestPages l = latest.get(k);
                return l == null ? List.of() : l.within(t.vmas());
            });
        }

        @Override
        public List<PageSlice> getOrDefault(Object pid, List<PageSlice> otherwise) {
            List<PageSlice> p = get(pid);
            return p == null ? otherwise : p;
        }

        @Override
        public boolean containsKey(Object pid) {
            return tasks.containsKey(pid);
        }

        @Override
        public java.util.Set<Entry<Integer, List<PageSlice>>> entrySet() {
            java.util.Set<Entry<Integer, List<PageSlice>>> out = new java.util.LinkedHashSet<>();
            tasks.keySet().forEach(pid -> out.add(Map.entry(pid, get(pid))));
            return out;
        }
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
