package dev.cryo.engine.restore;

import dev.cryo.engine.model.ZombieImage;
import dev.cryo.engine.restore.stage.SessionAndGroup;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sched;
import dev.cryo.kernel.Seccomp;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.Set;

/**
 * Brings a zombie back: its parent forks it with its exact pid (and exit signal), it takes its
 * session and group like any task, then — once its parent is restored up to its files and before
 * the parent's own state and resume — it dies the way it died: exit_group(code), or the signal
 * that killed it (default action, unblocked, no core dump). Its parent's wait() then reports
 * that status, as it would have. Runs on the zombie's own tracer thread.
 */
public final class ZombieRestorer {
    private static final long ZOMBIFY_TIMEOUT_NANOS = 5_000_000_000L;

    private final Tracer tracer;
    private final ZombieImage zombie;
    private final Pid pid;
    private final BootstrapArea boot;
    private final Set<Integer> treePids;
    private Injector inj;
    private boolean dead;

    public ZombieRestorer(Tracer tracer, ZombieImage zombie, BootstrapArea boot, Set<Integer> treePids) {
        this.tracer = tracer;
        this.zombie = zombie;
        this.pid = Pid.of(zombie.pid());
        this.boot = boot;
        this.treePids = Set.copyOf(treePids);
    }

    /** The child its parent forked waits in the bootstrap's pause loop: seize it there. */
    public void adopt() {
        tracer.seizeAndInterrupt(pid.value(), 0);
        tracer.waitForStop(pid.value());
        inj = new Injector(tracer, pid, pid.value(), boot.gadget());
    }

    /** The adopted zombie-to-be for the socket hub's calls (a socket whose peer credentials name it). */
    public SocketHub.Remote remote() {
        return new InjectedRemote(pid, inj, boot.data());
    }

    public void leadSessionAndGroup() {
        SessionAndGroup.lead(inj, zombie.ids());
    }

    public void joinGroup() {
        SessionAndGroup.join(inj, zombie.ids(), treePids);
    }

