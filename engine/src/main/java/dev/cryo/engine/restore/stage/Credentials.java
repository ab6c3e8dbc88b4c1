package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.Creds;
import dev.cryo.engine.model.ThreadIds;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadSecurity;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStatus;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;

import java.util.ArrayList;
import java.util.List;

/**
 * Groups, ids, capabilities, securebits and no_new_privs, per thread (the kernel keeps credentials
 * per thread; glibc's setxid broadcast is what makes them look per-process: a thread that changed
 * its ids with a raw syscall gets its own back). The stub is root with
 * every capability cryo has, and each step needs some of them, so the order matters (it follows
 * CRIU's restorer, with the ambient set raised before the securebits that may forbid it):
 * <ol>
 * <li>groups and gids, then SECBIT_NO_SETUID_FIXUP so that changing uid keeps the capability sets,
 *     then uids and the fs ids;</li>
 * <li>the inheritable set (keeping everything else), then the ambient capabilities, which must be
 *     in permitted and inheritable when raised;</li>
 * <li>the bounding set and the securebits, both needing CAP_SETPCAP, which is still effective;</li>
 * <li>the final effective, permitted and inheritable sets (this only drops), then no_new_privs.</li>
 * </ol>
 * Steps that need privilege come before this one; the flags a credential change resets (dumpable,
 * parent-death signal) are set again after it, by {@link CredentialResetFlags}.
 */
public final class Credentials implements StateStage {
    @Override
    public String name() {
        return "credentials";
    }

    @Override
    public void run(TaskContext t) {
        int lastCap = Prctl.capLastCap();
        for (ThreadImage th : t.task().threads()) {
            restore(t, th, lastCap);
        }
    }

    private static void restore(TaskContext t, ThreadImage th, int lastCap) {
        ThreadSecurity s = th.security();
        ThreadIds c = idsOf(t.task().creds(), s);
        ProcStatus now = ProcFs.status(t.pid(), Pid.of(th.tid()));
        // sets only shrink: what the thread had must be within what the stub (cryo's own) has
        long missing = (s.capPrm() & ~now.capPrm()) | (s.capBnd() & ~now.capBnd())
                | (s.capInh() & ~(now.capInh() | now.capBnd()));
        if (missing != 0) {
            throw new RestoreException("pid " + t.pid() + " tid " + th.tid() + " had capabilities 0x"
                    + Long.toHexString(missing) + " that cryo itself does not hold: restore it with at least the "
                    + "capabilities it had");
        }
        String where = " in tid " + th.tid();

        // inside a user namespace of the tree the task names its ids as it sees them there
        var user = t.namespaces().userNamespaceOf(t.pid().value());
        String task = "pid " + t.pid() + " tid " + th.tid();
        long[] uids = user.isEmpty() ? unsigned(c.uids())
                : dev.cryo.engine.namespaces.UserNamespaceRestore.insideIds(user.get().uidMap(), c.uids(), task);
        long[] gids = user.isEmpty() ? unsigned(c.gids())
                : dev.cryo.engine.namespaces.UserNamespaceRestore.insideIds(user.get().gidMap(), c.gids(), task);
        long[] g = null;
        if (user.isEmpty() || user.get().setgroupsAllowed()) {
            g = user.isEmpty() ? unsigned(c.groups())
                    : dev.cryo.engine.namespaces.UserNamespaceRestore.insideIds(user.get().gidMap(), c.groups(), task);
        } else if (!new java.util.TreeSet<>(now.groups()).equals(new java.util.TreeSet<>(c.groups()))) {
            // setgroups is denied in there for good: the groups are those it was forked with
            throw new RestoreException(task + ": its supplementary groups " + c.groups() + " cannot be set in its user"
                    + " namespace (setgroups is denied there) and it was forked with " + now.groups());
        }
        int stashed = (g == null ? 0 : 4 * g.length + 4) + 2 * CAPSET_BYTES + 4 * 8;
        if (th.tid() != t.pid().value() || stashed > dev.cryo.engine.restore.BootstrapArea.PAGE) {
            // call by call; the puts run the main thread's queue first: those calls before these
            steps(t::put, where, uids, gids, g, s, now, lastCap).runEach(t.injector(th.tid()), () -> checkFsIds(t, th, c));
            return;
        }
        // the main thread's calls queued, their structs stashed: in one batch with the process's and the
        // thread's state before them (about ten calls, two round trips each, were a restore's longest run
        // of single calls, in the downtime of a migration); the fs ids checked once they have run
        t.stashRoom(stashed);
        steps((offset, data) -> t.stash(data), where, uids, gids, g, s, now, lastCap).queue(t);
        t.afterQueue(() -> checkFsIds(t, th, c));
    }

