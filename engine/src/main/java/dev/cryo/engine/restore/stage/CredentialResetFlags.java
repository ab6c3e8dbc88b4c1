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

    /**
     * The main thread's calls are queued ({@link TaskContext#later}), and the queue runs: with the
     * process's state, the thread's and the credentials queued before, one ptrace round trip for all
     * instead of two each; what follows acts on the task as these calls leave it. A migration's
     * prepared stub was made to die with the agent (PR_SET_PDEATHSIG SIGKILL, see StubParent):
     * its main thread's setting is the task's own from here, 0 included (EXITKILL covers the agent's
     * end until the detach).
     */
    @Override
    public void run(TaskContext t) {
        SecurityImage s = t.task().security();
        t.later("prctl(PR_SET_DUMPABLE, " + s.dumpable() + ")", SyscallNr.PRCTL, Prctl.PR_SET_DUMPABLE, s.dumpable());
        // 0 too: a task whose children the restore passed through a zombie or a helper of their session
        // or group was a subreaper until then (StubAdoption), and stayed one
        int subreaper = s.childSubreaper() ? 1 : 0;
        t.later("prctl(PR_SET_CHILD_SUBREAPER, " + subreaper + ")", SyscallNr.PRCTL, Prctl.PR_SET_CHILD_SUBREAPER, subreaper);
        for (ThreadImage th : t.task().threads()) {
            boolean main = th.tid() == t.pid().value();
            if (main && (th.pdeathSignal() != 0 || t.prepared() != null)) {
                t.later("prctl(PR_SET_PDEATHSIG, " + th.pdeathSignal() + ")", SyscallNr.PRCTL, Prctl.PR_SET_PDEATHSIG,
                        th.pdeathSignal());
            } else if (th.pdeathSignal() != 0) {
                t.injector(th.tid()).call("prctl(PR_SET_PDEATHSIG) in tid " + th.tid(), SyscallNr.PRCTL,
                        Prctl.PR_SET_PDEATHSIG, th.pdeathSignal());
            }
        }
        t.flush();
    }
}
