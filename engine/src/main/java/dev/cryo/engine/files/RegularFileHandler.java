package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.codec.FileRefCodec;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

import static dev.cryo.engine.show.ShowFormat.hex;
import static dev.cryo.engine.show.ShowFormat.octal;

/**
 * Regular files and directories, including O_PATH fds and files of /proc and /sys: reopened by
 * path at restore with their flags and position, after their identity is checked (a directory only
 * has to exist; /proc and /sys files are taken as they are).
 */
public final class RegularFileHandler implements FdHandler<RegularFileHandler.RegularFile> {
    public static final int TAG = 1, RECORD_ID = 111;

    /**
     * A regular file or directory, reopened by path after its identity is checked. {@code
     * hostMount} (version 2): the task, in a mount namespace of its own, holds it through a mount of
     * cryo's (opened before the namespace was made): it comes back through cryo's mount too.
     * {@code deadPid} (version 3): a /proc/PID file of that pid, which had exited (zdtm's
     * remap_dead_pid): reopened through a stand-in at that pid, which then ends; 0 for any other file.
     * {@code mountOf} (version 4): the pid of a task of the tree in another mount namespace, through
     * whose mount the fd holds the file (a child that made its own namespace keeps an fd its parent
     * opened: zdtm's mntns_open); reopened in that namespace. 0: the task's own namespace (or cryo's).
     * {@code outside} (version 5): for a /proc/PID file of a process outside the tree, that process at the dump
     * (its start time, the file's owner); null for any other file, or when the holder has a pid or mount
     * namespace of its own.
     * {@code pressureTrigger} (version 6): the line of the pressure-stall trigger set on a /proc/pressure/* or cgroup
     * *.pressure file ("some 150000 1000000"), written again on the reopened file; null for none.
     * {@code unseenChange} (version 7): a mount table (/proc/PID/mountinfo) or a pollable sysctl (/proc/sys/kernel/
     * hostname) with a change the program had not polled yet, made again after the reopen ({@link UnseenChangeEvents}).
     */
    public record RegularFile(FileRef file, List<FileLocks.Lock> locks, boolean hostMount, int deadPid, int mountOf,
                              OutsideProcess outside, String pressureTrigger, boolean unseenChange) implements FileDesc {
        public RegularFile {
            locks = List.copyOf(locks);
        }

        public RegularFile(FileRef file, List<FileLocks.Lock> locks, boolean hostMount, int deadPid, int mountOf,
                           OutsideProcess outside, String pressureTrigger) {
            this(file, locks, hostMount, deadPid, mountOf, outside, pressureTrigger, false);
        }

        public RegularFile(FileRef file, List<FileLocks.Lock> locks, boolean hostMount, int deadPid, int mountOf,
                           OutsideProcess outside) {
            this(file, locks, hostMount, deadPid, mountOf, outside, null);
        }

        public RegularFile(FileRef file, List<FileLocks.Lock> locks, boolean hostMount, int deadPid, int mountOf) {
            this(file, locks, hostMount, deadPid, mountOf, null);
        }

        public RegularFile(FileRef file, List<FileLocks.Lock> locks, boolean hostMount, int deadPid) {
            this(file, locks, hostMount, deadPid, 0);
        }

        public RegularFile(FileRef file, List<FileLocks.Lock> locks, boolean hostMount) {
            this(file, locks, hostMount, 0);
        }

        public RegularFile(FileRef file, List<FileLocks.Lock> locks) {
            this(file, locks, false);
        }

        public RegularFile(FileRef file) {
            this(file, List.of());
        }
    }

    static final RecordCodec<RegularFile> CODEC = RecordCodec.of(RegularFile.class, RECORD_ID, 7,
            (out, f) -> {
                RecordFields.writeRecord(out, FileRefCodec.INSTANCE, f.file());
                FileLocks.write(out, f.locks());
                out.writeBoolean(f.hostMount());
                out.writeVarInt(f.deadPid(), true);
                out.writeVarInt(f.mountOf(), true);
                OutsideProcess.write(out, f.outside());
                RecordFields.writeNullable(out, f.pressureTrigger(), RecordFields::writeString);
                out.writeBoolean(f.unseenChange());
            },
            (in, version) -> new RegularFile(RecordFields.readRecord(in, FileRefCodec.INSTANCE), FileLocks.read(in),
                    version >= 2 && in.readBoolean(), version >= 3 ? in.readVarInt(true) : 0,
                    version >= 4 ? in.readVarInt(true) : 0, version >= 5 ? OutsideProcess.read(in) : null,
                    version >= 6 ? RecordFields.readNullable(in, i -> RecordFields.readString(i, 64)) : null,
                    version >= 7 && in.readBoolean()));

    private static final String DELETED = " (deleted)";

