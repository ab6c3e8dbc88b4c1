package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.Creds;
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

/**
 * Groups, ids, capabilities, securebits and no_new_privs, per thread (the kernel keeps credentials
 * per thread; glibc's setxid broadcast is what makes them look per-process). The stub is root with
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
        Creds c = t.task().creds();
        ThreadSecurity s = th.security();
        Injector inj = t.injector(th.tid());
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
        set(inj, t::put, where, uids, gids, g, s, now, lastCap, () -> checkFsIds(t, th, c));
    }

    /** Where the sets are written before a call reads them: (offset, bytes) → address in the task. */
    public interface Scratch {
        long put(long offset, byte[] data);
    }

    /**
     * Sets a thread's ids (as it names them), groups ({@code groups} null: left as they are),
     * capability sets, securebits and no_new_privs, in the order above; {@code now} is its status
     * before; {@code idsSet} runs once the ids are set. Also for a zombie before it dies again.
     */
    public static void set(Injector inj, Scratch at, String where, long[] uids, long[] gids, long[] groups,
                           ThreadSecurity s, ProcStatus now, int lastCap, Runnable idsSet) {
        if (groups != null) {
            long g = at.put(0, new RemoteWriter(4 * groups.length + 4)
                    .ints(java.util.Arrays.stream(groups).mapToInt(x -> (int) x).toArray()).toBytes());
            inj.call("setgroups" + where, SyscallNr.SETGROUPS, groups.length, g);
        }
        inj.call("setresgid" + where, SyscallNr.SETRESGID, gids[0], gids[1], gids[2]);
        inj.call("setfsgid" + where, SyscallNr.SETFSGID, gids[3]);
        inj.call("prctl(PR_SET_SECUREBITS, NO_SETUID_FIXUP)" + where, SyscallNr.PRCTL, Prctl.PR_SET_SECUREBITS,
                Prctl.SECBIT_NO_SETUID_FIXUP);
        inj.call("setresuid" + where, SyscallNr.SETRESUID, uids[0], uids[1], uids[2]);
        inj.call("setfsuid" + where, SyscallNr.SETFSUID, uids[3]);
        idsSet.run();

        capset(at, inj, now.capPrm(), now.capPrm(), s.capInh(), where);
        if (now.capAmb() != 0) { // a stub in a user namespace without root keeps its capabilities so
            inj.call("prctl(PR_CAP_AMBIENT_CLEAR_ALL)" + where, SyscallNr.PRCTL, Prctl.PR_CAP_AMBIENT,
                    Prctl.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        }
        for (int cap = 0; cap <= lastCap; cap++) {
            if ((s.capAmb() & (1L << cap)) != 0) {
                inj.call("prctl(PR_CAP_AMBIENT_RAISE, " + cap + ")" + where, SyscallNr.PRCTL, Prctl.PR_CAP_AMBIENT,
                        Prctl.PR_CAP_AMBIENT_RAISE, cap, 0, 0);
            }
        }
        for (int cap = 0; cap <= lastCap; cap++) {
            if ((s.capBnd() & (1L << cap)) == 0 && (now.capBnd() & (1L << cap)) != 0) {
                inj.call("prctl(PR_CAPBSET_DROP, " + cap + ")" + where, SyscallNr.PRCTL, Prctl.PR_CAPBSET_DROP, cap);
            }
        }
        inj.call("prctl(PR_SET_SECUREBITS, 0x" + Integer.toHexString(s.securebits()) + ")" + where, SyscallNr.PRCTL,
                Prctl.PR_SET_SECUREBITS, s.securebits());
        capset(at, inj, s.capEff(), s.capPrm(), s.capInh(), where);
        if (s.noNewPrivs()) {
            inj.call("prctl(PR_SET_NO_NEW_PRIVS)" + where, SyscallNr.PRCTL, Prctl.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        }
    }

    public static long[] unsigned(java.util.List<Integer> ids) {
        return ids.stream().mapToLong(Integer::toUnsignedLong).toArray();
    }

    /** setfsuid/setfsgid report nothing useful on failure: read the result back. */
    private static void checkFsIds(TaskContext t, ThreadImage th, Creds c) {
        ProcStatus after = ProcFs.status(t.pid(), Pid.of(th.tid()));
        if (after.uids().filesystem() != c.uids().get(3) || after.gids().filesystem() != c.gids().get(3)) {
            throw new RestoreException("pid " + t.pid() + " tid " + th.tid() + ": fsuid/fsgid came back as "
                    + after.uids().filesystem() + "/" + after.gids().filesystem() + ", expected " + c.uids().get(3)
                    + "/" + c.gids().get(3));
        }
    }

    /** capset(2), version 3: a header {version, pid 0} and two {effective, permitted, inheritable} words. */
    public static void capset(Scratch at, Injector inj, long eff, long prm, long inh, String where) {
        long header = at.put(0, new RemoteWriter(8).ints(Prctl.LINUX_CAPABILITY_VERSION_3, 0).toBytes());
        long data = at.put(8, new RemoteWriter(24).ints((int) eff, (int) prm, (int) inh, (int) (eff >>> 32),
                (int) (prm >>> 32), (int) (inh >>> 32)).toBytes());
        inj.call("capset(eff 0x" + Long.toHexString(eff) + ", prm 0x" + Long.toHexString(prm) + ", inh 0x"
                + Long.toHexString(inh) + ")" + where, SyscallNr.CAPSET, header, data);
    }
}
