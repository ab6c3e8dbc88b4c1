package dev.cryo.engine.dump;

import dev.cryo.engine.files.PrivateModes;
import dev.cryo.engine.files.Leftovers;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.SysvIpc;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The SysV semaphores of the host's ipc namespace, as a killed tree left them. They are the
 * kernel's, not the tree's: they stay where they are and the restored tree finds them. But a task
 * that ever used SEM_UNDO has its adjustments applied by the kernel when it exits (exit_sem), and
 * the dump's kill is such an exit: DMTCP's sysv-sem (parent and child taking turns through two
 * SEM_UNDO semaphores) came back with one semaphore raised by as many turns as they had taken, and
 * its child, let through without its turn, failed its assertion. So the values the frozen tree saw
 * are taken before the kill and every semaphore the exits changed — its last operation is then a tree
 * task's — is put back by a semop without SEM_UNDO, which leaves everyone's undo entries alone. The
 * restored tasks get their adjustments back from the image ({@link dev.cryo.engine.ipc.SemUndo}).
 *
 * <p>A killed task stuck in the kernel before its exit reaches exit_sem (a FUSE request in flight, D) applies its
 * adjustments whenever it gets there, after the dump has returned: such tasks go to a watcher of their own, a JVM
 * outliving cryo's, which puts back what their exits change once they are gone ({@link #main}).
 */
public final class SemaphoresAtKill {
    private record SemSet(int id, int[] values) {}

    private final List<SemSet> before;
    private final Set<Integer> tree;
    /** Each tree task's start time while frozen: a pid taken by another process since names no task of the tree. */
    private final Map<Integer, Long> started;

    private SemaphoresAtKill(List<SemSet> before, Set<Integer> tree, Map<Integer, Long> started) {
        this.before = before;
        this.tree = tree;
        this.started = started;
    }

    /** The values now, while the tree is frozen; nothing when no task shares cryo's ipc namespace. */
    public static SemaphoresAtKill snapshot(Collection<Integer> treePids) {
        String ours = Namespaces.link("self", "ipc");
        boolean shared = treePids.stream().anyMatch(p -> ours != null && ours.equals(Namespaces.link(Integer.toString(p), "ipc")));
        List<SemSet> sets = new ArrayList<>();
        if (shared) {
            for (SysvIpc.Entry e : SysvIpc.list("sem")) {
                try {
                    sets.add(new SemSet(e.id(), SysvIpc.semValues(e.id(), (int) e.size())));
                } catch (KernelException gone) {
                    // removed meanwhile, or not readable by cryo: the kill cannot matter to it
                }
            }
        }
        Map<Integer, Long> started = new java.util.HashMap<>();
        if (!sets.isEmpty()) {
            treePids.forEach(p -> started.put(p, alive(Pid.of(p))));
        }
        return new SemaphoresAtKill(sets, new HashSet<>(treePids), started);
    }

    /** The watcher's name, as ps shows it, and the first line of its file. */
    private static final String NAME = "cryo-sem-putback";
    /** How long the watcher waits for a stuck task: a task stuck longer is stuck for good (its exit never comes). */
    static final Duration WATCH = Duration.ofMinutes(10);

    /**
     * Once the killed tasks have exited: puts back what their exits changed. A task of {@code killed} not gone
     * yet (stuck before its exit's SEM_UNDO step) is handed to a watcher that puts back what its exit changes
     * once it is gone. Returns what could not be put back, and a note naming each task still to go and the watcher.
     */
    public List<String> putBackAfter(Collection<Pid> killed) {
        if (before.isEmpty()) {
            return List.of();
        }
        if (deathWatch != null) {
            deathWatch.close(); // cryo lives to put back: its watcher goes
            deathWatch = null;
        }
        Map<Pid, Long> stuck = new LinkedHashMap<>();
        for (Pid p : killed) {
            long now = alive(p);
            if (now >= 0 && started.getOrDefault(p.value(), -1L) == now) {
                stuck.put(p, now);
            }
        }
        List<String> problems = putBack();
        if (!stuck.isEmpty()) {
            problems.add(handOver(stuck));
        }
        return problems;
    }

    /** {@code p}'s start time while any thread of it has not exited (whose exit may still apply SEM_UNDO); else -1. */
    private static long alive(Pid p) {
        try {
            ProcStat st = ProcFs.stat(p);
            boolean leaderGone = st.state() == 'Z' || st.state() == 'X';
            return leaderGone && ProcFs.tasks(p).size() <= 1 ? -1 : st.starttime();
        } catch (KernelException gone) {
            return -1;
        }
    }

    private dev.cryo.engine.files.DeathWatch deathWatch;

    /**
     * Should cryo die between the kill and {@link #putBackAfter} (SIGKILL, the OOM killer), the kill's adjustments
     * would stay: a watcher outliving cryo is handed the values from before the kill, the tree's tasks and their
     * start times, and on cryo's death puts back what their exits changed once they are gone, as
     * {@link #putBackAfter} would have ({@link #main}); {@link #putBackAfter} ends it. Nothing when there is nothing
     * to put back. Returns a note when no watcher could be started (the kill goes on: only cryo's death would matter).
     */
    public String armAgainstDeath() {
        if (before.isEmpty()) {
            return null;
        }
        Path file = null;
        try {
            file = watchFile(started.entrySet().stream().filter(e -> e.getValue() >= 0)
                    .collect(java.util.stream.Collectors.toMap(e -> Pid.of(e.getKey()), Map.Entry::getValue)));
            List<String> args = new ArrayList<>(List.of(file.toString()));
            args.addAll(watcher(file));
            deathWatch = dev.cryo.engine.files.DeathWatch.start(NAME, "read -r w <&3; [ \"$w\" = done ] && { rm -f \"$1\";"
                    + " exit 0; }; shift; exec \"$@\"\n", args);
            return null;
        } catch (IOException | RuntimeException e) {
            Leftovers.delete(file);
            return "no watcher would put back the host's semaphores should cryo die before it does: " + e.getMessage();
        }
    }

