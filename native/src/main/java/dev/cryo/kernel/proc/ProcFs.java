package dev.cryo.kernel.proc;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Reads /proc files and hands the text to the pure parsers. Failures name the operation, path and
 * errno: {@code open /proc/4242/stat: ENOENT (No such file or directory)}. Text is decoded as
 * UTF-8, so names and paths that are not valid UTF-8 come back with replacement characters.
 */
public final class ProcFs {
    private ProcFs() {}

    /** Fails with "no process with pid N" unless /proc/N exists (threads' tids count too). */
    public static void requireProcess(Pid pid) {
        if (!Files.isDirectory(Path.of(pid.procDir()))) {
            throw new KernelException("no process with pid " + pid);
        }
    }

    public static ProcStat stat(Pid pid) {
        String path = pid.procDir() + "/stat";
        String text = text(path);
        if (dev.cryo.kernel.ExitedLeaders.exited(pid)) { // its stand-in thread's, under the process's pid
            text = pid.value() + text.substring(text.indexOf(' '));
        }
        return ProcStat.parse(path, text);
    }

    /** /proc/PID/task/TID/stat of one thread. */
    public static ProcStat stat(Pid pid, Pid tid) {
        String path = taskDir(pid, tid) + "/stat";
        return ProcStat.parse(path, text(path));
    }

    public static ProcStatus status(Pid pid) {
        String path = pid.procDir() + "/status";
        return ProcStatus.parse(path, text(path));
    }

    public static ProcStatus status(Pid pid, Pid tid) {
        String path = taskDir(pid, tid) + "/status";
        return ProcStatus.parse(path, text(path));
    }

    /**
     * One "NS*" line of a thread's status (NSpid, NSpgid, NSsid: the id in each pid namespace it is in,
     * outermost first), read alone: a zombie's status has no Umask line (its fs is gone), which
     * {@link ProcStatus} requires. Empty when the kernel prints no such line.
     */
    public static List<Integer> nsIds(Pid pid, Pid tid, String key) {
        String path = taskDir(pid, tid) + "/status";
        for (String line : text(path).split("\n")) {
            if (line.startsWith(key + ":")) {
                String v = line.substring(key.length() + 1).strip();
                return v.isEmpty() ? List.of() : java.util.Arrays.stream(v.split("\\s+")).map(Integer::valueOf).toList();
            }
        }
        return List.of();
    }