    /** Dies with the dumped status and returns once the kernel shows it as a zombie with that status. */
    public void die() {
        if (zombie.execed()) { // only an exec clears PF_FORKNOEXEC
            inj = dev.cryo.engine.restore.stage.StubExec.exec(tracer, inj, pid, boot, null);
        }
        Sys.write(pid, boot.data(), RemoteWriter.cString(zombie.comm()));
        inj.call("prctl(PR_SET_NAME)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_NAME, boot.data());
        // its scheduling, which /proc still shows (before its creds drop; SCHED_DEADLINE just before its end)
        if (zombie.policy() >= 0 && zombie.policy() != Sched.SCHED_DEADLINE) {
            Sys.write(pid, boot.data(), new RemoteWriter(4).ints(zombie.rtPriority()).toBytes());
            inj.call("sched_setscheduler", SyscallNr.SCHED_SETSCHEDULER, 0, zombie.policy(), boot.data());
        }
        if (zombie.policy() >= 0) {
            inj.call("setpriority", SyscallNr.SETPRIORITY, 0, 0, zombie.nice());
        }
        int uid = zombie.uid();
        for (var r : zombie.rlimits()) {
            dev.cryo.engine.restore.stage.ProcessState.setRlimit(inj, pid, boot.data(), r);
        }
        seccomp(); // while it may still install filters (CAP_SYS_ADMIN)
        if (zombie.creds() != null) { // its ids (waitid reports the real uid) and what its status shows
            setCreds(zombie.creds());
        } else if (uid != 0) { // an image of version 1: the real uid only
            inj.call("setresuid", SyscallNr.SETRESUID, uid, uid, uid);
        }
        restoreHandlers();
        if (zombie.policy() == Sched.SCHED_DEADLINE) {
            // a dead task's deadline parameters read 0/0/0 once its inactive timer fires (the kernel clears them, ms
            // after its death), so any it admits will do: 1 ms every 10, set last, as a small runtime would leave
            // the calls above waiting for the next period
            Sched.setattr(pid.value(), new Sched.Attr(Sched.SCHED_DEADLINE, 0, zombie.nice(), 0, 1_000_000L,
                    10_000_000L, 10_000_000L, 0, Sched.UCLAMP_MAX));
        }
        if (zombie.exited()) {
            tracer.setSigmask(pid.value(), zombie.blocked());
            if (zombie.seccompMode() == Seccomp.MODE_STRICT) { // the last call it makes; strict mode allows exit
                inj.call("prctl(PR_SET_SECCOMP, strict)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_SECCOMP,
                        Seccomp.MODE_STRICT);
            }
            Registers exit = inj.savedRegisters().forSyscall(boot.gadget(), zombie.seccompMode() == Seccomp.MODE_STRICT
                    ? SyscallNr.EXIT : SyscallNr.EXIT_GROUP, new long[] {zombie.exitCode()});
            tracer.setRegisters(pid.value(), exit);
            tracer.detach(pid.value(), pid.value());
        } else {
            int sig = zombie.termSignal();
            // never a core: the dumped status has no core-dump bit (refused otherwise)
            inj.call("prctl(PR_SET_DUMPABLE, 0)", SyscallNr.PRCTL, dev.cryo.kernel.Prctl.PR_SET_DUMPABLE, 0);
            tracer.setSigmask(pid.value(), zombie.blocked() & ~bit(sig));
            // sent once it is let go, waiting in the pause loop: an untraced task takes a fatal
            // signal as the kernel's group-exit shortcut, which leaves the signal pending (ShdPnd)
            // as the dumped zombie shows it
            tracer.setRegisters(pid.value(), inj.savedRegisters().with(Registers.RIP, boot.pauseLoop())
                    .with(Registers.ORIG_RAX, -1));
            tracer.detach(pid.value(), pid.value());
            awaitPause(); // the detach leaves a signal-pending flag that would defeat the shortcut
            Sys.kill(pid, sig);
        }
        dead = true;
        awaitZombie();
    }

    /**
     * As many filters as its status counted, each allowing every call: a zombie never runs again,
     * and its status (mode, count) is all that remains to see of them.
     */
    private void seccomp() {
        if (zombie.seccompMode() != Seccomp.MODE_FILTER) {
            return;
        }
        long program = boot.data() + Seccomp.FPROG_SIZE;
        Sys.write(pid, boot.data(), new RemoteWriter(Seccomp.FPROG_SIZE).longs(1, program).toBytes());
        Sys.write(pid, program, new RemoteWriter(Seccomp.INSN_SIZE).ints(Seccomp.BPF_RET | Seccomp.BPF_K,
                Seccomp.RET_ALLOW).toBytes());
        for (int i = 0; i < zombie.seccompFilters(); i++) {
            inj.call("seccomp(SECCOMP_SET_MODE_FILTER) in zombie " + pid, SyscallNr.SECCOMP, Seccomp.SET_MODE_FILTER, 0,
                    boot.data());
        }
    }

    /** As {@link dev.cryo.engine.restore.stage.Credentials} does for a live thread; groups only if they differ. */
    private void setCreds(dev.cryo.engine.model.Creds c) {
        var now = ProcFs.status(pid);
        var unsigned = (java.util.function.Function<java.util.List<Integer>, long[]>)
                dev.cryo.engine.restore.stage.Credentials::unsigned;
        long[] groups = new java.util.TreeSet<>(now.groups()).equals(new java.util.TreeSet<>(c.groups())) ? null
                : unsigned.apply(c.groups());
        var s = new dev.cryo.engine.model.ThreadSecurity(c.capInh(), c.capPrm(), c.capEff(), c.capBnd(), c.capAmb(), 0,
                zombie.noNewPrivs(), 0, -1);
        // inside a user namespace it names its ids as they are there (zdtm's uns maps root to 20000)
        var uidMap = ownMap("uid_map");
        var gidMap = ownMap("gid_map");
        String what = "zombie " + pid;
        dev.cryo.engine.restore.stage.Credentials.set(inj, (offset, data) -> {
            Sys.write(pid, boot.data() + offset, data);
            return boot.data() + offset;
        }, " in zombie " + pid, dev.cryo.engine.namespaces.UserNamespaceRestore.insideIds(uidMap, c.uids(), what),
                dev.cryo.engine.namespaces.UserNamespaceRestore.insideIds(gidMap, c.gids(), what),
                groups == null ? null : dev.cryo.engine.namespaces.UserNamespaceRestore.insideIds(gidMap, c.groups(), what), s, now,
                dev.cryo.kernel.Prctl.capLastCap(), () -> {});
    }

    /** The stub's user namespace's map as cryo reads it (its ids outside are cryo's). */
    private java.util.List<dev.cryo.engine.namespaces.UserNsImage.IdRange> ownMap(String name) {
        String path = pid.procDir() + "/" + name;
        try {
            return dev.cryo.engine.namespaces.UserNsImage.parse(path, java.nio.file.Files.readString(java.nio.file.Path.of(path)));
        } catch (java.io.IOException | IllegalArgumentException e) {
            throw new RestoreException("zombie " + pid + ": cannot read " + path + ": " + e.getMessage());
        }
    }

    private static long bit(int sig) {
        return 1L << (sig - 1);
    }

    /**
     * A zombie keeps its handlers until it is reaped: each signal gets the default action, SIG_IGN,
     * or a handler (its address never runs) as the dumped sets say; the killing signal's is the default.
     */
    private void restoreHandlers() {
        String text = ProcFs.text(pid.procDir() + "/status");
        long ign = statusHex(text, "SigIgn"), cgt = statusHex(text, "SigCgt");
        for (int sig = 1; sig <= Signals.MAX; sig++) {
            if (sig == Signals.SIGKILL || sig == Signals.SIGSTOP) {
                continue;
            }
            long b = bit(sig);
            boolean killer = !zombie.exited() && sig == zombie.termSignal();
            long want = killer ? 0 : (zombie.ignored() & b) != 0 ? 1 : (zombie.caught() & b) != 0 ? boot.gadget() : 0;
            long have = (ign & b) != 0 ? 1 : (cgt & b) != 0 ? boot.gadget() : 0;
            if ((want == 0) != (have == 0) || (want == 1) != (have == 1)) {
                Sys.write(pid, boot.data(), new RemoteWriter(32).longs(want, 0, 0, 0).toBytes());
                inj.call("rt_sigaction(" + Signals.name(sig) + ")", SyscallNr.RT_SIGACTION, sig, boot.data(), 0, 8);
            }
        }
    }

    private long statusHex(String status, String key) {
        for (String line : status.split("\n")) {
            if (line.startsWith(key + ":")) {
                return Long.parseUnsignedLong(line.substring(key.length() + 1).trim(), 16);
            }
        }
        throw new RestoreException(pid.procDir() + "/status has no " + key + " line");
    }

    /** Until it sleeps in the pause loop (at most 1 s): its pending-signal flag is cleared by then. */
    private void awaitPause() {
        long deadline = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                if (ProcFs.stat(pid).state() == 'S') {
                    return;
                }
            } catch (KernelException e) {
                return;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
    }

    private void awaitZombie() {
        long deadline = System.nanoTime() + ZOMBIFY_TIMEOUT_NANOS;
        while (true) {
            ProcStat st;
            try {
                st = ProcFs.stat(pid);
            } catch (KernelException e) {
                throw new RestoreException("zombie pid " + pid + " was reaped as soon as it died: its parent "
                        + zombie.ids().ppid() + " must not ignore SIGCHLD during the restore");
            }
            if (st.state() == 'Z') {
                if (st.exitCode() != zombie.status()) {
                    throw new RestoreException("zombie pid " + pid + " died with status 0x"
                            + Integer.toHexString(st.exitCode()) + " instead of 0x" + Integer.toHexString(zombie.status()));
                }
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new RestoreException("zombie pid " + pid + " did not die within 5 s (state " + st.state() + ")");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }

    /** Failure path: a zombie-to-be that has not died yet is killed; a dead one goes with its parent. */
    public void kill() {
        if (dead) {
            return;
        }
        try {
            Sys.kill(pid, Signals.SIGKILL);
        } catch (KernelException ignored) {
            // not forked yet, or gone
        }
        tracer.forget(pid.value());
    }
}
