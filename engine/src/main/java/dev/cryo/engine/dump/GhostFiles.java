package dev.cryo.engine.dump;

import dev.cryo.config.DumpSettings;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.GhostData;
import dev.cryo.engine.model.GhostFile;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.FileExtents;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The deleted files of one dump (like CRIU's ghost files): each is carried once, with its whole
 * contents, by the first task that maps or holds it, up to the ghost limit. Thread-safe: the task
 * dumpers run in parallel.
 */
public final class GhostFiles {
    private static final int S_IFMT = 0170000, S_IFREG = 0100000;

    private final long limit;
    private final MountTables mounts;
    private final long heldLimit;
    private long held;
    private final Set<String> carried = new HashSet<>();
    private final Map<Integer, List<GhostFile>> byTask = new HashMap<>();
    /** The contents of big ghosts, by dev:ino, until their task's record is written (no {@link #sink}). */
    private final Map<String, List<GhostData>> pieces = new HashMap<>();
    /** Where the pieces of big ghosts go as they are read (the dump's image writer), or null: held. */
    private volatile Sink sink;

    /** Takes a piece of a big ghost's contents into the image; may wait while the image writer catches up. */
    public interface Sink {
        void piece(GhostData d);
    }

    /**
     * Sends the pieces of big ghosts to {@code to} as they are read, one after the other, instead of holding them
     * until their task's record is written: neither end holds a file whole (see {@link GhostData}).
     */
    public void streamTo(Sink to) {
        sink = to;
    }

    /** {@code limit}: the largest deleted file carried, in bytes (cryo.dump.ghost-limit). */
    public GhostFiles(long limit) {
        this(limit, new MountTables(List.of()));
    }

    /** {@code mounts}: the dump's mount tables, which tell in whose mount namespace each file is made again. */
    public GhostFiles(long limit, MountTables mounts) {
        this(limit, mounts, Runtime.getRuntime().maxMemory() / 4);
    }

    /**
     * {@code held}: the most data of the dump's deleted files held in memory until their task's record is written
     * together (those in records, and all when no {@link #streamTo sink} takes the pieces of big ones), so a quarter
     * of the heap, not an OutOfMemoryError.
     */
    GhostFiles(long limit, MountTables mounts, long held) {
        this.limit = limit;
        this.mounts = mounts;
        this.heldLimit = held;
    }

    /**
     * The most of a memfd's contents outside mappings, or of a file of a detached tmpfs, carried: those travel
     * inside their fd's record, one chunk; a deleted file's travel apart ({@link GhostData}), up to the ceiling.
     */
    public static final long IN_RECORD = 16L << 20;

    /**
     * What a user can do about {@code bytes} of data over the limit: the {@code --ghost-limit} that carries
     * them (whole MiB), or, past the ceiling, that no setting does.
     */
    public static String whatToDo(long bytes) {
        return whatToDo(bytes, DumpSettings.MAX_GHOST_LIMIT);
    }

    /** The same where cryo carries at most {@code ceiling} bytes of one ({@link #IN_RECORD}). */
    public static String whatToDo(long bytes, long ceiling) {
        long mib = (bytes + (1 << 20) - 1) >> 20;
        if (bytes > ceiling) {
            return "cryo carries at most " + (ceiling >> 20) + " MiB of one"
                    + (ceiling == DumpSettings.MAX_GHOST_LIMIT ? " (cryo.dump.ghost-limit's ceiling)" : " (it travels in its"
                    + " fd's record)") + "; the process must close or truncate it first";
        }
        return "dump with --ghost-limit " + mib + "M (or set cryo.dump.ghost-limit) to carry it";
    }

    /** The most carried inside an fd's record: the limit, at most {@link #IN_RECORD}. */
    public long limitInRecord() {
        return Math.min(limit, IN_RECORD);
    }

    /**
     * The most carried inside the records of one task's fds together: its record must fit one chunk of the image
     * (64 MiB), with room for the rest of it. Past the chunk the dump failed while writing the image, naming no task.
     */
    public static final long TASK_IN_RECORD = 56L << 20;
    /** Bytes each fd ({@code where}) of a task carries inside its record, by pid. */
    private final Map<Integer, Map<String, Long>> inRecord = new HashMap<>();

    /**
     * Claims {@code bytes} of {@code what} (a memfd's contents outside mappings, a file of a detached tmpfs) to travel
     * inside the record of {@code pid}'s fd {@code where}, or refuses them: more than {@link #limitInRecord} of one, or
     * more than {@link #TASK_IN_RECORD} with what the task's other fds carry so. A claim again for the same fd (the
     * dump read the fds once more) replaces the first.
     */
    public synchronized void claimInRecord(Pid pid, String where, String what, long bytes) {
        if (bytes > limitInRecord()) {
            throw new DumpException(where + ": " + what + " holds " + bytes + " bytes, more than the ghost limit of "
                    + limitInRecord() + " bytes: " + whatToDo(bytes, IN_RECORD));
        }
        Map<String, Long> task = inRecord.computeIfAbsent(pid.value(), k -> new HashMap<>());
        long others = task.entrySet().stream().filter(e -> !e.getKey().equals(where)).mapToLong(Map.Entry::getValue).sum();
        if (others + bytes > TASK_IN_RECORD) {
            throw new DumpException(where + ": " + what + " holds " + bytes + " bytes, and the task's other fds carry "
                    + others + " bytes the same way (memfd contents outside mappings, files of detached tmpfs mounts):"
                    + " more than the " + (TASK_IN_RECORD >> 20) + " MiB cryo carries in one task's record; the process"
                    + " must close or truncate some of them first");
        }
        task.put(where, bytes);
    }

    /** The largest deleted file (or memfd contents outside mappings) carried, in bytes. */
    public long limit() {
        return limit;
    }

    /**
     * The identity of the deleted file behind {@code source} (a /proc/PID/map_files or /proc/PID/fd
     * link), recorded under {@code path}; its contents go with {@code pid}'s image unless another
     * task carries it already. {@code where} names the mapping or fd in messages.
     */
    public FileRef carry(Pid pid, String where, String path, Path source) {
        FileRef file;
        try {
            file = FileIdentity.of(path, source);
        } catch (IOException e) {
            throw new DumpException(where + ": cannot stat the deleted file " + path + ": " + e.getMessage(), e);
        }
        if ((file.mode() & S_IFMT) != S_IFREG) {
            throw new DumpException(where + ": " + path + " was deleted and is not a regular file: not supported yet");
        }
        long[] data;
        long hugePage;
        try (Fd fd = Sys.open(source.toString(), Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
            hugePage = FileExtents.hugePageBytes(fd);
            data = dataExtents(fd, file.size(), hugePage);
        } catch (KernelException e) {
            throw new DumpException(where + ": cannot read the deleted file " + path + ": " + e.getMessage(), e);
        }
        long bytes = 0;
        for (int i = 0; i + 1 < data.length; i += 2) {
            bytes += data[i + 1] - data[i];
        }
        if (bytes > limit) { // its data, not its size: a sparse file carries only its data (zdtm ghost_holes_large00)
            throw new DumpException(where + ": " + path + " is a deleted file holding " + bytes + " bytes of data (size "
                    + file.size() + "), more than the ghost limit of " + limit + " bytes: " + whatToDo(bytes));
        }
        int mountOf = mountOf(pid, where, path, source);
        if (!claim(file)) {
            return file;
        }
        boolean apart = bytes > GhostData.PIECE;
        Sink to = apart ? sink : null;
        if (to == null) {
            hold(where, path, bytes);
        }
        int uid, gid;
        List<GhostData> pieces = new ArrayList<>();
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(source,
                java.nio.file.StandardOpenOption.READ)) {
            uid = (Integer) Files.getAttribute(source, "unix:uid");
            gid = (Integer) Files.getAttribute(source, "unix:gid");
            read(ch, data, bytes, file, to != null ? to : pieces::add, where, path);
        } catch (IOException e) {
            throw new DumpException(where + ": cannot read the deleted file " + path + ": " + e.getMessage(), e);
        }
        GhostFile g = new GhostFile(file, apart ? new byte[0] : pieces.get(0).bytes(), uid, gid, data, "", hugePage,
                mountOf, apart);
        synchronized (this) {
            byTask.computeIfAbsent(pid.value(), k -> new ArrayList<>()).add(g);
            if (apart && to == null) {
                this.pieces.put(file.dev() + ":" + file.ino(), pieces);
            }
        }
        return file;
    }

    /** Counts {@code bytes} of data held until their task's record is written; refused past the dump's bound. */
    private synchronized void hold(String where, String path, long bytes) {
        held += bytes;
        if (held > heldLimit) {
            throw new DumpException(where + ": " + path + " is a deleted file holding " + bytes + " bytes of data; with the"
                    + " dump's other deleted files that is " + held + " bytes, more than cryo holds in memory at once (a"
                    + " quarter of its heap, " + (heldLimit >> 20) + " MiB): run cryo with a larger heap (CRYO_JAVA_OPTS=-Xmx...)"
                    + " or have the process close or truncate it first");
        }
    }

    /**
     * The bytes of the data extents {@code data} ({@code bytes} in all), one after the other, in pieces of at most
     * {@link GhostData#PIECE} bytes, each to {@code pieces} as it is full: one piece goes in the task's record, more
     * travel apart ({@link GhostFile#apart()}).
     */
    private static void read(java.nio.channels.FileChannel ch, long[] data, long bytes, FileRef file,
                             Sink pieces, String where, String path) throws IOException {
        long done = 0;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(new byte[(int) Math.min(bytes, GhostData.PIECE)]);
        for (int i = 0; i + 1 < data.length; i += 2) {
            for (long off = data[i]; off < data[i + 1]; ) {
                b.limit((int) Math.min(b.capacity(), b.position() + data[i + 1] - off));
                int n = ch.read(b, off);
                if (n < 0) {
                    throw new DumpException(where + ": the deleted file " + path + " changed size while it was read");
                }
                off += n;
                if (b.position() == b.capacity() && b.capacity() > 0) {
                    pieces.piece(new GhostData(file.dev(), file.ino(), done, b.array()));
                    done += b.capacity();
                    b = java.nio.ByteBuffer.wrap(new byte[(int) Math.min(bytes - done, GhostData.PIECE)]);
                }
            }
        }
        if (done == 0 || done < bytes) {
            pieces.piece(new GhostData(file.dev(), file.ino(), done, b.array())); // an empty file: one empty piece
        }
    }

    /**
     * The contents of {@code g} that travel apart ({@link GhostFile#apart()}), as records to write beside its
     * task's; asked once, when that record is written.
     */
    public synchronized List<GhostData> takePieces(GhostFile g) {
        List<GhostData> mine = pieces.remove(g.file().dev() + ":" + g.file().ino());
        return mine == null ? List.of() : mine;
    }

    /**
     * In whose mount namespace the deleted file behind {@code source} is made again ({@link GhostFile#mountOf}):
     * where the mount it was opened through is. Made where cryo sees its path, a file of a tmpfs that only the
     * tree's namespace mounts came back on the host's file system. Refused when no namespace of the tree nor
     * cryo's has that mount.
     */
    public int mountOf(Pid pid, String where, String path, Path source) {
        long mount;
        try {
            mount = Sys.mountId(source.toString());
        } catch (KernelException e) {
            return 0; // cannot tell: made where cryo sees it, as before
        }
        int whose = mounts.whose(pid.value(), mount);
        if (whose < 0) {
            throw new DumpException(where + ": deleted file " + path + " was opened through mount " + mount
                    + ", which neither a mount namespace of the tree nor cryo's has (unmounted while in use):"
                    + " a restore would make it again on another mount; not supported");
        }
        return whose;
    }

    /**
     * A deleted name whose file is still linked as {@code linkedAt} (in the same directory, or elsewhere as cryo
     * or a mount namespace of the tree sees it): carried as that link, without contents (see
     * {@link GhostFile#linkedAt()}).
     */
    public FileRef carryLinked(Pid pid, String where, String path, Path source, Linked linkedAt) {
        FileRef file;
        int uid, gid;
        try {
            file = FileIdentity.of(path, source);
            uid = (Integer) Files.getAttribute(source, "unix:uid");
            gid = (Integer) Files.getAttribute(source, "unix:gid");
        } catch (IOException e) {
            throw new DumpException(where + ": cannot stat the deleted file " + path + ": " + e.getMessage(), e);
        }
        if (claim(file)) {
            synchronized (this) {
                byTask.computeIfAbsent(pid.value(), k -> new ArrayList<>())
                        .add(new GhostFile(file, new byte[0], uid, gid, new long[0], linkedAt.name(), 0, linkedAt.mountOf()));
            }
        }
        return file;
    }

    /** Another name of a deleted file, as the mount namespace of task {@code mountOf} (0: cryo's) sees it. */
    public record Linked(String name, int mountOf) {}

    /**
     * {@link #otherName(String, Path)}, looked for in the mount namespace of the mount the file was opened
     * through ({@link #mountOf}), then in the tree's other namespaces that mount its file system: a file of a
     * tmpfs only the tree's namespaces mount, still linked under a name its holder's namespace may not show
     * (zdtm's mntns_link_remap: the child holds it through its parent's bind and its own; the parent's namespace
     * still mounts the tmpfs with that name). Null when no namespace names it.
     */
    public Linked otherName(Pid pid, String where, String path, Path source) {
        int whose = mountOf(pid, where, path, source);
        if (whose == 0) {
            String other = otherName(path, source);
            return other == null ? null : new Linked(other, 0);
        }
        try (Fd file = Sys.open(source.toString(), Fcntl.O_PATH);
             Fd fds = Sys.open("/proc/self/fd", Fcntl.O_PATH | Fcntl.O_DIRECTORY)) {
            dev.cryo.kernel.FileHandles.Handle h = dev.cryo.kernel.FileHandles.of(file);
            long device = (Long) Files.getAttribute(source, "unix:dev");
            List<Integer> order = new ArrayList<>(List.of(whose));
            mounts.tree().stream().filter(p -> p != whose).forEach(order::add);
            Set<String> seen = new HashSet<>();
            for (int p : order) {
                String ns = dev.cryo.kernel.Namespaces.link(Integer.toString(p), "mnt");
                if (ns == null || !seen.add(ns) || ns.equals(dev.cryo.kernel.Namespaces.link("self", "mnt"))) {
                    continue;
                }
                String info = dev.cryo.kernel.ExitedLeaders.proc(p) + "/mountinfo";
                List<String> points = dev.cryo.kernel.proc.MountInfo.parse(info, dev.cryo.kernel.proc.ProcFs.text(info))
                        .stream().filter(m -> m.stDev() == device).map(m -> m.point()).toList();
                if (points.isEmpty()) {
                    continue;
                }
                String found = dev.cryo.kernel.Namespaces.seenBy(Pid.of(p), () -> NamespaceLinks.find(path, h, points, fds));
                if (found != null) {
                    return new Linked(found, p);
                }
            }
        } catch (IOException | RuntimeException e) {
            // cannot tell: no other name
        }
        return null;
    }

    /**
     * Another name of the file behind {@code source} in the directory of the deleted {@code path}
     * (same device and inode), or null.
     */
    public static String otherName(String path, Path source) {
        Path dir = Path.of(path).getParent();
        if (dir == null) {
            return null;
        }
        Object device, inode;
        try {
            device = Files.getAttribute(source, "unix:dev");
            inode = Files.getAttribute(source, "unix:ino");
        } catch (IOException | RuntimeException e) {
            return null;
        }
        try (java.util.stream.Stream<Path> entries = Files.list(dir)) {
            String beside = entries.filter(e -> same(e, device, inode)).map(Path::toString).findFirst().orElse(null);
            if (beside != null) {
                return beside;
            }
        } catch (IOException | RuntimeException e) {
            // its directory is gone too (zdtm's unlink_regular00): the name is elsewhere
        }
        return elsewhere(source, device, inode);
    }

    private static boolean same(Path p, Object device, Object inode) {
        try {
            return inode.equals(Files.getAttribute(p, "unix:ino", java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    && device.equals(Files.getAttribute(p, "unix:dev", java.nio.file.LinkOption.NOFOLLOW_LINKS));
        } catch (IOException | RuntimeException gone) {
            return false;
        }
    }

    /**
     * A name of the file anywhere on its mount, as cryo sees it: the file opened again by its handle
     * through that mount, the kernel names it by a linked name it knows; null when it only knows the
     * deleted one, or the mount is not in cryo's view.
     */
    private static String elsewhere(Path source, Object device, Object inode) {
        try {
            dev.cryo.kernel.FileHandles.Handle h = dev.cryo.kernel.FileHandles.of(source.toString());
            String info = Files.readString(Path.of("/proc/self/mountinfo"));
            for (dev.cryo.kernel.proc.MountInfo.Mount m : dev.cryo.kernel.proc.MountInfo.parse("/proc/self/mountinfo", info)) {
                if (m.id() != h.mountId()) {
                    continue;
                }
                try (Fd mount = Sys.open(m.point(), Fcntl.O_RDONLY | Fcntl.O_DIRECTORY | Fcntl.O_CLOEXEC);
                     Fd file = dev.cryo.kernel.FileHandles.open(mount, h.type(), h.bytes())) {
                    String found = Files.readSymbolicLink(Path.of("/proc/self/fd/" + file.value())).toString();
                    return found.startsWith("/") && !found.endsWith(" (deleted)") && same(Path.of(found), device, inode)
                            ? found : null;
                }
            }
        } catch (IOException | RuntimeException e) {
            // no handles on that file system, or the file is gone: the deleted name is all there is
        }
        return null;
    }

    /**
     * The data extents of the file, as {start, end} pairs, read through a fresh open of it ({@code fd}):
     * SEEK_DATA on the task's own fd would move the task's file position. A hugetlbfs file (qemu's
     * {@code -mem-path}, DPDK's {@code --huge-unlink}; {@code hugePage} not 0) has no holes SEEK_DATA
     * would show: its huge pages that are not all zero are its data, the others come back untouched,
     * taking no page.
     */
    private static long[] dataExtents(Fd fd, long size, long hugePage) {
        List<long[]> runs = FileExtents.held(fd, 0, size, hugePage);
        long[] out = new long[runs.size() * 2];
        for (int i = 0; i < runs.size(); i++) {
            out[2 * i] = runs.get(i)[0];
            out[2 * i + 1] = runs.get(i)[1];
        }
        return out;
    }

    private synchronized boolean claim(FileRef f) {
        return carried.add(f.dev() + ":" + f.ino());
    }

    /** Moves what {@code from} carries to {@code to}: files in flight, dumped through cryo's own fds. */
    public synchronized void reassign(Pid from, Pid to) {
        List<GhostFile> moved = byTask.remove(from.value());
        if (moved != null) {
            byTask.computeIfAbsent(to.value(), k -> new ArrayList<>()).addAll(moved);
        }
    }

    /** The deleted files {@code pid} carries; asked once, when its image is put together. */
    public synchronized List<GhostFile> take(Pid pid) {
        List<GhostFile> mine = byTask.remove(pid.value());
        return mine == null ? List.of() : mine;
    }
}