    /**
     * The CPU time the task's main thread has run, in ns (/proc/PID/schedstat's first field), or -1
     * when it cannot be read: for debug lines that tell a task's own work from waiting for it.
     */
    public static long cpuNanos(Pid pid) {
        try {
            String s = text(pid.procDir() + "/schedstat");
            return Long.parseLong(s.substring(0, s.indexOf(' ')));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** The thread ids of {@code pid}, ascending. */
    public static List<Pid> tasks(Pid pid) {
        List<Pid> out = new ArrayList<>();
        for (int tid : numericEntries(pid.procDir() + "/task")) {
            out.add(Pid.of(tid));
        }
        return List.copyOf(out);
    }

    /** Whether thread {@code tid} is an io_uring worker ({@link ProcStat#PF_IO_WORKER}); false when it is gone. */
    public static boolean ioWorker(Pid pid, Pid tid) {
        try {
            return (stat(pid, tid).flags() & ProcStat.PF_IO_WORKER) != 0;
        } catch (KernelException e) {
            return false;
        }
    }

    /** Every process of the host cryo's /proc shows, cryo's own among them; racy as /proc always is. */
    public static List<Integer> pids() {
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            procs.forEach(p -> out.add(Integer.parseInt(p.getFileName().toString())));
        } catch (IOException | DirectoryIteratorException e) {
            throw new java.io.UncheckedIOException("listing /proc",
                    e instanceof IOException io ? io : ((DirectoryIteratorException) e).getCause());
        }
        return out;
    }

    /** Children whose parent is thread {@code tid} (needs CONFIG_PROC_CHILDREN). */
    public static List<Pid> children(Pid pid, Pid tid) {
        String path = taskDir(pid, tid) + "/children";
        return PidList.parse(path, text(path));
    }

    /** Children of every thread of {@code pid}, ascending; racy against forks, as /proc always is. */
    public static List<Pid> children(Pid pid) {
        TreeSet<Pid> all = new TreeSet<>();
        for (Pid tid : tasks(pid)) {
            try {
                all.addAll(children(pid, tid));
            } catch (KernelException e) {
                if (tid.equals(pid)) {
                    throw e; // the process is gone
                }
                // a thread that exited meanwhile has no children left: they went to another thread
            }
        }
        return List.copyOf(all);
    }

    public static List<MapsEntry> maps(Pid pid) {
        String path = pid.procDir() + "/maps";
        return MapsEntry.parse(path, text(path));
    }

    public static List<SmapsEntry> smaps(Pid pid) {
        String path = pid.procDir() + "/smaps";
        return SmapsEntry.parse(path, text(path));
    }

    /** For many reads over one address space; close it when done. */
    public static PagemapReader openPagemap(Pid pid) {
        return PagemapReader.open(pid);
    }

    /** Pagemap entries of {@code pages} pages from {@code startAddress}, in one positional read. */
    public static long[] pagemap(Pid pid, long startAddress, int pages) {
        try (PagemapReader r = PagemapReader.open(pid)) {
            return r.read(startAddress, pages);
        }
    }

    /** Fills {@code dst} (position to limit, whole 8-byte entries) with no allocation per entry. */
    public static void pagemap(Pid pid, long startAddress, ByteBuffer dst) {
        try (PagemapReader r = PagemapReader.open(pid)) {
            r.read(startAddress, dst);
        }
    }

    public static void pagemap(Pid pid, long startAddress, LongBuffer dst) {
        try (PagemapReader r = PagemapReader.open(pid)) {
            r.read(startAddress, dst);
        }
    }

    /** Open fd numbers, ascending. */
    public static List<Integer> fds(Pid pid) {
        return numericEntries(pid.procDir() + "/fd");
    }

    /**
     * Each open fd's readlink text ({@link #fdTarget}), by fd, ascending: none for a task gone or
     * without an fd table (a zombie), and an fd closed meanwhile left out.
     */
    public static java.util.SortedMap<Integer, String> fdTargets(Pid pid) {
        java.util.SortedMap<Integer, String> out = new java.util.TreeMap<>();
        List<Integer> fds;
        try {
            fds = fds(pid);
        } catch (KernelException gone) {
            return out;
        }
        for (int fd : fds) {
            try {
                out.put(fd, fdTarget(pid, fd));
            } catch (KernelException closed) {
                // closed meanwhile
            }
        }
        return out;
    }

    /** The readlink text of an fd: "pipe:[1234]", "socket:[99]", "anon_inode:[eventfd]", "/tmp/x (deleted)". */
    public static String fdTarget(Pid pid, int fd) {
        return readlink(pid.procDir() + "/fd/" + fd);
    }

    public static FdInfo fdInfo(Pid pid, int fd) {
        String path = pid.procDir() + "/fdinfo/" + fd;
        return FdInfo.parse(path, text(path));
    }

    public static Auxv auxv(Pid pid) {
        String path = pid.procDir() + "/auxv";
        return Auxv.parse(path, bytes(path));
    }

    public static Limits limits(Pid pid) {
        String path = pid.procDir() + "/limits";
        return Limits.parse(path, text(path));
    }

    public static PosixTimers timers(Pid pid) {
        String path = pid.procDir() + "/timers";
        return PosixTimers.parse(path, text(path));
    }

    /** /proc/PID/oom_score_adj: -1000..1000. */
    public static int oomScoreAdj(Pid pid) {
        String path = pid.procDir() + "/oom_score_adj";
        String t = text(path).trim();
        try {
            return Integer.parseInt(t);
        } catch (NumberFormatException e) {
            throw ProcFormatException.at(path, 1, "expected a number, found '" + t + "'");
        }
    }

    public static String cwd(Pid pid) {
        return readlink(pid.procDir() + "/cwd");
    }

    public static String exe(Pid pid) {
        return readlink(pid.procDir() + "/exe");
    }

    public static String root(Pid pid) {
        return readlink(pid.procDir() + "/root");
    }

    /** The host's pid_max: every pid of cryo's pid namespace is below it. */
    public static int pidMax() {
        return Integer.parseInt(text("/proc/sys/kernel/pid_max").trim());
    }

    /** The whole file as UTF-8 text. */
    public static String text(String path) {
        return new String(bytes(path), StandardCharsets.UTF_8);
    }

    /** The whole file; /proc files report size 0, so this reads to EOF. */
    public static byte[] bytes(String path) {
        InputStream in;
        try {
            in = Files.newInputStream(Path.of(path));
        } catch (IOException e) {
            throw ProcErrors.of("open " + path, e);
        }
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw ProcErrors.of("read " + path, e);
        }
    }

    public static String readlink(String path) {
        try {
            return Files.readSymbolicLink(Path.of(path)).toString();
        } catch (IOException e) {
            throw ProcErrors.of("readlink " + path, e);
        }
    }

    private static String taskDir(Pid pid, Pid tid) {
        return pid.procDir() + "/task/" + tid.value();
    }

    /** The numeric names in a /proc directory (fd, task), ascending. */
    private static List<Integer> numericEntries(String path) {
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of(path))) {
            for (Path p : dir) {
                String name = p.getFileName().toString();
                try {
                    out.add(Integer.parseInt(name));
                } catch (NumberFormatException e) {
                    throw ProcFormatException.of(path, "entry '" + name + "' is not a number");
                }
            }
        } catch (IOException e) {
            throw ProcErrors.of("opendir " + path, e);
        } catch (DirectoryIteratorException e) {
            throw ProcErrors.of("readdir " + path, e.getCause());
        }
        out.sort(null);
        return List.copyOf(out);
    }
}