    /** Where the sets are written before a call reads them: (offset, bytes) → address in the task. */
    public interface Scratch {
        long put(long offset, byte[] data);
    }

    /**
     * The two capsets' arguments, each {@link #CAPSET_BYTES}, at the end of the scratch area: the
     * groups come first from offset 0, and every call's data stays in place until the last call has
     * run (a batch reads them all at the end).
     */
    private static final int CAPSET_BYTES = 32;
    private static final long CAPS_FIRST = dev.cryo.engine.restore.BootstrapArea.DATA_SIZE - 2 * CAPSET_BYTES,
            CAPS_LAST = CAPS_FIRST + CAPSET_BYTES;

    /**
     * The calls, in order, their names for errors and where the ids are all set ({@code idsSet}: the
     * index of the first call after them).
     */
    private record Steps(List<SyscallBatch.Call> calls, List<String> names, int idsSet) {
        /** Queued in the main thread ({@link TaskContext#later}). */
        void queue(TaskContext t) {
            for (int i = 0; i < calls.size(); i++) {
                t.later(names.get(i), calls.get(i).nr(), calls.get(i).args());
            }
        }

        /** Call by call; {@code idsSet} runs once the ids are set. */
        void runEach(Injector inj, Runnable idsSetHook) {
            for (int i = 0; i < calls.size(); i++) {
                if (i == idsSet) {
                    idsSetHook.run();
                }
                inj.call(names.get(i), calls.get(i).nr(), calls.get(i).args());
            }
            if (idsSet == calls.size()) {
                idsSetHook.run();
            }
        }
    }

    /**
     * Sets a thread's ids (as it names them), groups ({@code groups} null: left as they are),
     * capability sets, securebits and no_new_privs, in the order above; {@code now} is its status
     * before; {@code idsSet} runs once the ids are set. Also for a zombie before it dies again.
     */
    public static void set(Injector inj, Scratch at, String where, long[] uids, long[] gids, long[] groups,
                           ThreadSecurity s, ProcStatus now, int lastCap, Runnable idsSet) {
        steps(at, where, uids, gids, groups, s, now, lastCap).runEach(inj, idsSet);
    }

