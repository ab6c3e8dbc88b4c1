package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

import java.util.List;

/** Creates every other thread of the task with its exact tid (clone3 set_tid); each starts traced and stopped. */
public final class ThreadCreation implements StateStage {
    private static final long CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800,
            CLONE_THREAD = 0x10000, CLONE_SYSVSEM = 0x40000;

    @Override
    public String name() {
        return "threads";
    }

    @Override
    public void run(TaskContext t) {
        if (t.task().threads().size() < 2) {
            return;
        }
        List<Integer> made = new java.util.ArrayList<>();
        dev.cryo.engine.timing.SchedHandler.threadsUnlifted(t, () -> { // a clone takes the task's timer slack as its default, and its nice
            for (ThreadImage th : t.task().threads()) {
                if (th.tid() == t.pid().value()) {
                    continue;
                }
                if (!spawn(t, th.tid())) {
                    throw new RestoreException("tid " + th.tid() + " is in use");
                }
                made.add(th.tid());
            }
            return null;
        });
        dev.cryo.engine.timing.SchedHandler.liftThreads(t, made);
    }

    /**
     * Clones one thread of the task with tid {@code tid}, left traced and stopped; false when the
     * tid is taken by another task.
     */
    public static boolean spawn(TaskContext t, int tid) {
        int pid = t.pid().value();
        return spawn(t, tid, t.namespaces().setTidFrom(pid, tid), t.namespaces().setTid(tid).length,
                t.namespaces().returnedTo(pid, tid));
    }

    /**
     * Clones a stand-in for thread {@code tid} of the task, which had exited by the dump (its pids inside the
     * task's pid namespaces were not read: {@link dev.cryo.engine.namespaces.TreeNamespaces#setTidOfExited});
     * false when the tid is taken.
     */
    public static boolean spawnStandIn(TaskContext t, int tid) {
        int pid = t.pid().value();
        int[] setTid = t.namespaces().setTidOfExited(pid, tid);
        int levels = setTid.length + (t.namespaces().userNamespaceOf(pid).isPresent() ? 1 : 0);
        return dev.cryo.engine.timing.SchedHandler.threadsUnlifted(t, () -> spawn(t, tid, setTid, levels,
                t.namespaces().seenByOrExited(pid, tid)));
    }

    private static boolean spawn(TaskContext t, int tid, int[] setTid, int levels, int expected) {
        long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
        long args = t.put(new RemoteWriter(88 + 4 * setTid.length).longs(flags, 0, 0, 0, 0, 0, 0, 0, setTid.length > 0 ? t.boot().data() + 88 : 0,
                setTid.length, 0).ints(setTid).toBytes());
        long r;
        List<Integer> born = new java.util.ArrayList<>();
        if (setTid.length < levels) { // inside a user namespace: cryo's level by ns_last_pid
            r = NsLastPidFork.fork(t, t.main(), tid, true, 0, arm -> t.main().rawAtEntry(arm, SyscallNr.CLONE3, args, 88), born);
        } else {
            r = t.main().raw(SyscallNr.CLONE3, args, 88);
            born.addAll(t.tracer().takeNewTracees());
        }
        if (Injector.isError(r)) {
            if ((int) -r == Errno.EEXIST) {
                return false;
            }
            throw new SyscallException("clone3(thread " + tid + ") in pid " + t.pid(), (int) -r);
        }
        if (r != expected || !born.contains(tid)) {
            throw new RestoreException("asked for tid " + tid + " (" + expected + " as pid " + t.pid()
                    + " sees it) and got " + r + (born.contains(tid) ? "" : ", born " + born));
        }
        t.tracer().waitForStop(tid);
        return true;
    }
}
