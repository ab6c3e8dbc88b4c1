package dev.cryo.engine.restore;

import dev.cryo.engine.files.PrivateModes;
import dev.cryo.engine.files.Leftovers;
import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.files.MemfdHandler;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.GhostFile;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.memory.HugetlbSharedMemory;
import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.engine.memory.VmAdvice;
import dev.cryo.kernel.SecretMemory;
import dev.cryo.kernel.SharedMemoryFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cryo.kernel.Fcntl.F_ADD_SEALS;
import static dev.cryo.kernel.Fcntl.F_SEAL_SEAL;

/**
 * The objects a restore holds for the whole tree while tasks map and open them: shared memory
 * and deleted files.
 *
 * <p>Shared memory: one shared memory object per shared memory object of the image (keyed by its dumped shmem
 * inode), exactly as large as it was (a mapping may reach past the end, after mremap: touching
 * that part raises SIGBUS, as it did). Tasks map it during the MEMORY stage; each task writes the pages it carried through its
 * own mapping, so every task sees them. Closed once mapped and opened: the mappings keep the
 * memory alive.
 *
 * <p>Deleted files (ghosts): recreated before the tasks map or open them — at their own path, so
 * they read the same in maps and fd links (a file that took the path since is put back at once) —,
 * held by cryo (O_PATH) and unlinked again at once; the tasks map and open them through cryo's fd.
 * So nothing is unlinked while the restored tasks watch (an inotify watch on the deleted file or its
 * directory would see the unlink), and nothing stays behind if the restore dies. A ghost of a mount of a
 * namespace of the tree (a tmpfs mounted in there) is made the same way in that namespace, at the first
 * ask, once its mounts are made again.
 */
public final class SharedMemoryHub implements AutoCloseable {
    private static final String MEMFD = "/memfd:", DELETED = " (deleted)";

    private final Map<Long, SharedMemoryFile> objects = new LinkedHashMap<>();
    /** Ghosts by dev:ino: where tasks reach each recreated file (cryo's fd of it, in /proc). */
    private final Map<String, String> ghosts = new LinkedHashMap<>();
    /**
     * Ghosts by dev:ino made on the first ask, once the tree's mount namespaces are made: in one of them
     * ({@link GhostFile#mountOf}), or held by fds through other paths or mounts too ({@link GhostViews}).
     */
    private final Map<String, GhostFile> later = new LinkedHashMap<>();
    /** The other paths fds hold each of those by, and where they open each (by dev:ino, then view). */
    private final Map<String, java.util.Set<GhostViews.View>> views = new LinkedHashMap<>();
    private final Map<String, Map<GhostViews.View, String>> viewPaths = new LinkedHashMap<>();
    /** cryo's O_PATH fds of the recreated (and unlinked again) ghosts. */
    private final List<dev.cryo.kernel.Fd> ghostFds = new java.util.ArrayList<>();
    private final Map<Long, Integer> seals = new LinkedHashMap<>();
    /** Memfds held by fds, whose mode and owner are given back with the seals, once every task holds them. */
    private final Map<Long, MemfdHandler.Memfd> memfdOwners = new LinkedHashMap<>();
    /** Deleted current directories (and removed directories held open) by viewer and dumped text: where each stands until close. */
    private final Map<String, String> deletedDirs = new LinkedHashMap<>();
    /** Modes of the removed directories fds hold, given back when they are made again. */
    private final Map<String, Integer> deletedDirModes = new LinkedHashMap<>();
    /** cryo's O_PATH fds of the directories that hold those made in a task's own mount namespace. */
    private final List<dev.cryo.kernel.Fd> deletedDirParents = new java.util.ArrayList<>();
    /** Directories made for them (parents that were gone too), removed on close, deepest first. */
    private final List<Path> madeDirs = new java.util.ArrayList<>();
    /** Files and directories made where the image needs them to be (a JVM's perf data), latest first. */
    private final List<Path> madeForGood = java.util.Collections.synchronizedList(new java.util.ArrayList<>());

    /** Memfds held by fds, and those whose own file a task has taken already ({@link #claimMemfd}). */
    private final java.util.Set<Long> memfdInos = new java.util.HashSet<>();
    /** Every memfd of this restore (held by an fd or only mapped). */
    private final java.util.Set<Long> memfdNames = new java.util.HashSet<>();
    private final java.util.Set<Long> memfdsGiven = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private static final int MFD_ALLOW_SEALING = 2;
    /** memfd_secret's pages, written through a mapping as huge pages are. */
    private static final long SECRET_PAGE = 4096;

    /** SysV segments removed at dump, made again: dumped shmid → new shmid, marked for removal on close. */
    private final Map<Long, Integer> removedSysv = new LinkedHashMap<>();

    /** The new segment standing for the dumped, removed segment {@code shmid}, made on the first ask. */
    public synchronized int removedSysvSegment(long shmid, long size, int mode) {
        return removedSysv.computeIfAbsent(shmid, k -> dev.cryo.kernel.SysvIpc.createPrivateSegment(size, mode));
    }

    /** Segments of the tree's own ipc namespaces marked for removal at dump: (namespace, shmid) → a task in it. */
    private final Map<List<Long>, Integer> removedInNamespace = new LinkedHashMap<>();

    /** Marks the segment {@code shmid} of {@code pid}'s ipc namespace {@code ns} for removal at {@link #close}, once every task holds it. */
    public synchronized void removeOnceHeld(long ns, long shmid, dev.cryo.kernel.Pid pid) {
        removedInNamespace.putIfAbsent(List.of(ns, shmid), pid.value());
    }