    /**
     * An fd of a /proc file (a /proc/PID/net entry) whose dentry the kernel dropped since it was opened: /proc/net
     * entries are looked up afresh every time (proc_net_d_revalidate), which unhashes the dentry an open file holds,
     * so its link reads "PATH (deleted)" while PATH still names that very file (netdata's sockstat6 once anything
     * else looked it up). Not a deleted file: reopened by its path, and looked up once more so it reads the same.
     */
    public static boolean relookedUpProcFile(FdProbe fd) {
        String t = fd.target();
        if (!t.startsWith("/proc/") || !t.endsWith(DELETED) || inOtherMountNamespace(fd.pid().value())) {
            return false;
        }
        try {
            FileRef open = FileIdentity.of(t, fd.procPath());
            return !FileIdentity.isDirectory(open) && same(java.nio.file.Path.of(t.substring(0, t.length() - DELETED.length())), open);
        } catch (IOException | RuntimeException gone) {
            return false;
        }
    }

    /** Files of /proc and /sys: reopened by path, never compared (their identity is the kernel's). */
    public static boolean isPseudoFile(String path) {
        return path.startsWith("/proc/") || path.startsWith("/sys/");
    }

    @Override
    public String kind() {
        return "regular file";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<RegularFile> codec() {
        return CODEC;
    }

    @Override
    public boolean reopensByPath(FdProbe fd) {
        return true;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().startsWith("/") && (Files.isRegularFile(fd.procPath()) || Files.isDirectory(fd.procPath()))
                && !SecretMemfdHandler.isSecret(fd);
    }

    @Override
    public RegularFile dump(FdProbe fd, DumpContext ctx) throws IOException {
        String gone = deadProcess(fd.pid().value(), fd.target());
        if (gone != null) { // reopened by path at restore, it would be missing after the dump: a stand-in takes its pid
            String ns = standInUnreachable(fd.pid());
            // its directory itself reads " (deleted)" (zdtm's remap_dead_pid_root): opened on the stand-in too
            if (ns != null || fd.target().endsWith(DELETED) && !Files.isDirectory(fd.procPath())) {
                throw new DumpException(fd.where() + ": " + fd.target() + " is a /proc file of pid " + gone
                        + ", which has exited" + (ns == null ? "" : ", and its holder " + ns)
                        + "; not supported (a restore reopens it through a stand-in cryo makes at that pid)");
            }
        }
        ThreadProcFiles.refuseOtherTasksThread(fd, ctx);
        FileRef file = FileIdentity.of(fd.target(), fd.procPath());
        // a removed directory is made again, empty, and removed once opened (like a removed cwd)
        if (fd.target().endsWith(" (deleted)") && !FileIdentity.isDirectory(file) && !relookedUpProcFile(fd)) {
            throw new DumpException(fd.where() + ": " + fd.target() + " is a deleted file; deleted files are not supported yet");
        }
        boolean hostMount = onHostMount(fd, ctx);
        if (!hostMount) {
            CoveredMount.refuse(fd, ctx);
        }
        return new RegularFile(file, FileLocks.dump(fd, ctx, true), hostMount, gone == null ? 0 : Integer.parseInt(gone),
                hostMount ? 0 : OtherMountNamespace.holder(fd, ctx), OutsideProcess.of(fd, ctx, gone != null),
                PressureTriggers.dump(fd), UnseenChangeEvents.dump(fd, ctx));
    }

    /**
     * Whether a task in a mount namespace other than cryo's holds the fd through a mount of
     * cryo's namespace (mount ids are unique on the host): a file opened before the namespace was
     * made, such as stdio a sandbox's runtime inherited.
     */
    static boolean onHostMount(FdProbe fd, DumpContext ctx) throws IOException {
        return fd.info() != null && inOtherMountNamespace(fd.pid().value()) && ctx.cryosMountIds().contains(fd.info().mntId());
    }

    /**
     * The pid of a dumped cwd or directory that was the /proc/PID directory (or one below it) of a
     * process that had exited: the dump only keeps one so (the kernel's " (deleted)" suffix on a
     * /proc/PID path), for a restore to enter it on a stand-in at that pid. Null for any other path.
     */
    public static String deadProcDir(String path) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^/proc/(\\d+)(/.*?)? \\(deleted\\)$").matcher(path);
        return m.matches() ? m.group(1) : null;
    }

