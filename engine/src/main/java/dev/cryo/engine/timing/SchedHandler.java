package dev.cryo.engine.timing;

import dev.cryo.engine.model.SchedImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sched;
import dev.cryo.kernel.proc.ProcFs;

/**
 * Scheduling state: per thread sched_attr (policy, priority, nice, flags, deadline parameters,
 * utilization clamps), CPU affinity and I/O priority, all read and set from outside by tid; per
 * process oom_score_adj through /proc.
 */
public final class SchedHandler {
    private SchedHandler() {}

    public static SchedImage dump(int tid) {
        Sched.Attr a = Sched.getattr(tid);
        return new SchedImage(a.policy(), a.flags() & Sched.CARRIED_FLAGS, a.nice(), a.priority(), a.runtime(),
                a.deadline(), a.period(), a.utilMin(), a.utilMax(), Sched.getAffinity(tid), Sched.ioprioGet(tid));
    }

    public static int dumpOomScoreAdj(Pid pid) {
        return ProcFs.oomScoreAdj(pid);
    }
}
