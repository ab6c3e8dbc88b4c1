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
        for (ThreadImage th : t.task().threads()) {
            if (th.tid() == t.pid().value()) {
                continue;
            }
            if (!spawn(t, th.tid())) {
                throw new RestoreException("tid " + th.tid() + " is in use");
            }
        }
    }

    /**
     * Clones one thread of the task with tid {@code tid}, left traced and stopped; false when the
     * tid is taken by another task.
     */
    public static boolean spawn(TaskContext t, int tid) {
        long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
        int[] setTid = t.namespaces().setTidFrom(t.pid().value(), tid);
        long args = t.put(new RemoteWriter(88 + 4 * setTid.length).longs(flags, 0, 0, 0, 0, 0, 0, 0, setTid.length > 0 ? t.boot().data() + 88 : 0,
                setTid.length, 0).ints(setTid).toBytes());
        long r;
        List<Integer> born = new java.util.ArrayList<>();
        if (setTid.length < t.namespaces().setTid(tid).length) { // inside a user namespace: cryo's level by ns_last_pid
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
        if (r != t.namespaces().returnedTo(t.pid().value(), tid) || !born.contains(tid)) {
            throw new RestoreException("asked for tid " + tid + " and got " + r);
        }
        t.tracer().waitForStop(tid);
        return true;
    }
}
