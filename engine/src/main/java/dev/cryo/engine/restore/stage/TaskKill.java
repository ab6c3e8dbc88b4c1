package dev.cryo.engine.restore.stage;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;

import java.util.ArrayList;
import java.util.List;

/**
 * Failure path: nothing half-restored may survive — neither the task nor the children it forked
 * (they may not have a tracer of their own yet).
 */
public final class TaskKill {
    private TaskKill() {}

    public static void run(TaskContext t) {
        List<Integer> all = new ArrayList<>(t.forked());
        all.add(0, t.pid().value());
        for (int p : all) {
            try {
                Sys.kill(Pid.of(p), Signals.SIGKILL);
            } catch (KernelException ignored) {
                // already gone
            }
        }
        t.abandonLater(); // calls queued for a batch die with the task
        for (int tid : new ArrayList<>(t.tracer().tracees())) {
            t.tracer().forget(tid);
        }
    }
}
