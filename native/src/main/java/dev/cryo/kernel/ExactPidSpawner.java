package dev.cryo.kernel;

import com.sun.jna.Memory;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Ptrace;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Starts a program as a child of this process with a chosen pid, atomically: a throw-away stub is
 * made to call clone3 with set_tid and CLONE_PARENT (so the new process is this process's child),
 * and the new process execs the program. Either the pid is free and the program gets it, or the
 * kernel says EEXIST: unlike setting ns_last_pid and forking, no other process forking at the same
 * moment can take the pid in between (a killed task's parent forking its next command would).
 * Afterwards ns_last_pid is moved past {@code skipTo} (never backwards), so the tree's other pids
 * are unlikely to be handed to anyone else before cryo creates them; put back once the restores end
 * ({@link NsLastPid#hold}).
 */
public final class ExactPidSpawner {
    private ExactPidSpawner() {}

    /** The pid is held by another process. */
    public static final class PidTakenException extends KernelException {
        public PidTakenException(int pid) {
            super("pid " + pid + " is in use");
        }
    }

    private static final int CLONE_PARENT = 0x8000;
    private static final int PAGE = 4096, PROT_RW = 3, MAP_PRIVATE_ANON = 0x22;

    public static Pid spawn(int pid, int skipTo, String path, List<String> argv, boolean newSession) {
        return spawn(pid, skipTo, path, argv, newSession, false);
    }

    /**
     * As above; {@code dieWithParent}: the program gets SIGKILL when its parent — the thread
     * calling this, which must outlive it — ends (PR_SET_PDEATHSIG, set before the exec, which
     * keeps it), so it never outlives this process whichever way this process dies.
     */
    public static Pid spawn(int pid, int skipTo, String path, List<String> argv, boolean newSession,
                            boolean dieWithParent) {
        return fromStub(sleepStub(), pid, skipTo,
                path, argv, newSession, dieWithParent, true, 0, new int[] {pid});
    }

    /**
     * As {@link #spawn(int, int, String, List, boolean, boolean)} dying with its parent, running as user
     * {@code uid} and group {@code gid} with no supplementary groups, set at its birth, before its exec: it is
     * dumpable after it, so its /proc files are that user's (a stand-in for an exited process of that user).
     */
    public static Pid spawnAs(int pid, int uid, int gid, String path, List<String> argv) {
        return fromStub(sleepStub(), pid, pid, path, argv, false, true, true, 0, new int[] {pid}, 0, null, in -> {
            in.call("setgroups(0)", SyscallNr.SETGROUPS, 0, 0);
            in.call("setresgid(" + gid + ")", SyscallNr.SETRESGID, gid, gid, gid);
            in.call("setresuid(" + uid + ")", SyscallNr.SETRESUID, uid, uid, uid); // clears PDEATHSIG: set after it
        });
    }

    /**
     * As {@link #spawn(int, int, String, List, boolean)}, the program made in new namespaces
     * ({@code nsFlags}: CLONE_NEWPID, CLONE_NEWUTS...) with {@code setTid} its pid at every level,
     * innermost first, as clone3 takes them ({1, pid} for the init of a new pid namespace);
     * {@code pid} is the one this process sees. {@code exec} false: a fork of the stub that runs
     * nothing, as {@link #spawnForked}.
     */
    public static Pid spawnInNamespaces(int pid, int[] setTid, int nsFlags, int skipTo, String path, List<String> argv,
                                        boolean newSession, boolean exec, int pidfdAt) {
        return spawnInNamespaces(pid, setTid, nsFlags, skipTo, path, argv, newSession, exec, pidfdAt, 0);
    }

    /**
     * The same; {@code deadLeaderSid} above 0: in the session and group of that pid, whose leader
     * has exited (the init of {@code unshare --fork}, in unshare's session), made by a helper with
     * that pid ({@link #spawnInSessionOf}).
     */
    public static Pid spawnInNamespaces(int pid, int[] setTid, int nsFlags, int skipTo, String path, List<String> argv,
                                        boolean newSession, boolean exec, int pidfdAt, int deadLeaderSid) {
        return spawnInNamespaces(pid, setTid, nsFlags, skipTo, path, argv, newSession, exec, pidfdAt, deadLeaderSid, null);
    }

    /**
     * The same; {@code atBirth} (may be null) runs syscalls in the new process as soon as it is
     * born, before anything else, its exec included (a new user namespace gets its maps there).
     */
    public static Pid spawnInNamespaces(int pid, int[] setTid, int nsFlags, int skipTo, String path, List<String> argv,
                                        boolean newSession, boolean exec, int pidfdAt, int deadLeaderSid,
                                        java.util.function.Consumer<Injector> atBirth) {
        return spawnInNamespaces(pid, setTid, nsFlags, skipTo, path, argv, newSession, exec, pidfdAt, deadLeaderSid, null,
                atBirth);
    }

    /**
     * The same; {@code beforeFork} (may be null) runs syscalls in the stub that forks it, just
     * before (the stub is killed after: a new user namespace's owner is the forker's euid).
     */
    public static Pid spawnInNamespaces(int pid, int[] setTid, int nsFlags, int skipTo, String path, List<String> argv,
                                        boolean newSession, boolean exec, int pidfdAt, int deadLeaderSid,
                                        java.util.function.ObjIntConsumer<Injector> beforeFork,
                                        java.util.function.Consumer<Injector> atBirth) {
        Pid stub = deadLeaderSid > 0 ? sessionLeader(deadLeaderSid, skipTo)
                : sleepStub();
        return fromStub(stub, pid, skipTo, path, argv, newSession, false, exec, nsFlags, setTid, pidfdAt, beforeFork,
                atBirth);
    }

    /**
     * As above, but the new process runs no program: a fork of the stub (/bin/sleep), waiting in
     * pause() until it is adopted, with PF_FORKNOEXEC set as a task that never exec'd after its
     * fork has it (a daemon's root). {@code sid}: its session, made by the stub as its own when
     * it is {@code pid} itself, by a helper with that pid when its leader has exited
     * ({@link #spawnInSessionOf}), else the caller's.
     */
    public static Pid spawnForked(int pid, int skipTo, int sid, boolean deadLeader, boolean dieWithParent) {
        if (deadLeader) {
            return fromStub(sessionLeader(sid, skipTo), pid, skipTo, "/bin/sleep", List.of("sleep"), false,
                    dieWithParent, false, 0, new int[] {pid});
        }
        return fromStub(sleepStub(), pid, skipTo,
                "/bin/sleep", List.of("sleep"), sid == pid, dieWithParent, false, 0, new int[] {pid});
    }

    /**
     * A fork of a sleep stub, a child of this process waiting in pause() as {@link #spawnForked}'s do,
     * with pid {@code nsPid} in the pid namespace task {@code member} is in (any free one outside):
     * the stand-in for a process of a container that had exited, whose /proc directory a task of it
     * named (CRIU makes such helpers too). It dies with the thread that made it.
     */
    public static Pid spawnInPidNamespaceOf(Pid member, int nsPid) {
        return inNamespacesOf(member, Clone.NEWPID, 0, new int[] {nsPid}, 0, null);
    }

    /**
     * As above, running as user {@code uid} and group {@code gid} (as this process's user namespace numbers them) with
     * no supplementary groups, and dumpable: its /proc files are that user's, as the exited process's were. The
     * change of user made it undumpable (fs.suid_dumpable), which gives /proc files root's owner, and it never execs.
     */
    public static Pid spawnInPidNamespaceOf(Pid member, int nsPid, int uid, int gid) {
        return inNamespacesOf(member, Clone.NEWPID, 0, new int[] {nsPid}, 0, in -> {
            in.call("setgroups(0)", SyscallNr.SETGROUPS, 0, 0);
            in.call("setresgid(" + gid + ")", SyscallNr.SETRESGID, gid, gid, gid);
            in.call("setresuid(" + uid + ")", SyscallNr.SETRESUID, uid, uid, uid); // clears PDEATHSIG: set after it
            in.call("prctl(PR_SET_DUMPABLE, 1)", SyscallNr.PRCTL, Prctl.PR_SET_DUMPABLE, 1);
        });
    }

    /**
     * As above, in {@code member}'s net namespace too, and at pid {@code outerPid} in this process's pid
     * namespace when {@code member}'s is a child of it and that pid is free (else at any): the stand-in for
     * a container's process that had exited, which a unix socket's peer credentials name (a socket made
     * there is the container's, and outside it names the pid it named). It holds a pidfd of this process at
     * fd {@code pidfdAt}: inside, this process's pid means nothing.
     */
    public static Pid spawnInNamespacesOf(Pid member, int nsPid, int outerPid, int pidfdAt) {
        if (dev.cryo.kernel.proc.ProcFs.status(member).nsPid().size() == 2) {
            try {
                return inNamespacesOf(member, Clone.NEWPID | Clone.NEWNET, outerPid, new int[] {nsPid, outerPid}, pidfdAt,
                        null);
            } catch (PidTakenException e) {
                // outer or inner pid taken: tried again at the inner one only, which tells which
            }
        }
        return inNamespacesOf(member, Clone.NEWPID | Clone.NEWNET, 0, new int[] {nsPid}, pidfdAt, null);
    }

    private static Pid inNamespacesOf(Pid member, int nsFlags, int pid, int[] setTid, int pidfdAt,
                                      java.util.function.Consumer<Injector> atBirth) {
        String which = (nsFlags & Clone.NEWNET) != 0 ? "CLONE_NEWPID|CLONE_NEWNET" : "CLONE_NEWPID";
        return fromStub(sleepStub(), pid, 0, "/bin/sleep",
                List.of("sleep"), false, true, false, 0, setTid, pidfdAt, (inj, stub) -> {
                    long fd = inj.call("pidfd_open(" + member + ")", SyscallNr.PIDFD_OPEN, member.value(), 0);
                    inj.call("setns(pidfd of " + member + ", " + which + ")", SyscallNr.SETNS, fd, nsFlags);
                    inj.call("close", SyscallNr.CLOSE, fd);
                }, atBirth);
    }

    /**
     * As above, in session {@code sid} whose leader has exited (a daemon that forked twice around
     * its setsid): a helper takes the leader's pid and makes the session and its group, the
     * program is forked from it and inherits both; the helper is kept ({@link #keptLeader}) until the
     * restore ends it ({@link #endLeader}) before the tree runs — gone, as the leader was.
     * {@code sid} must be free.
     */
    public static Pid spawnInSessionOf(int sid, int pid, int skipTo, String path, List<String> argv,
                                       boolean dieWithParent) {
        return fromStub(sessionLeader(sid, skipTo), pid, skipTo, path, argv, false, dieWithParent, true, 0,
                new int[] {pid});
    }

    /**
     * The helper in the dead leader's place: a fork of a sleep stub with pid {@code sid} that made
     * session and group {@code sid}, waiting in pause() as {@link #spawnForked}'s do. It is kept
     * after it forked the program ({@link #keptLeader}) until the restore ends it ({@link #endLeader}):
     * sockets whose peer credentials name the dead leader (a daemon that listened before it forked
     * away from the session `setsid` made: gpg-agent) are made in it, the only process that can have
     * that pid while the session holds it. It dies with the thread that made it.
     */
    private static Pid sessionLeader(int sid, int skipTo) {
        Pid leader = fromStub(sleepStub(), sid,
                Math.max(sid, skipTo), "/bin/sleep", List.of("sleep"), true, true, false, 0, new int[] {sid});
        KEPT_LEADERS.put(sid, leader);
        return leader;
    }

    /** Session helpers kept after their program was forked, by session id. */
    private static final java.util.Map<Integer, Pid> KEPT_LEADERS = new java.util.concurrent.ConcurrentHashMap<>();

    /** The helper holding dead session leader {@code sid}'s pid, or null: detached, in pause(). */
    public static Pid keptLeader(int sid) {
        return KEPT_LEADERS.get(sid);
    }

    /** Kills and reaps the helper of session {@code sid}, if it is still kept. */
    public static void endLeader(int sid) {
        Pid leader = KEPT_LEADERS.remove(sid);
        if (leader != null) {
            Spawner.killAndReap(leader);
        }
    }

    /** A throw-away sleeping child of this process that forks the program. */
    private static Pid sleepStub() {
        return Spawner.spawn("/bin/sleep", List.of("sleep", "1000000"), List.of(), false);
    }

    /** Makes {@code stub} (a sleeping child of this process, killed and reaped here) fork the program with {@code pid}. */
    private static Pid fromStub(Pid stub, int pid, int skipTo, String path, List<String> argv, boolean newSession,
                                boolean dieWithParent, boolean exec, int nsFlags, int[] setTid) {
        return fromStub(stub, pid, skipTo, path, argv, newSession, dieWithParent, exec, nsFlags, setTid, 0, null, null);
    }

    /**
     * {@code pidfdAt} above 0: the program inherits a pidfd of this process at that fd (kept across
     * its exec): inside a new pid namespace this process's pid means nothing, and its restorer takes
     * files from this process through that pidfd (pidfd_getfd).
     */
    private static Pid fromStub(Pid stub, int pid, int skipTo, String path, List<String> argv, boolean newSession,
                                boolean dieWithParent, boolean exec, int nsFlags, int[] setTid, int pidfdAt,
                                java.util.function.ObjIntConsumer<Injector> beforeFork,
                                java.util.function.Consumer<Injector> atBirth) {
        if (pid > 0 && stub.value() == pid) {
            // the host's next pid was set back below the pid (a restore wrote ns_last_pid): the stub got it itself.
            // A second stub takes the next one, and the pid is free again once the first is reaped
            Pid other = sleepStub();
            Spawner.killAndReap(stub);
            stub = other;
        }
        int child = 0;
        boolean keep = false;
        try (Tracer tracer = new Tracer()) {
            try {
                if (!Spawner.awaitSleeping(stub, "sleep", 5000)) {
                    throw new KernelException("the spawning stub " + stub + " did not start within 5 s");
                }
                tracer.seizeAndInterrupt(stub.value(), Ptrace.O_TRACECLONE | Ptrace.O_TRACEFORK | Ptrace.O_EXITKILL);
                tracer.waitForStop(stub.value());
                long gadget = SyscallGadget.inVdso(stub);
                Injector inj = new Injector(tracer, stub, stub.value(), gadget);
                long scratch = inj.call("mmap(scratch)", SyscallNr.MMAP, 0, PAGE, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
                Sys.write(stub, scratch, scratchPage(scratch, nsFlags, setTid, path, argv));
                if (pidfdAt > 0) {
                    long self = inj.call("pidfd_open(self)", SyscallNr.PIDFD_OPEN, ProcessHandle.current().pid(), 0);
                    inj.call("dup3(pidfd)", SyscallNr.DUP3, self, pidfdAt, 0); // without O_CLOEXEC: kept across the exec
                    inj.call("close", SyscallNr.CLOSE, self);
                }
                if (beforeFork != null) {
                    beforeFork.accept(inj, stub.value());
                }
                // exit_signal must be 0 with CLONE_PARENT: the child gets the stub's (SIGCHLD)
                long r = inj.raw(SyscallNr.CLONE3, scratch, 88);
                for (int born : tracer.takeNewTracees()) {
                    child = born;
                }
                if (Injector.isError(r)) {
                    if ((int) -r == Errno.EEXIST) {
                        throw new PidTakenException(pid > 0 ? pid : setTid[0]);
                    }
                    throw new SyscallException("clone3(set_tid " + pid + ")", (int) -r);
                }
                if (pid > 0 ? r != pid || child != pid : r != child || child <= 0) { // 0: any pid here, setTid[0] inside
                    throw new KernelException("asked for pid " + (pid > 0 ? pid : setTid[0] + " inside") + " and got " + r);
                }
                tracer.waitForStop(child);
                Pid made = Pid.of(child);
                Injector in = new Injector(tracer, made, child, gadget); // its registers are the exec's: never put back
                in.keepRegistersOnClose();
                if (atBirth != null) {
                    atBirth.accept(in);
                }
                if (newSession) {
                    in.call("setsid", SyscallNr.SETSID);
                }
                if (dieWithParent) {
                    in.call("prctl(PR_SET_PDEATHSIG, SIGKILL)", SyscallNr.PRCTL, Prctl.PR_SET_PDEATHSIG, Signals.SIGKILL);
                }
                if (exec) {
                    long e = in.raw(SyscallNr.EXECVE, scratch + 128, scratch + 1024, scratch + 1024 + 8L * (argv.size() + 1));
                    if (Injector.isError(e)) {
                        throw new SyscallException("execve(" + path + ") as pid " + pid, (int) -e);
                    }
                } else { // the stub's copy sleeps in pause() at the gadget until a restorer seizes it
                    tracer.setRegisters(child, tracer.getRegisters(child).forSyscall(gadget, SyscallNr.PAUSE, new long[0]));
                }
                // until a restorer adopts it, a signal would get the stub's default action (most kill it):
                // blocked, it waits pending (kept across the exec) for the task the stub becomes, whose
                // own mask the restore installs
                tracer.setSigmask(child, -1L);
                tracer.detach(child, child);
                NsLastPid.skipPast(skipTo);
                if (KEPT_LEADERS.containsValue(stub)) { // back in its pause(), untraced, for whoever needs its pid
                    inj.close();
                    tracer.detach(stub.value(), stub.value());
                    keep = true;
                }
                return made;
            } catch (RuntimeException e) {
                if (child > 0) {
                    Sys.kill(Pid.of(child), Signals.SIGKILL);
                    Spawner.reap(Pid.of(child));
                }
                throw e;
            } finally {
                if (!keep) { // killed and reaped while still traced and stopped: the tracer's close would let it
                    // run on from the injected clone3 at the vDSO gadget into its own stack (a SIGSEGV before the kill)
                    KEPT_LEADERS.values().remove(stub);
                    Spawner.killAndReap(stub);
                }
            }
        }
    }

    /** clone_args at 0 (set_tid at 88), the path at 128, strings from 256, argv then envp at 1024. */
    private static byte[] scratchPage(long base, int nsFlags, int[] setTid, String path, List<String> argv) {
        if (setTid.length < 1 || setTid.length > 8) {
            throw new IllegalArgumentException("set_tid takes 1 to 8 pids, not " + setTid.length);
        }
        Memory m = new Memory(2048);
        m.clear();
        m.setLong(64, base + 88);  // set_tid
        m.setLong(72, setTid.length); // set_tid_size: one pid per pid namespace level, innermost first
        m.setLong(0, CLONE_PARENT | (nsFlags & 0xffffffffL));
        for (int i = 0; i < setTid.length; i++) {
            m.setInt(88 + 4L * i, setTid[i]);
        }
        m.setString(128, path, "UTF-8");
        long at = 256;
        for (int i = 0; i < argv.size(); i++) {
            byte[] s = argv.get(i).getBytes(StandardCharsets.UTF_8);
            if (at + s.length + 1 > 1024) {
                throw new IllegalArgumentException("arguments too long for the spawning stub");
            }
            m.write(at, s, 0, s.length);
            m.setLong(1024 + 8L * i, base + at);
            at += s.length + 1;
        }
        return m.getByteArray(0, 2048);
    }
}