    public static SharedMemoryHub of(List<TaskImage> tasks) {
        return of(tasks, List.of());
    }

    /**
     * The shared memory objects of {@code tasks}, each made once, with the pages of theirs no area showed at the
     * dump ({@code outside}, see {@link dev.cryo.engine.memory.SharedObjectData}) written in.
     */
    public static SharedMemoryHub of(List<TaskImage> tasks, List<dev.cryo.engine.memory.SharedObjectData> outside) {
        Map<Long, Long> sizes = new LinkedHashMap<>();
        Map<Long, String> paths = new LinkedHashMap<>();
        Map<Long, Long> hugePageKb = new LinkedHashMap<>();
        Map<Long, Boolean> noReserve = new LinkedHashMap<>();
        for (TaskImage t : tasks) {
            for (VmaImage v : t.vmas()) {
                if (v.file() != null && (v.kind() == MemoryKinds.SHARED_ANON || v.kind() == MemoryKinds.SECRET_MEM
                        || v.kind() instanceof HugetlbSharedMemory)) {
                    sizes.merge(v.file().ino(), v.file().size(), Math::max);
                    paths.putIfAbsent(v.file().ino(), v.file().path());
                }
                if (v.file() != null && v.kind() instanceof HugetlbSharedMemory h) {
                    hugePageKb.put(v.file().ino(), h.pageKb());
                    // its pages are reserved as the program's mmap did, unless every mapping says MAP_NORESERVE
                    noReserve.merge(v.file().ino(), (v.advice() & VmAdvice.NORESERVE) != 0, Boolean::logicalAnd);
                }
            }
        }
        Map<Long, Integer> sealsOf = new LinkedHashMap<>();
        for (TaskImage t : tasks) { // a mapped memfd's seals, when no fd holds it (an fd's, below, say the same)
            for (VmaImage v : t.vmas()) {
                if (v.file() != null && v.kind() == MemoryKinds.SHARED_ANON && v.seals() >= 0) {
                    sealsOf.putIfAbsent(v.file().ino(), v.seals());
                }
            }
        }
        Map<Long, MemfdHandler.Memfd> owners = new LinkedHashMap<>();
        Map<Long, List<MemfdHandler.Extent>> contents = new LinkedHashMap<>();
        java.util.Set<Long> secretHeld = new java.util.HashSet<>();
        for (TaskImage t : tasks) {
            for (FdImage fd : dev.cryo.engine.files.InFlightFiles.of(t)) {
                if (fd.desc() instanceof dev.cryo.engine.files.SecretMemfdHandler.SecretMemfd m) {
                    sizes.merge(m.file().ino(), m.file().size(), Math::max);
                    paths.put(m.file().ino(), SecretMemory.PATH);
                    contents.computeIfAbsent(m.file().ino(), k -> new java.util.ArrayList<>()).addAll(m.extents());
                    secretHeld.add(m.file().ino());
                }
                if (fd.desc() instanceof MemfdHandler.Memfd m) {
                    sizes.merge(m.file().ino(), m.file().size(), Math::max);
                    paths.put(m.file().ino(), MEMFD + m.name());
                    sealsOf.put(m.file().ino(), m.seals());
                    owners.put(m.file().ino(), m);
                    contents.computeIfAbsent(m.file().ino(), k -> new java.util.ArrayList<>()).addAll(m.extents());
                    if (m.hugePageKb() > 0) {
                        hugePageKb.put(m.file().ino(), m.hugePageKb());
                    }
                }
            }
        }
        for (dev.cryo.engine.memory.SharedObjectData d : outside) {
            Long size = sizes.get(d.ino());
            if (size == null || paths.get(d.ino()).equals(SecretMemory.PATH) || d.at() < 0
                    || d.at() + d.bytes().length > size) {
                throw new RestoreException("the image holds " + d.bytes().length + " bytes at " + d.at() + " of shared"
                        + " memory object " + d.ino() + (size == null ? ", which no area or fd of the tree holds"
                        : ", outside its " + size + " bytes") + ": damaged image");
            }
            contents.computeIfAbsent(d.ino(), k -> new java.util.ArrayList<>()).add(new MemfdHandler.Extent(d.at(), d.bytes()));
        }
        SharedMemoryHub hub = new SharedMemoryHub();
        try {
            // shared anonymous objects are held by areas of cryo's (parked), others by fds: memfds map from their own
            // file (sealing, exec), and hugetlb and memfd_secret objects are written through theirs
            long byFd = sizes.keySet().stream().filter(ino -> !parks(paths.get(ino), hugePageKb.getOrDefault(ino, 0L),
                    sealsOf.get(ino))).count();
            OwnFileLimit.roomFor((int) byFd, "shared memory objects (memfds, hugetlb memory, SysV segments),"
                    + " which the restore makes and holds in cryo's own process until their tasks map them");
            sizes.forEach((ino, size) -> {
                // a memfd made without MFD_ALLOW_SEALING reports F_SEAL_SEAL alone
                Integer s = sealsOf.get(ino);
                int flags = s != null && s != F_SEAL_SEAL ? MFD_ALLOW_SEALING : 0;
                String path = paths.get(ino);
                long hugePage = hugePageKb.getOrDefault(ino, 0L) * 1024;
                SharedMemoryFile f = hugePage > 0 && !path.startsWith(MEMFD)
                        ? SharedMemoryFile.hugetlb(size, hugePage, noReserve.get(ino))
                        : parks(path, hugePage, s) ? SharedMemoryFile.parkedAnonymous(size)
                        : create(path, size, flags, hugePage);
                hub.objects.put(ino, f);
                if (s != null && s != F_SEAL_SEAL && s != 0) {
                    hub.seals.put(ino, s);
                }
                if (owners.containsKey(ino)) {
                    hub.memfdOwners.put(ino, owners.get(ino));
                }
                boolean secret = path.equals(SecretMemory.PATH); // mapped and held by cryo's own file, as a memfd
                if (path.startsWith(MEMFD) || secret) {
                    hub.memfdNames.add(ino);
                }
                if (path.startsWith(MEMFD) && owners.containsKey(ino) || secret && secretHeld.contains(ino)) {
                    hub.memfdInos.add(ino);
                }
                // memfd_secret has no write(): its pages go through a mapping of cryo's
                write(f, contents.getOrDefault(ino, List.of()), secret ? SECRET_PAGE : hugePage);
            });
            Map<String, java.util.Set<GhostViews.View>> held = new LinkedHashMap<>(); // each ghost's paths in fds
            for (TaskImage t : tasks) {
                for (FdImage fd : dev.cryo.engine.files.InFlightFiles.of(t)) {
                    if (fd.desc() instanceof dev.cryo.engine.files.GhostFileHandler.GhostFd g) {
                        held.computeIfAbsent(key(g.file()), k -> new java.util.LinkedHashSet<>())
                                .add(new GhostViews.View(g.mountOf(), g.file().path()));
                    }
                }
            }
            for (TaskImage t : tasks) {
                for (GhostFile g : t.ghostFiles()) {
                    java.util.Set<GhostViews.View> others = held.getOrDefault(key(g.file()), new java.util.HashSet<>());
                    if (g.linkedAt().isEmpty() || g.mountOf() == 0) { // made at its own path (linkedThere: at none)
                        others.remove(new GhostViews.View(g.mountOf(), g.file().path()));
                    }
                    if (g.mountOf() != 0 || !others.isEmpty()) { // mounts of the tree's namespaces: made at adoption
                        hub.later.put(key(g.file()), g);
                        hub.views.put(key(g.file()), others);
                    } else {
                        hub.ghosts.put(key(g.file()), hub.recreate(g));
                    }
                }
            }
            for (TaskImage t : tasks) {
                for (FdImage fd : dev.cryo.engine.files.InFlightFiles.of(t)) { // a removed directory held open: the same one as a cwd of that path
                    if (fd.desc() instanceof dev.cryo.engine.files.RegularFileHandler.RegularFile f
                            && dev.cryo.engine.files.RegularFileHandler.isRemovedDirectory(f)) {
                        hub.deletedDirModes.put(f.file().path(), f.file().mode() & 07777);
                    }
                }
            }
        } catch (RuntimeException e) {
            hub.close();
            throw e;
        }
        return hub;
    }