    private static Steps steps(Scratch at, String where, long[] uids, long[] gids, long[] groups,
                               ThreadSecurity s, ProcStatus now, int lastCap) {
        List<SyscallBatch.Call> calls = new ArrayList<>();
        List<String> names = new ArrayList<>();
        java.util.function.BiConsumer<String, SyscallBatch.Call> add = (name, call) -> {
            names.add(name + where);
            calls.add(call);
        };
        long groupBytes = 0;
        if (groups != null) {
            groupBytes = 4L * groups.length + 4;
            if (groupBytes > CAPS_FIRST) {
                throw new RestoreException(groups.length + " supplementary groups" + where + ": more than cryo restores ("
                        + CAPS_FIRST / 4 + ")");
            }
            long g = at.put(0, new RemoteWriter(4 * groups.length + 4)
                    .ints(java.util.Arrays.stream(groups).mapToInt(x -> (int) x).toArray()).toBytes());
            add.accept("setgroups", new SyscallBatch.Call(SyscallNr.SETGROUPS, groups.length, g));
        }
        add.accept("setresgid", new SyscallBatch.Call(SyscallNr.SETRESGID, gids[0], gids[1], gids[2]));
        add.accept("setfsgid", new SyscallBatch.Call(SyscallNr.SETFSGID, gids[3]));
        add.accept("prctl(PR_SET_SECUREBITS, NO_SETUID_FIXUP)", new SyscallBatch.Call(SyscallNr.PRCTL,
                Prctl.PR_SET_SECUREBITS, Prctl.SECBIT_NO_SETUID_FIXUP));
        add.accept("setresuid", new SyscallBatch.Call(SyscallNr.SETRESUID, uids[0], uids[1], uids[2]));
        add.accept("setfsuid", new SyscallBatch.Call(SyscallNr.SETFSUID, uids[3]));
        int idsSet = calls.size();

        capset(at, CAPS_FIRST, now.capPrm(), now.capPrm(), s.capInh(), add);
        if (now.capAmb() != 0) { // a stub in a user namespace without root keeps its capabilities so
            add.accept("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", new SyscallBatch.Call(SyscallNr.PRCTL, Prctl.PR_CAP_AMBIENT,
                    Prctl.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
        }
        for (int cap = 0; cap <= lastCap; cap++) {
            if ((s.capAmb() & (1L << cap)) != 0) {
                add.accept("prctl(PR_CAP_AMBIENT_RAISE, " + cap + ")", new SyscallBatch.Call(SyscallNr.PRCTL,
                        Prctl.PR_CAP_AMBIENT, Prctl.PR_CAP_AMBIENT_RAISE, cap, 0, 0));
            }
        }
        for (int cap = 0; cap <= lastCap; cap++) {
            if ((s.capBnd() & (1L << cap)) == 0 && (now.capBnd() & (1L << cap)) != 0) {
                add.accept("prctl(PR_CAPBSET_DROP, " + cap + ")", new SyscallBatch.Call(SyscallNr.PRCTL,
                        Prctl.PR_CAPBSET_DROP, cap));
            }
        }
        add.accept("prctl(PR_SET_SECUREBITS, 0x" + Integer.toHexString(s.securebits()) + ")",
                new SyscallBatch.Call(SyscallNr.PRCTL, Prctl.PR_SET_SECUREBITS, s.securebits()));
        capset(at, CAPS_LAST, s.capEff(), s.capPrm(), s.capInh(), add);
        if (s.noNewPrivs()) {
            add.accept("prctl(PR_SET_NO_NEW_PRIVS)", new SyscallBatch.Call(SyscallNr.PRCTL, Prctl.PR_SET_NO_NEW_PRIVS,
                    1, 0, 0, 0));
        }
        return new Steps(calls, names, idsSet);
    }

    /** The thread's own ids, or its task's. */
    static ThreadIds idsOf(Creds task, ThreadSecurity s) {
        return s.ownIds() != null ? s.ownIds() : new ThreadIds(task.uids(), task.gids(), task.groups());
    }

    public static long[] unsigned(java.util.List<Integer> ids) {
        return ids.stream().mapToLong(Integer::toUnsignedLong).toArray();
    }

    /** setfsuid/setfsgid report nothing useful on failure: read the result back. */
    private static void checkFsIds(TaskContext t, ThreadImage th, ThreadIds c) {
        ProcStatus after = ProcFs.status(t.pid(), Pid.of(th.tid()));
        if (after.uids().filesystem() != c.uids().get(3) || after.gids().filesystem() != c.gids().get(3)) {
            throw new RestoreException("pid " + t.pid() + " tid " + th.tid() + ": fsuid/fsgid came back as "
                    + after.uids().filesystem() + "/" + after.gids().filesystem() + ", expected " + c.uids().get(3)
                    + "/" + c.gids().get(3));
        }
    }

    /** capset(2), version 3: a header {version, pid 0} and two {effective, permitted, inheritable} words. */
    public static void capset(Scratch at, Injector inj, long eff, long prm, long inh, String where) {
        capset(at, 0, eff, prm, inh, (name, call) -> inj.call(name + where, call.nr(), call.args()));
    }

    /** As above, its arguments at {@code offset}, the call handed to {@code add}. */
    private static void capset(Scratch at, long offset, long eff, long prm, long inh,
                               java.util.function.BiConsumer<String, SyscallBatch.Call> add) {
        long header = at.put(offset, new RemoteWriter(8).ints(Prctl.LINUX_CAPABILITY_VERSION_3, 0).toBytes());
        long data = at.put(offset + 8, new RemoteWriter(24).ints((int) eff, (int) prm, (int) inh, (int) (eff >>> 32),
                (int) (prm >>> 32), (int) (inh >>> 32)).toBytes());
        add.accept("capset(eff 0x" + Long.toHexString(eff) + ", prm 0x" + Long.toHexString(prm) + ", inh 0x"
                + Long.toHexString(inh) + ")", new SyscallBatch.Call(SyscallNr.CAPSET, header, data));
    }
}
