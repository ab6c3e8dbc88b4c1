package dev.cryo.engine.dump;

import dev.cryo.engine.namespaces.UserNsImage;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStatus;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The processes a dump's Landlock probe ({@link LandlockDomain}) compares a task with where cryo
 * itself cannot be that process: a task that may not ptrace cryo by its credentials (another uid,
 * no CAP_SYS_PTRACE) or does not see cryo's pid (a container's pid namespace). A witness is a
 * {@code cat} reading a pipe cryo holds, in the task's user and pid namespaces, with the task's real
 * uid and gid in every slot, no capabilities, dumpable (it exec'd with them) and in no domain: the
 * kernel lets the task read-access it (kcmp) unless a Landlock domain stops it. One per user
 * namespace, pid namespace, uid and gid, for one dump; started before the freeze ({@link #prepare}),
 * ended by {@link #close} (and by cryo's exit: its stdin closes).
 */
public final class LandlockWitnesses implements AutoCloseable {
    private static final String CAT = "/usr/bin/cat";
    private static final long READY_NANOS = 10_000_000_000L;

    private record Key(String userNs, String pidNs, int uid, int gid) {}

    private final ConcurrentHashMap<Key, Witness> made = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** Starts the witnesses the tasks of {@code tree} need, without waiting for them. */
    public void prepare(List<Pid> tree) {
        for (Pid p : tree) {
            try {
                ProcStatus status = ProcFs.status(p);
                if (!LandlockDomain.cryoWitnesses(p.value(), status)) {
                    witness(p.value(), status);
                }
            } catch (RuntimeException gone) {
                // exited, or no witness can be made: the collect asks again and says
            }
        }
    }

    /**
     * The pid (as task {@code pid}'s pid namespace numbers it) of a witness for that task, waiting
     * for it to be ready; or a {@link RuntimeException} saying why there is none.
     */
    public int of(int pid, ProcStatus status) {
        return witness(pid, status).ready();
    }

    private Witness witness(int pid, ProcStatus status) {
        String task = Integer.toString(pid);
        Key key = new Key(Namespaces.link(task, "user"), Namespaces.link(task, "pid"), status.uids().real(),
                status.gids().real());
        if (key.userNs() == null || key.pidNs() == null) {
            throw new IllegalStateException("its namespaces are unreadable");
        }
        if (closed) {
            throw new IllegalStateException("the dump is over");
        }
        return made.computeIfAbsent(key, k -> new Witness(pid, k));
    }

    @Override
    public void close() {
        closed = true;
        made.values().forEach(Witness::close);
        made.clear();
    }

    /** One witness: nsenter (which forks it into the pid namespace) and, once ready, its pids. */
    private static final class Witness {
        private final Process nsenter;
        private final RuntimeException failed;
        private final int uid, gid;
        private volatile int inner;

        Witness(int pid, Key key) {
            this.uid = key.uid();
            this.gid = key.gid();
            Process started = null;
            RuntimeException why = null;
            try {
                started = start(pid, key);
            } catch (IOException | RuntimeException e) {
                why = new IllegalStateException("cannot start a witness: " + e.getMessage(), e);
            }
            this.nsenter = started;
            this.failed = why;
        }

        private static Process start(int pid, Key key) throws IOException {
            String self = Long.toString(ProcessHandle.current().pid());
            boolean ownUsers = key.userNs().equals(Namespaces.link(self, "user"));
            List<String> cmd = new java.util.ArrayList<>(List.of("nsenter", "-t", Integer.toString(pid), "--pid"));
            if (!ownUsers) {
                cmd.addAll(List.of("--user", "--preserve-credentials"));
            }
            String base = "/proc/" + pid + "/";
            cmd.addAll(List.of("--", "setpriv", "--reuid", Long.toString(inside(base + "uid_map", key.uid())),
                    "--regid", Long.toString(inside(base + "gid_map", key.gid())),
                    // setgroups is denied in most user namespaces; groups do not matter to ptrace
                    ownUsers ? "--clear-groups" : "--keep-groups",
                    "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", CAT));
            return new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectErrorStream(true).start();
        }

        /** {@code id} (as cryo's user namespace names it) as the task's user namespace names it. */
        private static long inside(String map, int id) throws IOException {
            long outer = Integer.toUnsignedLong(id);
            for (UserNsImage.IdRange r : UserNsImage.parse(map, Files.readString(Path.of(map)))) {
                if (outer >= r.outside() && outer < r.outside() + r.count()) {
                    return r.inside() + outer - r.outside();
                }
            }
            throw new IllegalStateException("id " + outer + " is not mapped in " + map);
        }

        /** Polls until nsenter's child runs {@code cat} with the witness's credentials. */
        synchronized int ready() {
            if (failed != null) {
                throw failed;
            }
            if (inner > 0) {
                return inner;
            }
            long deadline = System.nanoTime() + READY_NANOS;
            while (true) {
                Integer found = child();
                if (found != null) {
                    return inner = found;
                }
                if (!nsenter.isAlive()) {
                    throw new IllegalStateException("the witness exited: " + output());
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the witness did not start within "
                            + READY_NANOS / 1_000_000_000L + " s");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(200_000);
            }
        }

        /** The witness's pid in its pid namespace once it runs {@code cat} as the task's ids with no capability. */
        private Integer child() {
            long n = nsenter.pid();
            try {
                String[] kids = Files.readString(Path.of("/proc/" + n + "/task/" + n + "/children")).trim().split(" ");
                if (kids[0].isEmpty()) {
                    return null;
                }
                Pid c = new Pid(Integer.parseInt(kids[0]));
                if (!Files.readSymbolicLink(Path.of(c.procDir(), "exe")).toString().equals(CAT)) {
                    return null;
                }
                ProcStatus s = ProcFs.status(c);
                if (!s.uids().asList().stream().allMatch(u -> u == uid) || !s.gids().asList().stream().allMatch(g -> g == gid)
                        || s.capPrm() != 0 || s.capEff() != 0) {
                    return null;
                }
                return s.nsPid().get(s.nsPid().size() - 1);
            } catch (IOException | RuntimeException notYet) {
                return null;
            }
        }

        private String output() {
            try {
                return new String(nsenter.getInputStream().readNBytes(4096)).strip();
            } catch (IOException e) {
                return "(unreadable)";
            }
        }

        /** Its stdin closed, the witness ends and nsenter with it. */
        void close() {
            if (nsenter == null) {
                return;
            }
            try {
                nsenter.getOutputStream().close();
                if (!nsenter.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                    nsenter.destroyForcibly();
                }
            } catch (IOException | InterruptedException e) {
                nsenter.destroyForcibly();
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