    /**
     * The pid of a /proc/PID/... path whose process is gone, or null; a directory of it (a cwd or
     * an fd) shows with the kernel's " (deleted)" suffix. The path is the one {@code holder} names it
     * by: a container's /proc is its own pid namespace's, looked at through the holder's root.
     */
    public static String deadProcess(int holder, String path) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^/proc/(\\d+)(/.*?)?( \\(deleted\\))?$").matcher(path);
        String seen = inOtherMountNamespace(holder) ? dev.cryo.kernel.ExitedLeaders.proc(holder) + "/root/proc/" : "/proc/";
        return m.matches() && !Files.exists(java.nio.file.Path.of(seen + m.group(1))) ? m.group(1) : null;
    }

    /**
     * Why a stand-in cryo makes at a dead pid would not be the one {@code holder} names in /proc, or
     * null. In a pid namespace of its own (a container's) it is made in there, when the holder's /proc
     * is that namespace's; under another procfs the number would name another namespace's process.
     */
    public static String standInUnreachable(dev.cryo.kernel.Pid holder) {
        String ns = SenderStandIns.outsideCryosPidNamespace(holder);
        return ns == null || SenderStandIns.procOfItsOwn(holder) ? null
                : ns + " and its /proc shows another one's";
    }

    private static final java.util.regex.Pattern PROC_DIRECTORY = java.util.regex.Pattern.compile("^/proc/(\\d+)(/.*)?$");

    /**
     * The pid of a /proc/PID file of a process outside the tree that ran at the dump and has exited since, or 0:
     * netdata's apps.plugin keeps the stat file of every process on the host open, and on a busy host some have
     * ended by the restore. It is opened on a stand-in at that pid, as a file of a process that had exited by the
     * dump is, and reads as the original's would had that process exited while the tree was stopped (ESRCH).
     * Not in a pid or mount namespace of the task's own, where the number is another namespace's.
     */
    static int goneSinceTheDump(String path, RestoreContext ctx) {
        java.util.regex.Matcher m = PROC_DIRECTORY.matcher(path);
        if (!m.matches() || inOtherMountNamespace(ctx.taskPid()) || inOwnPidNamespace(dev.cryo.kernel.Pid.of(ctx.taskPid()))) {
            return 0;
        }
        int pid = Integer.parseInt(m.group(1));
        return !ctx.ofTheTree(pid) && !Files.exists(java.nio.file.Path.of("/proc/" + pid)) ? pid : 0;
    }

    /** The pid of a cwd or root in a /proc/PID directory, not a removed one ("/proc/PID (deleted)"); -1 for any other. */
    public static int procDirectoryPid(String dir) {
        java.util.regex.Matcher m = PROC_DIRECTORY.matcher(dir);
        return m.matches() && !dir.endsWith(" (deleted)") ? Integer.parseInt(m.group(1)) : -1;
    }

    /** Whether task {@code holder} is in a pid namespace other than cryo's (a container's). */
    public static boolean inOwnPidNamespace(dev.cryo.kernel.Pid holder) {
        return SenderStandIns.outsideCryosPidNamespace(holder) != null;
    }

    /**
     * The file is reachable from cryo's mount namespace but not from the task's (another one): its
     * path there names nothing or another file, cryo's names the dumped one. The task's view is
     * looked at from its own root ({@link dev.cryo.kernel.Namespaces#seenBy}): through
     * /proc/PID/root an absolute symbolic link on the way would be resolved from cryo's root.
     */
    static boolean onlyOutside(int pid, FileRef f) {
        if (f.path() == null || !f.path().startsWith("/") || !inOtherMountNamespace(pid)
                || !same(java.nio.file.Path.of(f.path()), f)) {
            return false;
        }
        java.nio.file.Path path = java.nio.file.Path.of(f.path());
        return !dev.cryo.kernel.Namespaces.seenBy(dev.cryo.kernel.Pid.of(pid), () -> same(path, f));
    }

    /** Whether task {@code pid} is in a mount namespace other than cryo's (paths may name other files there). */
    public static boolean inOtherMountNamespace(int pid) {
        String mine = pid == 0 ? null : dev.cryo.kernel.Namespaces.link(Integer.toString(pid), "mnt");
        return mine != null && !mine.equals(dev.cryo.kernel.Namespaces.link("self", "mnt"));
    }

    /** {@code p} is the dumped file (its device and inode). */
    public static boolean same(java.nio.file.Path p, FileRef f) {
        try {
            Map<String, Object> a = Files.readAttributes(p, "unix:dev,ino");
            return ((Number) a.get("dev")).longValue() == f.dev() && ((Number) a.get("ino")).longValue() == f.ino();
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static final java.util.regex.Pattern MAPPINGS = java.util.regex.Pattern.compile(
            "^/proc/(\\d+)(/task/\\d+)?/(maps|smaps|numa_maps)$");

    /**
     * A file listing the holder's own mappings (DMTCP's procfd1 reads its /proc/self/maps on after a
     * fork), named as cryo names it: read on from a position, it goes on from text rendered when the
     * position was set, so that must be once cryo's own bootstrap area is gone from the layout.
     */
    private static boolean listsOwnMappings(String path, RestoreContext ctx) {
        java.util.regex.Matcher m = MAPPINGS.matcher(path);
        return m.matches() && Integer.parseInt(m.group(1)) == ctx.taskPid() && ctx.seenByTask(ctx.taskPid()) == ctx.taskPid()
                && !inOtherMountNamespace(ctx.taskPid());
    }

    /** Whether the fd holds a directory removed since it was opened. */
    public static boolean isRemovedDirectory(RegularFile f) {
        return f.deadPid() == 0 && FileIdentity.isDirectory(f.file()) && SharedMemoryHub.isDeletedDirectory(f.file().path());
    }

    @Override
    public long restore(FdImage fd, RegularFile f, RestoreContext ctx) {
        String path = isRemovedDirectory(f) ? ctx.deletedDirectory(f.file().path()) : f.file().path();
        if (f.deadPid() != 0 && path.endsWith(DELETED)) { // a dead process's /proc directory: its stand-in's
            path = path.substring(0, path.length() - DELETED.length());
        }
        if (isPseudoFile(path) && path.endsWith(DELETED) && !FileIdentity.isDirectory(f.file()) && f.deadPid() == 0) {
            String live = path.substring(0, path.length() - DELETED.length()); // relookedUpProcFile
            long opened = ctx.open(live, FdHandlers.openFlags(fd));
            Files.exists(java.nio.file.Path.of(live)); // a lookup drops the dentry the task now holds, as before
            if (fd.position() != 0) {
                ctx.later("lseek", SyscallNr.LSEEK, opened, fd.position(), 0);
            }
            return opened;
        }
        int dead = f.deadPid() != 0 ? f.deadPid() : goneSinceTheDump(path, ctx);
        if (dead != 0) {
            ctx.deadPidStandIn(dead, "fd " + fd.fd() + ": " + path, f.outside());
        }
        long tmp;
        String thread = ThreadProcFiles.standIn(path, ctx.taskPid(), ctx.ownThreads(), ctx::seenByTask);
        if (thread != null) { // the thread is made later: its file takes this fd's place then
            path = thread;
        }
        if (fd.position() != 0 && listsOwnMappings(path, ctx)) {
            return ctx.openPositionedLast(path, FdHandlers.openFlags(fd), fd.position());
        }
        if (f.mountOf() != 0) { // on a mount of another namespace of the tree: opened as a task of that one sees it
            tmp = ctx.openSeenBy(f.mountOf(), path, FdHandlers.openFlags(fd));
        } else if ((f.hostMount() && inOtherMountNamespace(ctx.taskPid()) && same(java.nio.file.Path.of(path), f.file()))
                || onlyOutside(ctx.taskPid(), f.file())) {
            // opened before the task made its mount namespace, on a host mount (which its namespace
            // may not even reach: a log file under a /tmp it covered with a tmpfs): cryo opens it and
            // the task takes that open file
            tmp = ctx.openAsCryo(path, FdHandlers.openFlags(fd));
        } else {
            tmp = ctx.openQueued(path, FdHandlers.openFlags(fd));
        }
        if (fd.position() != 0) {
            ctx.later("lseek", SyscallNr.LSEEK, tmp, fd.position(), 0);
        }
        if (f.pressureTrigger() != null) {
            PressureTriggers.restore(tmp, f.pressureTrigger(), ctx);
        }
        if (f.unseenChange()) {
            UnseenChangeEvents.restore(path, ctx);
        }
        return tmp;
    }

    @Override
    public String inheritName(RegularFile r) {
        String path = r.file().path();
        return path != null && path.startsWith("/") ? path.substring(1) : null;
    }

    @Override
    public void show(RegularFile r, Map<String, Object> m) {
        m.put("kind", "file");
        m.put("path", r.file().path());
        m.put("dev", hex(r.file().dev()));
        m.put("ino", r.file().ino());
        m.put("size", r.file().size());
        m.put("mode", octal(r.file().mode()));
        if (r.hostMount()) {
            m.put("mount", "cryo's");
        }
        if (r.mountOf() != 0) {
            m.put("mountOf", r.mountOf()); // a mount of that task's namespace, not the holder's
        }
        if (r.deadPid() != 0) {
            m.put("deadPid", r.deadPid()); // its process had exited: reopened through a stand-in at that pid
        }
        if (r.outside() != null) { // a process outside the tree: its start time, the owner its stand-in would take
            m.put("outsideStartTime", r.outside().startTime());
            m.put("outsideOwner", r.outside().uid() + ":" + r.outside().gid());
        }
        if (r.pressureTrigger() != null) {
            m.put("pressureTrigger", r.pressureTrigger());
        }
        if (r.unseenChange()) {
            m.put("unseenChange", true); // a change event is made again after the reopen
        }
        FileLocks.show(r.locks(), m);
    }
}
