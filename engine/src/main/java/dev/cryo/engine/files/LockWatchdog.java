package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.NetworkLock;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.net.TcpRepair;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Undoes a dump's hold on the tree's sockets should cryo die in the middle (SIGKILL, the OOM killer): the kernel
 * lets the tree's tasks go with their tracer, but nothing took its connections out of TCP repair mode nor deleted
 * the network lock's nft tables, and the tree ran on with dead connections (EINVAL on every send) and its
 * listeners' SYNs dropped, for good. CRIU leaves them so too.
 *
 * <p>A shell started with the dump's first lock ({@link DeathWatch}), in a session of its own and reparented to init,
 * waits on a pipe whose only writer is cryo (O_CLOEXEC: no child of cryo's keeps it). The dump's end writes "done" and
 * the shell exits; cryo's death is an end of file, and the shell runs {@link #main} in a JVM of cryo's own, which reads the
 * watch file cryo appended to (the tree's tasks, each lock table, each socket put in repair mode) and, if a task
 * of the tree still lives, takes its sockets out of repair mode (SO_REUSEADDR put back) and deletes the tables,
 * as a failed dump does. With every task gone after {@link #keep} (a killing dump whose image is complete) the
 * tables stay for the restore. A cgroup that --freeze-cgroup froze for the seize is thawed at once, whatever
 * the rest (the tasks left its tracer frozen, for good).
 */
public final class LockWatchdog implements AutoCloseable {
    private static final String MAGIC = "cryo-lock-watch 1";
    /** The watcher's name, as ps shows it. */
    private static final String NAME = "cryo-lock-watch";
    /**
     * $1 the watch file, $2 java, $3 the class path, $4 nft or "". A word from cryo ends it; its end of file runs
     * the undo. The host's tables go at once by nft, where no kill was begun: the JVM takes seconds to start under
     * load, and the tree's clients count them (a client awaiting an echo 10 s timed out with the lock gone 6.6 s
     * after cryo's death, at load 30); a connection the lock holds is out of repair mode already.
     */
    private static final String SCRIPT = "read -r w <&3; [ \"$w\" = done ] && { rm -f \"$1\"; exit 0; }\n"
            + "keep=; tables=; any=\n"
            + "while read -r k v; do case \"$k\" in keep) keep=1;; socket) any=1;;\n"
            + "  table) any=1; case \"$v\" in *@*) ;; *) tables=\"$tables $v\";; esac;;\n"
            + "  thaw) echo 0 > \"$v/cgroup.freeze\";; esac\n"
            + "done < \"$1\"\n"
            + "[ -z \"$any\" ] && { rm -f \"$1\"; exit 0; }\n"
            + "[ -z \"$keep\" ] && [ -n \"$4\" ] && for t in $tables; do \"$4\" delete table inet \"$t\"; done\n"
            + "exec \"$2\" -XX:-UsePerfData -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx64m -cp \"$3\" "
            + LockWatchdog.class.getName() + " \"$1\"\n";

    private final Path file;
    private final FileChannel out;
    private final DeathWatch watch;
    private final Set<String> tables = new HashSet<>();
    private final Set<Integer> listed = new HashSet<>();
    private boolean closed;

    private LockWatchdog(Path file, FileChannel out, DeathWatch watch) {
        this.file = file;
        this.out = out;
        this.watch = watch;
    }

    /** Starts the watcher of a dump of {@code tree}'s tasks. */
    public static LockWatchdog start(Collection<Pid> tree) {
        long t0 = System.nanoTime();
        Path file = null;
        FileChannel out = null;
        try {
            file = Files.createTempFile("cryo-lock-watch-", "",
                    PrivateModes.FILE_ATTRIBUTE);
            out = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            append(out, MAGIC + "\n");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            String nft = NetworkLock.nft();
            DeathWatch watch = DeathWatch.start(NAME, SCRIPT, List.of(file.toString(), java,
                    System.getProperty("java.class.path"), nft == null ? "" : nft));
            LockWatchdog w = new LockWatchdog(file, out, watch);
            w.tasks(tree);
            // not a static logger: main() runs in a JVM of its own with no logging set up
            org.slf4j.LoggerFactory.getLogger(LockWatchdog.class).debug("lock watchdog started in {} µs",
                    (System.nanoTime() - t0) / 1000);
            return w;
        } catch (IOException | RuntimeException e) {
            if (out != null) {
                try {
                    out.close();
                } catch (IOException ignored) {
                    // the file goes below
                }
            }
            Leftovers.delete(file);
            throw new KernelException("cannot start the watchdog that would undo the network lock should cryo die: "
                    + e.getMessage(), e);
        }
    }

    /**
     * The tree's tasks of {@code tree} not listed yet (a watchdog started before the freeze learns the frozen tree's
     * at the first lock): with none of them alive after cryo's death and {@link #keep}, the tables stay.
     */
    public synchronized void tasks(Collection<Pid> tree) {
        StringBuilder b = new StringBuilder();
        for (Pid p : tree) {
            if (!listed.add(p.value())) {
                continue;
            }
            try {
                b.append("task ").append(p.value()).append(' ').append(ProcFs.stat(p).starttime()).append('\n');
            } catch (KernelException gone) {
                // exited before the seize: the seize says so
            }
        }
        if (b.length() > 0) {
            line(b.substring(0, b.length() - 1));
        }
    }

    /** The watch file (the watcher's argument). */
    Path file() {
        return file;
    }

    /** Lock table {@code name} (NAME or NAME@NETNS-PATH) is installed, or about to be. */
    synchronized void table(String name) {
        if (tables.add(name)) {
            line("table " + name);
        }
    }

    /** Socket {@code ino} of the tree's is in repair mode; {@code reuseAddr}: its SO_REUSEADDR before. */
    synchronized void repaired(long ino, boolean reuseAddr) {
        line("socket " + ino + " " + (reuseAddr ? 1 : 0));
    }

    /** Cgroup directory {@code dir} is about to be frozen (--freeze-cgroup): cryo's death thaws it at once. */
    public synchronized void thaw(Path dir) {
        line("thaw " + dir);
    }

    /** The tree is being killed with its image complete: once it is gone, its locks stay for the restore. */
    synchronized void keep() {
        line("keep");
    }

    /** The dump let its sockets go as planned: the watcher ends without doing anything. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            watch.close(); // "done"
        } finally {
            try {
                out.close();
            } catch (IOException ignored) {
                // the file goes below
            }
            Leftovers.delete(file);
        }
    }

    private void line(String l) {
        if (closed) {
            return;
        }
        try {
            append(out, l + "\n");
        } catch (IOException e) {
            throw new KernelException("cannot write the lock watchdog's file " + file + ": " + e.getMessage(), e);
        }
    }

    // one write(2) per line: cryo killed between two leaves whole lines
    private static void append(FileChannel out, String s) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

    /** The watcher's undo, run once cryo is gone: args[0] the watch file. */
    public static void main(String[] args) throws IOException {
        Path file = Path.of(args[0]);
        List<String> lines = Files.readAllLines(file);
        if (lines.isEmpty() || !lines.get(0).equals(MAGIC)) {
            System.err.println(NAME + ": " + file + " is no watch file of cryo's");
            System.exit(2);
        }
        Map<Pid, Long> tasks = new LinkedHashMap<>();
        Set<String> tables = new LinkedHashSet<>();
        Map<Long, Boolean> sockets = new LinkedHashMap<>();
        boolean keep = false;
        for (String l : lines.subList(1, lines.size())) {
            String[] w = l.split(" ", 3);
            switch (w[0]) {
                case "task" -> tasks.put(Pid.of(Integer.parseInt(w[1])), Long.parseLong(w[2]));
                case "table" -> tables.add(l.substring(6));
                case "socket" -> sockets.put(Long.parseLong(w[1]), w[2].equals("1"));
                case "keep" -> keep = true;
                default -> { } // a line cut short by cryo's death
            }
        }
        List<Pid> alive = tasks.entrySet().stream().filter(e -> sameProcess(e.getKey(), e.getValue())).map(Map.Entry::getKey)
                .toList();
        List<String> problems = new ArrayList<>();
        int left = alive.isEmpty() ? 0 : leaveRepair(alive, sockets, problems);
        if (!alive.isEmpty() || !keep) {
            for (String t : tables) {
                try {
                    NetworkLock.unlock(t);
                } catch (RuntimeException e) {
                    problems.add("network lock " + t + ": " + e.getMessage());
                }
            }
        }
        Files.deleteIfExists(file);
        System.err.println(NAME + ": cryo died in the middle of a dump: " + (alive.isEmpty() && keep
                ? "its tree is gone, its network lock stays for the restore"
                : left + " connection(s) of the tree taken out of TCP repair mode, network lock " + tables + " lifted")
                + (problems.isEmpty() ? "" : "; " + String.join("; ", problems)));
        System.exit(problems.isEmpty() ? 0 : 1);
    }

    private static boolean sameProcess(Pid p, long starttime) {
        try {
            var st = ProcFs.stat(p);
            return st.starttime() == starttime && st.state() != 'Z' && st.state() != 'X';
        } catch (KernelException gone) {
            return false;
        }
    }

    /** Takes the sockets listed out of repair mode, found in the fds of {@code alive} and their descendants. */
    private static int leaveRepair(List<Pid> alive, Map<Long, Boolean> sockets, List<String> problems) {
        Set<Long> done = new HashSet<>();
        Set<Integer> seen = new HashSet<>();
        Deque<Pid> todo = new ArrayDeque<>(alive);
        while (!todo.isEmpty() && done.size() < sockets.size()) {
            Pid p = todo.poll();
            if (!seen.add(p.value())) {
                continue;
            }
            try {
                todo.addAll(ProcFs.children(p));
                for (Map.Entry<Integer, String> fd : ProcFs.fdTargets(p).entrySet()) {
                    String t = fd.getValue();
                    if (!t.startsWith("socket:[")) {
                        continue;
                    }
                    long ino = Long.parseLong(t.substring(8, t.length() - 1));
                    if (sockets.containsKey(ino) && !done.contains(ino)) {
                        try (Fd pidfd = Sys.pidfdOpen(p); Fd s = Sys.pidfdGetfd(pidfd, p, fd.getKey())) {
                            if (Sockets.getInt(s, Sockets.SOL_TCP, Sockets.TCP_REPAIR) != 0) {
                                TcpRepair.leave(s, sockets.get(ino));
                            }
                            done.add(ino);
                        } catch (KernelException e) {
                            problems.add("socket " + ino + " of pid " + p + ": " + e.getMessage());
                        }
                    }
                }
            } catch (KernelException gone) {
                // exited meanwhile: its sockets went with it, or another task holds them
            }
        }
        return done.size();
    }
}
