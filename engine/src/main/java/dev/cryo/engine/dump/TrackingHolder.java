package dev.cryo.engine.dump;

import dev.cryo.engine.files.PrivateModes;
import dev.cryo.engine.files.Leftovers;
import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Keeps a pre-dump's write tracking between two commands ({@code cryo pre-dump}, then {@code cryo dump
 * --prev-images-dir}): each task's uffd stays registered and armed as long as the file is open, so a
 * small process holds them as its fds 3, 4, ... — a shell loop started by cryo, out of the caller's
 * session and reparented to init, that ends when the tree's root does, or after a bounded time
 * ({@code cryo.pre-copy.tracking-kept}). The dump takes them back with pidfd_getfd (root only: no socket,
 * nothing to authenticate) and kills it. {@link #FILE} in the pre-dump's directory names the holder and the
 * tasks, each with its start time and stack addresses, so a pid reused since, or a task that ran exec, is
 * tracked afresh rather than trusted.
 */
public final class TrackingHolder {
    private TrackingHolder() {}

    /** Beside the pre-dump's image, 0600 like it. */
    public static final String FILE = "tracking";
    private static final String MAGIC = "cryo-tracking 1";
    private static final String UFFD_LINK = "anon_inode:[userfaultfd]";
    /** The holder's $0, as ps shows it. */
    private static final String HOLDER_NAME = "cryo-tracking";

    /**
     * The holder's loop: $1 the root's pid, $2 the seconds it may live. Its fds stay where they were given
     * (a redirection on a command moves the shell's own fd aside while the command runs: a take would then
     * miss it), so each sleep holds the uffds too, for its second.
     */
    private static final String LOOP = "r=$1; n=$2; i=0\n"
            + "while [ \"$i\" -lt \"$n\" ]; do\n"
            + "  read -r s < /proc/$r/stat || exit 0\n"
            + "  case \"$s\" in *') Z '*|*') X '*) exit 0;; esac\n"
            + "  sleep 1\n"
            + "  i=$((i+1))\n"
            + "done\n";

    /** A holder started: its pid and how long it keeps the tracking at most. */
    public record Handed(int holder, Duration lifetime, int tasks) {}

    /**
     * Starts the holder of {@code trackers}' uffds and writes {@link #FILE} into {@code dir}. The trackers
     * are left as they were (the caller closes them: the holder's copies keep the tracking).
     */
    public static Handed hand(Path dir, Pid root, Map<Pid, PreCopyTracker> trackers, Duration lifetime) {
        List<Map.Entry<Pid, PreCopyTracker>> held = new ArrayList<>(trackers.entrySet());
        List<Fd> copies = new ArrayList<>();
        Path pidFile = dir.resolve(FILE + ".pid");
        try {
            for (Map.Entry<Pid, PreCopyTracker> e : held) {
                int fd = e.getValue().writes().uffd().value();
                // above every fd the holder gets them as: no dup2 overwrites a source still to come
                copies.add(new Fd((int) Sys.call(() -> "fcntl(uffd " + fd + ", F_DUPFD_CLOEXEC)", SyscallNr.FCNTL, fd,
                        Fcntl.F_DUPFD_CLOEXEC, 4 + held.size(), 0)));
            }
            long seconds = Math.max(1, lifetime.toSeconds());
            // the outer shell starts the holder in the background, prints its pid and exits: the holder is
            // no child of this JVM (an agent's would keep it as a zombie), and runs in a session of its own
            Pid outer = Spawner.spawn("/bin/sh", List.of("/bin/sh", "-c", "/bin/sh -c \"$1\" " + HOLDER_NAME + " \"$2\" \"$3\" "
                    + ">/dev/null 2>&1 & echo $!", HOLDER_NAME, LOOP, String.valueOf(root.value()),
                    String.valueOf(seconds)), List.of("PATH=/usr/bin:/bin"), true, copies, pidFile.toString());
            Spawner.reap(outer);
            int holder = Integer.parseInt(Files.readString(pidFile).trim());
            StringBuilder b = new StringBuilder(MAGIC).append('\n');
            b.append("holder ").append(holder).append(' ').append(ProcFs.stat(Pid.of(holder)).starttime()).append('\n');
            for (int i = 0; i < held.size(); i++) {
                Pid p = held.get(i).getKey();
                ProcStat st = ProcFs.stat(p);
                b.append("task ").append(p.value()).append(' ').append(st.starttime()).append(' ').append(3 + i)
                        .append(' ').append(Long.toUnsignedString(st.startStack())).append(' ')
                        .append(Long.toUnsignedString(st.argStart())).append(' ').append(Long.toUnsignedString(st.envStart()))
                        .append('\n');
            }
            Path file = dir.resolve(FILE);
            Files.deleteIfExists(file);
            Files.createFile(file, PrivateModes.FILE_ATTRIBUTE);
            Files.writeString(file, b);
            return new Handed(holder, Duration.ofSeconds(seconds), held.size());
        } catch (IOException | RuntimeException e) {
            throw new DumpException("the tree's write tracking cannot be kept for the next dump: " + e.getMessage(), e);
        } finally {
            copies.forEach(Fd::close);
            Leftovers.delete(pidFile); // a stray pid file holds no state
        }
    }

    /**
     * What a dump took back from a pre-dump's holder: the uffds of the tasks still the same processes,
     * and why the others (or all) are tracked afresh.
     */
    public record Taken(Map<Pid, Fd> uffds, List<String> notes) {
        public void closeUnused() {
            uffds.values().forEach(Fd::close);
        }
    }

    /**
     * Takes the uffds the holder named in {@code previous}'s {@link #FILE} keeps for the tasks of
     * {@code tree}, then kills it and removes the file: a tracking is taken once. Nothing to take (no
     * file, holder gone) gives none, with the reason.
     */
    public static Taken take(Path previous, List<Pid> tree) {
        Path file = previous.resolve(FILE);
        List<String> notes = new ArrayList<>();
        Map<Pid, Fd> uffds = new LinkedHashMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            notes.add(previous + " has no tracking kept by a pre-dump (" + file.getFileName() + " cannot be read: "
                    + e.getClass().getSimpleName() + "): every page is copied again");
            return new Taken(uffds, notes);
        }
        if (lines.isEmpty() || !lines.get(0).equals(MAGIC) || lines.size() < 2 || !lines.get(1).startsWith("holder ")) {
            notes.add(file + " is not a tracking file cryo wrote: every page is copied again");
            return new Taken(uffds, notes);
        }
        String[] h = lines.get(1).split(" ");
        Pid holder = Pid.of(Integer.parseInt(h[1]));
        if (!same(holder, Long.parseLong(h[2])) || !isHolder(holder)) {
            notes.add("the pre-dump's tracking is gone (its holder, pid " + holder + ", exited: its time ran out, "
                    + "the tree's root exited, or it was killed): every page is copied again");
            Leftovers.delete(file); // the holder is gone: the file names nothing that lives
            return new Taken(uffds, notes);
        }
        try (Fd pidfd = Sys.pidfdOpen(holder)) {
            for (String line : lines.subList(2, lines.size())) {
                String[] t = line.split(" ");
                Pid p = Pid.of(Integer.parseInt(t[1]));
                if (!tree.contains(p)) {
                    continue; // exited since, or no longer in the tree
                }
                String why = changed(p, t);
                if (why != null) {
                    notes.add("pid " + p + " " + why + " since the pre-dump: its memory is copied again");
                    continue;
                }
                Fd fd = Sys.pidfdGetfd(pidfd, holder, Integer.parseInt(t[3]));
                String link = link(fd);
                if (!link.equals(UFFD_LINK)) {
                    fd.close();
                    notes.add("pid " + p + ": the holder's fd " + t[3] + " is no uffd (" + link + "): its memory is copied again");
                    continue;
                }
                uffds.put(p, fd);
            }
        } catch (KernelException | NumberFormatException | ArrayIndexOutOfBoundsException e) {
            uffds.values().forEach(Fd::close);
            uffds.clear();
            notes.add("the pre-dump's tracking cannot be taken back (" + e.getMessage() + "): every page is copied again");
        } finally {
            kill(holder);
            Leftovers.delete(file); // the holder is gone: the file names nothing that lives
        }
        return new Taken(uffds, notes);
    }

    /**
     * Ends a holder and the sleep it runs (which holds the uffds too), and waits up to 2 s until both have
     * let them go: a tracking left registered would be another uffd's to the next tracker of the tree, which
     * the kernel refuses. One gone already is no error.
     */
    public static void kill(Pid holder) {
        List<Pid> doomed = new ArrayList<>();
        // stopped first, so that no sleep it forks after its children are read outlives it with the uffds
        try {
            Sys.kill(holder, Signals.SIGSTOP);
        } catch (RuntimeException gone) {
            return;
        }
        long stopBy = System.nanoTime() + 1_000_000_000L;
        while (live(holder) && stateOf(holder) != 'T' && System.nanoTime() < stopBy) {
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
        try {
            doomed.addAll(ProcFs.children(holder, holder));
        } catch (RuntimeException gone) {
            // exited meanwhile, or between two sleeps
        }
        doomed.add(holder);
        for (Pid p : doomed) {
            try {
                Sys.kill(p, Signals.SIGKILL);
            } catch (RuntimeException gone) {
                // exited meanwhile
            }
        }
        long deadline = System.nanoTime() + 2_000_000_000L;
        for (Pid p : doomed) {
            while (live(p) && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
        }
    }

    /**
     * Ends every holder keeping a tracking of a task of {@code tree} (of a pre-dump whose image this dump
     * does not take it from): its write-protect bits are not this dump's, and a scan through them would
     * miss the pages written before they were set. Returns the holders ended.
     */
    public static List<Integer> endFor(List<Pid> tree) {
        List<Integer> ended = new ArrayList<>();
        java.util.Set<String> pids = new java.util.HashSet<>();
        tree.forEach(p -> pids.add(String.valueOf(p.value())));
        for (int pid : ProcFs.pids()) {
            String[] argv = argv(Pid.of(pid));
            if (argv != null && isHolder(argv) && argv.length >= 5 && pids.contains(argv[4])) {
                kill(Pid.of(pid));
                ended.add(pid);
            }
        }
        return ended;
    }

    private static char stateOf(Pid p) {
        try {
            return ProcFs.stat(p).state();
        } catch (KernelException gone) {
            return 'X';
        }
    }

    private static boolean live(Pid p) {
        try {
            char state = ProcFs.stat(p).state();
            return state != 'Z' && state != 'X';
        } catch (KernelException gone) {
            return false;
        }
    }

    private static String link(Fd fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.value())).toString();
        } catch (IOException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /** The process runs cryo's holder loop (its $0 is cryo-tracking): a file naming another process takes nothing from it. */
    private static boolean isHolder(Pid p) {
        String[] argv = argv(p);
        return argv != null && isHolder(argv);
    }

    private static boolean isHolder(String[] argv) {
        return argv.length >= 4 && argv[0].equals("/bin/sh") && argv[2].equals(LOOP) && argv[3].equals(HOLDER_NAME);
    }

    private static String[] argv(Pid p) {
        try {
            byte[] cmdline = Files.readAllBytes(Path.of("/proc/" + p.value() + "/cmdline"));
            return new String(cmdline, java.nio.charset.StandardCharsets.UTF_8).split("\0");
        } catch (IOException gone) {
            return null;
        }
    }

    private static boolean same(Pid p, long starttime) {
        try {
            ProcStat st = ProcFs.stat(p);
            return st.starttime() == starttime && st.state() != 'Z' && st.state() != 'X';
        } catch (KernelException gone) {
            return false;
        }
    }

    /** Why task line {@code t} no longer names the process {@code p} is (pid reused, exec), or null. */
    private static String changed(Pid p, String[] t) {
        ProcStat st;
        try {
            st = ProcFs.stat(p);
        } catch (KernelException gone) {
            return "exited";
        }
        if (st.starttime() != Long.parseLong(t[2])) {
            return "is another process";
        }
        if (!Long.toUnsignedString(st.startStack()).equals(t[4]) || !Long.toUnsignedString(st.argStart()).equals(t[5])
                || !Long.toUnsignedString(st.envStart()).equals(t[6])) {
            return "ran exec";
        }
        return null;
    }
}
