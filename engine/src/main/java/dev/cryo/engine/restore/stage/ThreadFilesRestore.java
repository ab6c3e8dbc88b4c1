package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadFdTable;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

/**
 * The restore half of a thread's own fd table ({@link ThreadFdTable}), once its process's table is final (the
 * last stage before the registers): the thread unshares a copy of it, dups each open file it holds to a number
 * above every fd of its table, closes everything below, dups those to their numbers with the thread's own
 * close-on-exec flags and closes everything above. Each number's open file comes from the copy, so a number the
 * thread moved never reads one already overwritten.
 */
public final class ThreadFilesRestore implements StateStage {
    @Override
    public String name() {
        return "thread fd tables";
    }

    @Override
    public void run(TaskContext t) {
        for (ThreadImage th : t.task().threads()) {
            ThreadFdTable files = th.files();
            if (files == null || th.tid() == t.pid().value()) {
                continue;
            }
            int base = 1 + t.task().fds().stream().mapToInt(dev.cryo.engine.model.FdImage::fd).max().orElse(-1);
            for (ThreadFdTable.Entry e : files.entries()) {
                base = Math.max(base, Math.max(e.fd(), e.processFd()) + 1);
            }
            Injector inj = t.injector(th.tid());
            String in = " in thread " + th.tid();
            inj.call("unshare(CLONE_FILES)" + in, SyscallNr.UNSHARE, Clone.FILES);
            long[] held = new long[files.entries().size()];
            for (int i = 0; i < held.length; i++) {
                held[i] = inj.call("fcntl(" + files.entries().get(i).processFd() + ", F_DUPFD_CLOEXEC)" + in,
                        SyscallNr.FCNTL, files.entries().get(i).processFd(), Fcntl.F_DUPFD_CLOEXEC, base);
            }
            inj.call("close_range(0, " + (base - 1) + ")" + in, SyscallNr.CLOSE_RANGE, 0, base - 1, 0);
            for (int i = 0; i < held.length; i++) {
                ThreadFdTable.Entry e = files.entries().get(i);
                inj.call("dup3(" + held[i] + ", " + e.fd() + ")" + in, SyscallNr.DUP3, held[i], e.fd(),
                        e.cloexec() ? Fcntl.O_CLOEXEC : 0);
            }
            inj.call("close_range(" + base + ", ~0)" + in, SyscallNr.CLOSE_RANGE, base, 0xffff_ffffL, 0);
        }
    }
}