    /** Whether an object is held by an area of cryo's ({@link SharedMemoryFile#parkedAnonymous}): plain shared anonymous memory. */
    private static boolean parks(String path, long hugePageKb, Integer seals) {
        return hugePageKb == 0 && seals == null && !path.startsWith(MEMFD) && !path.equals(SecretMemory.PATH);
    }

    /**
     * A memfd comes back as a memfd of the same name (of huge pages of {@code hugePage} bytes if not 0);
     * any other shared memory as MAP_SHARED|MAP_ANONYMOUS memory.
     */
    private static SharedMemoryFile create(String path, long size, int memfdFlags, long hugePage) {
        if (path.equals(SecretMemory.PATH)) {
            return SharedMemoryFile.secret(size);
        }
        if (path.startsWith(MEMFD)) {
            String name = path.substring(MEMFD.length());
            if (name.endsWith(DELETED)) {
                name = name.substring(0, name.length() - DELETED.length());
            }
            return SharedMemoryFile.memfd(name, size, memfdFlags | (hugePage > 0 ? SharedMemoryFile.hugetlbFlags(hugePage) : 0));
        }
        return SharedMemoryFile.anonymous(size);
    }

    /** The bytes of a memfd that no mapping carried, from its fd records (of huge pages: hugetlbfs has no write). */
    private static void write(SharedMemoryFile f, List<MemfdHandler.Extent> extents, long hugePage) {
        if (extents.isEmpty()) {
            return;
        }
        if (hugePage > 0) {
            extents.forEach(e -> f.writeMapped(e.offset(), e.data(), hugePage));
            return;
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(Path.of(f.procPath()),
                StandardOpenOption.WRITE)) {
            for (MemfdHandler.Extent e : extents) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(e.data());
                while (b.hasRemaining()) {
                    ch.write(b, e.offset() + b.position());
                }
            }
        } catch (IOException e) {
            throw new RestoreException("cannot write the contents of a memfd: " + e.getMessage());
        }
    }

    /**
     * Seals the memfds that were sealed, once every task has mapped and opened them and every page
     * is written (a seal may forbid writing, growing or shrinking).
     */
    public synchronized void seal() {
        memfdOwners.forEach((ino, m) -> owner(Path.of(objects.get(ino).procPath()), m.file().mode(), m.uid(), m.gid(),
                "the restored memfd " + m.name() + " (inode " + ino + " in the image)"));
        memfdOwners.clear();
        seals.forEach(this::addSeals);
        seals.clear();
    }

    /**
     * Seals the memfds sealed against writing (F_SEAL_WRITE, F_SEAL_FUTURE_WRITE) with all their seals, once every
     * task's memory is written and protected (F_SEAL_WRITE fails while an area may write) and before the FILES
     * stage: the areas mapped after such a seal are then mapped again (SharedMemory#mapSealed). Once: the first
     * task to come seals them.
     */
    public synchronized void sealAgainstWriting() {
        seals.entrySet().removeIf(e -> {
            if ((e.getValue() & Fcntl.F_SEALS_AGAINST_WRITING) == 0) {
                return false;
            }
            addSeals(e.getKey(), e.getValue());
            return true;
        });
    }

    private void addSeals(long ino, int s) {
        SharedMemoryFile f = objects.get(ino);
        if ((s & Fcntl.F_SEAL_EXEC) != 0 && (s & Fcntl.F_SEAL_WRITE) == 0) {
            // the kernel makes F_SEAL_EXEC on a memfd with an exec bit (memfd_create's 0777) F_SEAL_WRITE too, refused
            // while an area may write: without F_SEAL_WRITE it had none (MFD_NOEXEC_SEAL's 0666: Firefox's IPC memory,
            // whose F_SEAL_FUTURE_WRITE left its writable areas on). Its owner and mode are given again after (seal)
            noExecBits(ino, f);
        }
        try {
            dev.cryo.kernel.Sys.call(() -> "fcntl(memfd " + f.procPath() + ", F_ADD_SEALS, 0x"
                    + Integer.toHexString(s) + ")", dev.cryo.kernel.SyscallNr.FCNTL, f.fd().value(), F_ADD_SEALS, s, 0);
        } catch (RuntimeException e) {
            throw new RestoreException("cannot seal the restored memfd (inode " + ino + " in the image) again: "
                    + e.getMessage());
        }
    }

    private static void noExecBits(long ino, SharedMemoryFile f) {
        Path p = Path.of(f.procPath());
        try {
            Files.setAttribute(p, "unix:mode", (Integer) Files.getAttribute(p, "unix:mode") & 07666);
        } catch (IOException | UnsupportedOperationException e) {
            throw new RestoreException("cannot take the exec bits off the restored memfd (inode " + ino + " in the image)"
                    + " before sealing it against exec: " + e.getMessage());
        }
    }

    private static String key(FileRef f) {
        return f.dev() + ":" + f.ino();
    }

    /**
     * Recreates a deleted file at its own path, so the restored tasks' maps and fd links read
     * "PATH (deleted)" as before, opens it (O_PATH: no open or close event for a watch) and unlinks it
     * again. When another file took the path since (a file replaced after it was opened), the two
     * swap names for that instant and that file is put back over the ghost, which unlinks the ghost:
     * the path holds the same inode again, and that file's other holders still read its path. When its directory is gone too (a program's
     * temporary directory: knotd's LMDB config database), the missing directories are made for that
     * instant and removed again, so the path still reads as it did. When the path cannot be taken (a
     * directory stands there, the directories cannot be made), the ghost is made beside it or in the
     * temporary directory.
     */
    private String recreate(GhostFile g) {
        return recreate(g, made -> { });
    }

    /**
     * {@code whileNamed}: what is done with cryo's fd of the file made again before its name goes. On a mount of the
     * tree's own namespace made read-only (zdtm's ghost_on_rofs: a bind remounted read-only after the file was
     * opened), the mount is writable for that instant: the restore failed with EROFS after the killing dump.
     */
    private String recreate(GhostFile g, java.util.function.Consumer<dev.cryo.kernel.Fd> whileNamed) {
        Path dir = Path.of(g.file().path()).getParent();
        while (g.mountOf() != 0 && dir != null && !Files.isDirectory(dir)) {
            dir = dir.getParent();
        }
        if (g.mountOf() == 0 || dir == null) {
            return recreateHere(g, whileNamed);
        }
        try (dev.cryo.kernel.ReadOnlyMount writable = dev.cryo.kernel.ReadOnlyMount.writable(dir.toString())) {
            return recreateHere(g, whileNamed);
        }
    }

    private String recreateHere(GhostFile g, java.util.function.Consumer<dev.cryo.kernel.Fd> whileNamed) {
        Path original = Path.of(g.file().path());
        if (!g.linkedAt().isEmpty() && g.mountOf() != 0) {
            return linkedThere(g, whileNamed);
        }
        if (!g.linkedAt().isEmpty()) {
            return relink(g, original, whileNamed);
        }
        if (madeWithTmpfile(g.file()) && original.getParent() != null && Files.isDirectory(original.getParent())) {
            try {
                SharedMemoryFile f = SharedMemoryFile.tmpfile(original.getParent().toString(),
                        g.dense() && g.hugePageBytes() == 0 ? g.contents() : new byte[0], g.uid(), g.gid(),
                        g.file().mode() & 07777);
                tmpfiles.add(f);
                if (g.hugePageBytes() > 0) {
                    HugetlbfsGhost.fill(f.fd(), g, g.file().path());
                } else if (!g.dense()) { // through the fd: in a container's mount namespace, /proc shows no cryo
                    writeExtents(g, f);
                }
                return f.procPath();
            } catch (RuntimeException e) {
                throw new RestoreException("cannot make the O_TMPFILE file " + g.file().path() + " again: "
                        + e.getMessage());
            }
        }
        List<Path> madeDirs = makeMissingDirs(original.getParent());
        Path dir = original.getParent() != null && Files.isDirectory(original.getParent()) ? original.getParent()
                : Path.of(System.getProperty("java.io.tmpdir"));
        Path temp = dir.resolve(".cryo-ghost-" + g.file().ino() + "-" + System.nanoTime());
        write(g, temp);
        Path at = temp;
        Path keep = null;
        try {
            if (dir.equals(original.getParent())) {
                if (Files.exists(original, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    if (!Files.isRegularFile(original, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        throw new IOException("not a regular file"); // stays beside it
                    }
                    // swapped, not renamed over: that file is not unlinked under its holders outside the
                    // tree (their fds and maps would read "PATH (deleted)" for good); it moves back below
                    dev.cryo.kernel.Sys.exchange(temp.toString(), original.toString());
                    keep = temp;
                } else {
                    asOwnerWhereNeeded(dir, () -> Files.move(temp, original, java.nio.file.StandardCopyOption.ATOMIC_MOVE));
                }
                at = original;
            }
        } catch (IOException | UnsupportedOperationException | dev.cryo.kernel.KernelException e) {
            Leftovers.delete(keep); // the path cannot be taken: beside it then
            keep = null;
        }
        try {
            dev.cryo.kernel.Fd fd = dev.cryo.kernel.Sys.open(at.toString(), Fcntl.O_PATH);
            ghostFds.add(fd);
            whileNamed.accept(fd);
            return "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd.value();
        } catch (dev.cryo.kernel.KernelException e) {
            throw new RestoreException("cannot open the recreated deleted file " + at + ": " + e.getMessage());
        } finally {
            try {
                if (keep != null) {
                    Files.move(keep, original, java.nio.file.StandardCopyOption.ATOMIC_MOVE); // unlinks the ghost too
                } else {
                    Files.deleteIfExists(at);
                }
            } catch (IOException e) {
                Leftovers.delete(at);
            }
            for (Path d : madeDirs) { // deepest first
                Leftovers.delete(d);
            }
        }
    }

    /** {@code p} and those above it that do not exist, deepest first. */
    private static List<Path> missing(Path p) {
        List<Path> missing = new java.util.ArrayList<>();
        for (Path d = p; d != null && !Files.exists(d, java.nio.file.LinkOption.NOFOLLOW_LINKS); d = d.getParent()) {
            missing.add(d);
        }
        return missing;
    }

    /** Makes the missing directories above a deleted file, for an instant; returns them deepest first. */
    private static List<Path> makeMissingDirs(Path dir) {
        List<Path> made = missing(dir);
        for (int i = made.size() - 1; i >= 0; i--) {
            try {
                Files.createDirectory(made.get(i), PrivateModes.DIR_ATTRIBUTE);
            } catch (IOException e) {
                List<Path> done = List.copyOf(made.subList(i + 1, made.size()));
                done.forEach(Leftovers::delete); // cannot: the ghost goes to the temporary directory
                return List.of();
            }
        }
        return made;
    }

    /**
     * A deleted name whose file is still linked as {@link GhostFile#linkedAt()}: that file (checked
     * by device and inode) is linked to the deleted name (its missing directories made for that
     * instant, as for a ghost; when another file has the name, beside it, then swapped with it for that
     * instant; beside it still when a link of this very file has it),
     * opened there and unlinked again at once, so the tasks map that very file and their maps read
     * "PATH (deleted)" as before.
     */
    private String relink(GhostFile g, Path original, java.util.function.Consumer<dev.cryo.kernel.Fd> whileNamed) {
        Path live = Path.of(g.linkedAt());
        if (!Files.exists(live, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new RestoreException(live + ", where the deleted file " + original + " was still linked, is gone");
        }
        if (!sameFile(live, g.file())) {
            throw new RestoreException(live + ", where the deleted file " + original + " was still linked, is another"
                    + " file now");
        }
        List<Path> madeDirs = makeMissingDirs(original.getParent()); // gone with the name (zdtm's unlink_regular00)
        Path at = Files.exists(original, java.nio.file.LinkOption.NOFOLLOW_LINKS) ? original.resolveSibling(
                ".cryo-link-" + g.file().ino() + "-" + System.nanoTime()) : original;
        if (!Files.isDirectory(at.getParent())) { // the directories cannot be made: beside the live name then
            at = live.resolveSibling(".cryo-link-" + g.file().ino() + "-" + System.nanoTime());
        }
        try {
            link(live, at);
        } catch (IOException | RuntimeException e) {
            madeDirs.forEach(Leftovers::delete);
            throw new RestoreException("cannot link " + live + " as " + at + " again: " + e);
        }
        // another file has the name: it swaps names with the link for that instant and takes its name back
        // over it, never unlinked (one more link of this very file has it: swapping links of one file does nothing)
        boolean swapped = false;
        if (!at.equals(original) && Files.exists(original, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && !Files.isDirectory(original, java.nio.file.LinkOption.NOFOLLOW_LINKS) && !sameFile(original, g.file())) {
            try {
                dev.cryo.kernel.Sys.exchange(at.toString(), original.toString());
                swapped = true;
            } catch (dev.cryo.kernel.KernelException e) {
                // stays beside it, under the other name
            }
        }
        Path opened = swapped ? original : at;
        try {
            dev.cryo.kernel.Fd fd = dev.cryo.kernel.Sys.open(opened.toString(), Fcntl.O_PATH);
            ghostFds.add(fd);
            whileNamed.accept(fd);
            return "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd.value();
        } catch (dev.cryo.kernel.KernelException e) {
            throw new RestoreException("cannot open " + opened + ": " + e.getMessage());
        } finally {
            try {
                if (swapped) {
                    Files.move(at, original, java.nio.file.StandardCopyOption.ATOMIC_MOVE); // unlinks the link too
                } else {
                    Leftovers.delete(at);
                }
            } catch (IOException e) {
                Leftovers.delete(at);
            }
            madeDirs.forEach(Leftovers::delete); // deepest first
        }
    }

    /**
     * A deleted name whose file is still linked as {@link GhostFile#linkedAt()} in a mount namespace of the tree
     * (a tmpfs of it, made again with that file): that file, held by cryo while the fds' own names are linked to
     * it ({@link GhostViews}), each through its own mount. Its bytes stand for its identity: the tmpfs is another.
     */
    private String linkedThere(GhostFile g, java.util.function.Consumer<dev.cryo.kernel.Fd> whileNamed) {
        Path live = Path.of(g.linkedAt());
        if (!sameShape(live, g.file())) {
            throw new RestoreException(live + ", where the deleted file " + g.file().path() + " was still linked (in"
                    + " the mount namespace of pid " + g.mountOf() + "), is gone or another file now");
        }
        dev.cryo.kernel.Fd fd = dev.cryo.kernel.Sys.open(live.toString(), Fcntl.O_PATH | Fcntl.O_NOFOLLOW);
        ghostFds.add(fd);
        whileNamed.accept(fd);
        return "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd.value();
    }

    /**
     * Links {@code live} as {@code at}; across two mounts of its file system (a bind of another directory: EXDEV)
     * through the mount of {@code at}'s directory, the file opened there by its handle.
     */
    private static void link(Path live, Path at) throws IOException {
        try {
            Files.createLink(at, live);
        } catch (java.nio.file.FileSystemException e) {
            if (e.getReason() == null || !e.getReason().contains("cross-device")) {
                throw e;
            }
            try (dev.cryo.kernel.Fd file = dev.cryo.kernel.Sys.open(live.toString(), Fcntl.O_PATH | Fcntl.O_NOFOLLOW);
                 dev.cryo.kernel.Fd dir = dev.cryo.kernel.Sys.open(at.getParent().toString(), Fcntl.O_RDONLY | Fcntl.O_DIRECTORY)) {
                dev.cryo.kernel.FileHandles.Handle h = dev.cryo.kernel.FileHandles.of(file);
                try (dev.cryo.kernel.Fd there = dev.cryo.kernel.FileHandles.open(dir, h.type(), h.bytes())) {
                    dev.cryo.kernel.Sys.linkAt(there, dir, at.getFileName().toString());
                }
            }
        }
    }

    /** Whether {@code p} is a regular file of {@code f}'s size and mode (a file made again has its bytes, not its inode). */
    private static boolean sameShape(Path p, FileRef f) {
        try {
            Map<String, Object> a = Files.readAttributes(p, "unix:mode,size", java.nio.file.LinkOption.NOFOLLOW_LINKS);
            return (Integer) a.get("mode") == f.mode() && (Long) a.get("size") == f.size();
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Whether {@code p} is file {@code f} (its device and inode). */
    private static boolean sameFile(Path p, FileRef f) {
        try {
            return (Long) Files.getAttribute(p, "unix:ino", java.nio.file.LinkOption.NOFOLLOW_LINKS) == f.ino()
                    && (Long) Files.getAttribute(p, "unix:dev", java.nio.file.LinkOption.NOFOLLOW_LINKS) == f.dev();
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Whether a deleted file never had a name: the kernel calls a file made with O_TMPFILE
     * "DIR/#INO". It is made that way again (not at a path, then unlinked), so linkat can still
     * give it a name, as the program may mean to.
     */
    private static boolean madeWithTmpfile(FileRef f) {
        return Path.of(f.path()).getFileName() != null
                && Path.of(f.path()).getFileName().toString().equals("#" + f.ino());
    }

    /** Ghosts made with O_TMPFILE, held here until every task opened or mapped them. */
    private final List<SharedMemoryFile> tmpfiles = new java.util.ArrayList<>();


    /** The ghost's data extents at their offsets (its contents hold them one after the other), then its size. */
    private static void writeExtents(GhostFile g, java.nio.channels.FileChannel ch, Path p) throws IOException {
        GhostPieces.eachExtent(g, (at, bytes, from, len) -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes, from, len);
            for (long o = at; b.hasRemaining(); ) {
                o += ch.write(b, o);
            }
        });
        try (java.io.RandomAccessFile size = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            size.setLength(g.file().size()); // a tail hole
        }
    }

    /** The same through cryo's fd of the file. */
    private static void writeExtents(GhostFile g, SharedMemoryFile f) {
        try {
            GhostPieces.eachExtent(g, (at, bytes, from, len) -> f.write(at, bytes, from, len, g.file().path()));
        } catch (IOException e) { // reading its pieces from the image
            throw new RestoreException("cannot read the contents of the deleted file " + g.file().path() + " from the"
                    + " image: " + e.getMessage());
        }
        f.truncate(g.file().size(), g.file().path()); // a tail hole
    }

    private static void write(GhostFile g, Path p) {
        try {
            asOwnerWhereNeeded(p.getParent(), () -> create(g, p));
        } catch (IOException e) {
            throw new RestoreException("cannot recreate the deleted file " + g.file().path() + " as " + p + ": "
                    + e.getMessage());
        }
        owner(p, g.file().mode(), g.uid(), g.gid(), "the recreated file " + p);
        try { // last: writing the contents set it to now
            Files.setLastModifiedTime(p, java.nio.file.attribute.FileTime.from(
                    java.time.Instant.EPOCH.plusNanos(g.file().mtimeNanos())));
        } catch (IOException e) {
            throw new RestoreException("cannot give the recreated file " + p + " its mtime: " + e.getMessage());
        }
    }

    /** The reason Java gives for EOVERFLOW. */
    private static final String EOVERFLOW = dev.cryo.kernel.Errno.text(dev.cryo.kernel.Errno.EOVERFLOW);

    /**
     * {@code work} (a create or a rename into directory {@code dir}), and again as the owner of {@code dir} where its
     * file system belongs to a user namespace that names no host root, cryo's ids (EOVERFLOW: zdtm's uns flavor,
     * ghost_on_rofs); the file's own owner is set after, as for any.
     */
    private static void asOwnerWhereNeeded(Path dir, dev.cryo.engine.namespaces.UserNamespaceRestore.FileWork work)
            throws IOException {
        try {
            work.run();
        } catch (java.nio.file.FileSystemException e) {
            if (!EOVERFLOW.equals(e.getReason())) {
                throw e;
            }
            int uid = (Integer) Files.getAttribute(dir, "unix:uid"), gid = (Integer) Files.getAttribute(dir, "unix:gid");
            try {
                dev.cryo.engine.namespaces.UserNamespaceRestore.withFsIds(uid, gid, work);
            } catch (IOException x) {
                throw new IOException(e.getFile() + ": " + EOVERFLOW + " as cryo's uid 0, and as its directory's owner"
                        + " (uid " + uid + ", gid " + gid + "): " + x, x);
            }
        }
    }

    private static void create(GhostFile g, Path p) throws IOException {
        if (g.hugePageBytes() > 0) {
            HugetlbfsGhost.create(g, p);
        } else if (g.dense()) {
            Files.write(p, g.contents(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } else { // only the data extents are written: what lies between stays a hole
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writeExtents(g, ch, p);
            }
        }
    }

    /** Gives {@code p} its dumped owner, then its mode (chown clears the set-id bits). */
    private static void owner(Path p, int mode, int uid, int gid, String what) {
        try {
            Files.setAttribute(p, "unix:uid", uid);
            Files.setAttribute(p, "unix:gid", gid);
            Files.setAttribute(p, "unix:mode", mode & 07777);
        } catch (IOException | UnsupportedOperationException e) {
            throw new RestoreException("cannot give " + what + " its owner " + uid + ":" + gid + " and mode "
                    + Integer.toOctalString(mode & 07777) + ": " + e.getMessage());
        }
    }

    /**
     * Whether a dumped cwd names a directory that was removed: the kernel's " (deleted)" suffix on
     * a path that is not a directory of that very name.
     */
    public static boolean isDeletedDirectory(String cwd) {
        return cwd.endsWith(DELETED) && !Files.isDirectory(Path.of(cwd));
    }

    /**
     * Where task {@code pid} enters (or opens) the removed directory dumped as {@code cwd}, made
     * again on the first ask: an empty directory at its path (its missing parents too), or beside it
     * when something else stands there now, like a ghost file; close removes it, so the task's cwd
     * is a deleted directory again. A task in a mount namespace of its own (a container's pivoted
     * root) names it in its own view, so it is made there; cryo keeps an O_PATH fd of the directory
     * above, to remove it whatever becomes of that namespace.
     */
    public synchronized String deletedDirectory(String cwd, int pid) {
        if (!isDeletedDirectory(cwd)) {
            return null;
        }
        boolean own = dev.cryo.engine.files.RegularFileHandler.inOtherMountNamespace(pid);
        String key = (own ? dev.cryo.kernel.Namespaces.link(Integer.toString(pid), "mnt") : "") + cwd;
        String made = deletedDirs.get(key);
        if (made == null) {
            Path p = Path.of(cwd.substring(0, cwd.length() - DELETED.length()));
            int[] ids = own ? stubIds(pid) : null; // read here: the thread below sees the task's /proc
            made = own ? dev.cryo.kernel.Namespaces.seenBy(dev.cryo.kernel.Pid.of(pid), () -> recreateDirectory(p, true, ids))
                    : recreateDirectory(p, false, null);
            deletedDirs.put(key, made);
        }
        return made;
    }

    /** The ids the stub of task {@code pid} acts with now (its /proc directory's owner). */
    private static int[] stubIds(int pid) {
        try {
            Path proc = Path.of("/proc/" + pid);
            return new int[]{(Integer) Files.getAttribute(proc, "unix:uid"), (Integer) Files.getAttribute(proc, "unix:gid")};
        } catch (IOException e) {
            throw new RestoreException("cannot read the ids of pid " + pid + ": " + e.getMessage());
        }
    }

    private String recreateDirectory(Path p, boolean keepParent, int[] owner) {
        try {
            if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                p = p.resolveSibling(".cryo-cwd-" + System.nanoTime());
            }
            List<Path> missing = missing(p);
            java.util.Collections.reverse(missing); // made from the top down
            Path top = missing.get(0).getParent();
            String base = top.toString();
            if (keepParent) { // this thread's view ends with it: cryo's fd of the directory above names them all
                dev.cryo.kernel.Fd fd = dev.cryo.kernel.Sys.open(base, dev.cryo.kernel.Fcntl.O_PATH
                        | dev.cryo.kernel.Fcntl.O_DIRECTORY | dev.cryo.kernel.Fcntl.O_CLOEXEC);
                deletedDirParents.add(fd);
                base = "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd.value();
            }
            for (Path q : missing) {
                Files.createDirectory(q);
                madeDirs.add(0, Path.of(base, top.relativize(q).toString()));
                if (owner != null) { // the stub is root of a user namespace, which may not map cryo's root
                    Files.setAttribute(q, "unix:uid", owner[0]);
                    Files.setAttribute(q, "unix:gid", owner[1]);
                }
            }
            Integer mode = deletedDirModes.get(p.toString() + DELETED);
            if (mode != null) {
                Files.setAttribute(p, "unix:mode", mode);
            }
            return p.toString();
        } catch (IOException e) {
            throw new RestoreException("cannot make the removed directory " + p + " again: " + e);
        }
    }

    /**
     * Where a task opens or maps a deleted file of the image: cryo's fd of the recreated file, which
     * reopens that very inode (its path reads "PATH (deleted)"), until the restore closes the hub.
     */
    public synchronized String ghostPath(FileRef file) {
        GhostFile g = later.get(key(file));
        if (g != null) {
            makeWithViews(g);
            later.remove(key(file));
        }
        String p = ghosts.get(key(file));
        if (p == null) {
            throw new IllegalStateException("deleted file " + file.path() + " (inode " + file.ino()
                    + ") is not in the image");
        }
        return p;
    }

    /**
     * Where an fd that held deleted file {@code file} through its own path, in the mount namespace of task
     * {@code mountOf}, opens it: through that mount and path when it is not where the file was made again.
     */
    public synchronized String ghostPath(FileRef file, int mountOf) {
        String made = ghostPath(file);
        String own = viewPaths.getOrDefault(key(file), Map.of()).get(new GhostViews.View(mountOf, file.path()));
        return own != null ? own : made;
    }

    /**
     * Makes {@code g} again in the mount namespace its path was read in (its path there, on that namespace's
     * restored mount), and while it still has its name, at its other views ({@link GhostViews}).
     */
    private void makeWithViews(GhostFile ghost) {
        String key = key(ghost.file());
        Map<GhostViews.View, dev.cryo.kernel.Fd> dirs = GhostViews.openDirs(views.getOrDefault(key, java.util.Set.of()),
                ghost.mountOf(), ghost.file().path());
        // the image its contents are read from, opened in cryo's view: made in a task's, its path names nothing there
        try (GhostFile.Pieces.Opened pieces = ghost.pieces() == null ? null : ghost.pieces().open()) {
            GhostFile g = pieces == null ? ghost : ghost.withPieces(pieces);
            java.util.concurrent.Callable<String> make = () -> recreate(g, made -> {
                Map<GhostViews.View, String> at = new LinkedHashMap<>();
                GhostViews.link(made, dirs, g.mountOf(), g.file().path()).forEach((v, fd) -> {
                    ghostFds.add(fd);
                    at.put(v, "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd.value());
                });
                viewPaths.put(key, at);
            });
            ghosts.put(key, g.mountOf() == 0 ? make.call()
                    : dev.cryo.kernel.Namespaces.seenBy(dev.cryo.kernel.Pid.of(g.mountOf()), make));
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new RestoreException("cannot make the deleted file " + ghost.file().path() + " again: " + e, e);
        } finally {
            dirs.values().forEach(dev.cryo.kernel.Fd::close);
        }
    }

    /**
     * cryo's fd of memfd {@code ino}, once: the one fd of the image that gets the memfd's own file.
     * memfd_create's file does not count as a writer of the inode; a reopen through /proc does, and
     * execveat of a memfd with a writer open fails with ETXTBSY (zdtm memfd04).
     */
    public int claimMemfd(long ino) {
        SharedMemoryFile f = objects.get(ino);
        return f != null && memfdInos.contains(ino) && memfdsGiven.add(ino) ? f.fd().value() : -1;
    }

    /** cryo's fd of memfd {@code ino} (its own file, for mappings), or -1 when {@code ino} is no memfd of this restore. */
    public int memfdFd(long ino) {
        SharedMemoryFile f = objects.get(ino);
        return f != null && memfdNames.contains(ino) ? f.fd().value() : -1;
    }

    /** Whether shared memory object {@code ino} (a memfd, a shared anonymous area) is made by this restore. */
    public boolean has(long ino) {
        return objects.containsKey(ino);
    }

    public String path(long ino) {
        SharedMemoryFile f = objects.get(ino);
        if (f == null) {
            throw new IllegalStateException("shared memory " + ino + " was not prepared");
        }
        return f.procPath();
    }

    /** {@code path} was made by this restore and stays if it succeeds; a failed one removes it. */
    public void madeForGood(Path path) {
        madeForGood.add(0, path);
    }

    /** A failed restore leaves nothing behind: what it made for good goes, latest first. */
    public void removeMadeForGood() {
        synchronized (madeForGood) {
            for (Path p : madeForGood) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // a directory someone else filled meanwhile stays
                }
            }
            madeForGood.clear();
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            // every task has attached its segments by now (or the restore is dropped): removed as at dump
            for (int id : removedSysv.values()) {
                try {
                    dev.cryo.kernel.SysvIpc.removeSegment(id);
                } catch (RuntimeException ignored) {
                    // gone already
                }
            }
            removedSysv.clear();
            removedInNamespace.forEach((seg, pid) -> {
                try {
                    dev.cryo.kernel.Namespaces.inside(dev.cryo.kernel.Pid.of(pid), "ipc", () -> {
                        dev.cryo.kernel.SysvIpc.removeSegment(Math.toIntExact(seg.get(1)));
                        return null;
                    });
                } catch (RuntimeException ignored) {
                    // a failed restore's: the namespace goes with its killed tasks
                }
            });
            removedInNamespace.clear();
        }
        objects.values().forEach(SharedMemoryFile::close);
        objects.clear();
        tmpfiles.forEach(SharedMemoryFile::close);
        tmpfiles.clear();
        ghostFds.forEach(dev.cryo.kernel.Fd::close); // unlinked already: the tasks' maps and fds hold them
        ghostFds.clear();
        ghosts.clear();
        viewPaths.clear();
        for (Path d : madeDirs) {
            try {
                Files.deleteIfExists(d);
            } catch (IOException ignored) {
                // best effort, as for ghosts
            }
        }
        madeDirs.clear();
        deletedDirParents.forEach(dev.cryo.kernel.Fd::close);
        deletedDirParents.clear();
        deletedDirs.clear();
    }
}
