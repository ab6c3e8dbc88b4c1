package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.SyscallNr;

/**
 * What the kernel resets when credentials change (commit_creds: a new euid/egid/fsuid/fsgid or a
 * smaller permitted set resets the mm's dumpable flag to fs.suid_dumpable and every thread's
 * parent-death signal), set again after {@link Credentials}; with it the process's child-subreaper
 * flag.
 */
public final class CredentialResetFlags implements StateStage {
    @Override
    public String name() {
        return "dumpable, parent-death signal, subreaper";
    }

    @Override
    public void run(TaskContext t) {
        SecurityImage s = t.task().security();
        t.call("prctl(PR_SET_DUMPABLE, " + s.dumpable() + ")", SyscallNr.PRCTL, Prctl.PR_SET_DUMPABLE, s.dumpable());
        if (s.childSubreaper()) {
            t.call("prctl(PR_SET_CHILD_SUBREAPER)", SyscallNr.PRCTL, Prctl.PR_SET_CHILD_SUBREAPER, 1);
        }
        for (ThreadImage th : t.task().threads()) {
            if (th.pdeathSignal() != 0) {
                t.injector(th.tid()).call("prctl(PR_SET_PDEATHSIG) in tid " + th.tid(), SyscallNr.PRCTL,
                        Prctl.PR_SET_PDEATHSIG, th.pdeathSignal());
            }
        }
    }
}
