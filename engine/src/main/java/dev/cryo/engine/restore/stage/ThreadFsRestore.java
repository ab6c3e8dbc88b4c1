package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadFs;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

/**
 * The restore half of a thread's own cwd, root and umask ({@link ThreadFs}): the thread, made with its
 * process's (CLONE_FS), unshares them and enters its own, while still privileged for chroot. Its process is not
 * chrooted (refused at dump), so the paths, cryo's, reach from the copy it unshares.
 */
public final class ThreadFsRestore implements StateStage {
    @Override
    public String name() {
        return "thread fs";
    }

    @Override
    public void run(TaskContext t) {
        for (ThreadImage th : t.task().threads()) {
            ThreadFs fs = th.fs();
            if (fs == null || th.tid() == t.pid().value()) {
                continue;
            }
            Injector inj = t.injector(th.tid());
            inj.call("unshare(CLONE_FS) in thread " + th.tid(), SyscallNr.UNSHARE, Clone.FS);
            inj.call("chdir(" + fs.cwd() + ") in thread " + th.tid(), SyscallNr.CHDIR, t.putString(fs.cwd()));
            if (!fs.root().equals("/")) {
                inj.call("chroot(" + fs.root() + ") in thread " + th.tid(), SyscallNr.CHROOT, t.putString(fs.root()));
            }
            inj.call("umask in thread " + th.tid(), SyscallNr.UMASK, fs.umask());
        }
    }
}