    /** The command of the watcher's JVM ({@link #main}) on {@code file}, at once or on cryo's death. */
    private static List<String> watcher(Path file) {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:-UsePerfData",
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx32m", "-cp", System.getProperty("java.class.path"),
                SemaphoresAtKill.class.getName(), file.toString());
    }

    /** The watcher's file: {@code tasks} with their start times and the values from before the kill. */
    private Path watchFile(Map<Pid, Long> tasks) throws IOException {
        Path file = Files.createTempFile(NAME + "-", "", PrivateModes.FILE_ATTRIBUTE);
        StringBuilder b = new StringBuilder(NAME).append('\n');
        tasks.forEach((p, started) -> b.append("task ").append(p.value()).append(' ').append(started).append('\n'));
        for (SemSet set : before) {
            b.append("set ").append(set.id());
            Arrays.stream(set.values()).forEach(v -> b.append(' ').append(v));
            b.append('\n');
        }
        Files.writeString(file, b, StandardCharsets.UTF_8);
        return file;
    }

    private String handOver(Map<Pid, Long> stuck) {
        String who = "pid" + (stuck.size() == 1 ? " " : "s ") + stuck.keySet().stream().map(Pid::toString)
                .collect(java.util.stream.Collectors.joining(", "));
        Path file = null;
        try {
            file = watchFile(stuck);
            List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", "\"$@\" >/dev/null 2>&1 &", NAME));
            argv.addAll(watcher(file));
            // the outer shell starts the watcher in the background and exits: it is no child of this JVM's
            Pid outer = Spawner.spawn("/bin/sh", argv, List.of("PATH=/usr/bin:/bin"), true);
            Spawner.reap(outer);
            return who + " of the killed tree had not exited (stuck in the kernel): the SEM_UNDO adjustments its exit"
                    + " applies to the host's semaphores are put back once it is gone, for at most " + WATCH.toMinutes()
                    + " min (" + NAME + ")";
        } catch (IOException | RuntimeException e) {
            Leftovers.delete(file);
            return who + " of the killed tree had not exited (stuck in the kernel): the SEM_UNDO adjustments its exit"
                    + " applies to the host's semaphores will stay, no watcher could be started (" + e.getMessage() + ")";
        }
    }

    /** The watcher: args[0] its file. Waits for the tasks to be gone, then puts back what their exits changed. */
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        List<String> lines = Files.readAllLines(file);
        Leftovers.delete(file);
        if (lines.isEmpty() || !lines.get(0).equals(NAME)) {
            System.exit(2);
        }
        Map<Pid, Long> tasks = new LinkedHashMap<>();
        List<SemSet> sets = new ArrayList<>();
        for (String l : lines.subList(1, lines.size())) {
            String[] w = l.split(" ");
            if (w[0].equals("task")) {
                tasks.put(Pid.of(Integer.parseInt(w[1])), Long.parseLong(w[2]));
            } else if (w[0].equals("set")) {
                sets.add(new SemSet(Integer.parseInt(w[1]), Arrays.stream(w, 2, w.length).mapToInt(Integer::parseInt).toArray()));
            }
        }
        long deadline = System.nanoTime() + WATCH.toNanos();
        while (tasks.entrySet().stream().anyMatch(e -> alive(e.getKey()) == e.getValue()) && System.nanoTime() < deadline) {
            Thread.sleep(20); // a task's end cannot be waited on from here (no pidfd poll in this JVM): a short poll
        }
        Set<Integer> pids = new HashSet<>();
        tasks.keySet().forEach(p -> pids.add(p.value()));
        List<String> problems = new SemaphoresAtKill(sets, pids, Map.of()).putBack();
        problems.forEach(System.err::println);
        System.exit(problems.isEmpty() ? 0 : 1);
    }

    /** Once every killed task has exited: puts back what their exits changed; returns what could not be. */
    List<String> putBack() {
        List<String> problems = new ArrayList<>();
        for (SemSet s : before) {
            int[] now, pids;
            try {
                now = SysvIpc.semValues(s.id(), s.values().length);
                pids = SysvIpc.semPids(s.id(), s.values().length);
            } catch (KernelException gone) {
                continue; // removed since: nothing to put back
            }
            for (int i = 0; i < now.length; i++) {
                int delta = s.values()[i] - now[i];
                if (delta == 0 || !tree.contains(pids[i])) {
                    continue;
                }
                try {
                    SysvIpc.semAdd(s.id(), i, delta);
                } catch (KernelException e) {
                    problems.add("semaphore " + i + " of SysV set " + s.id() + " was " + s.values()[i] + " when the tree was frozen"
                            + " and is " + now[i] + " after its SEM_UNDO adjustments were applied by the kill; putting it back failed: "
                            + e.getMessage());
                }
            }
        }
        return problems;
    }
}
