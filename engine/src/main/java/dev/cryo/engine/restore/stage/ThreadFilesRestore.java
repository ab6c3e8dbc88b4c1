package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.ThreadFdTable;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The restore half of a thread's own fd table ({@link ThreadFdTable}), once its process's table is final (the
 * last stage before the registers): the thread unshares a copy of it, dups each open file it holds to a number
 * above every fd of its table, closes everything below, dups those to their numbers with the thread's own
 * close-on-exec flags and closes everything above. Each number's open file comes from the copy, so a number the
 * thread moved never reads one already overwritten. The files it holds alone were made in the process's table by
 * FILES ({@link TaskContext#madeForThread}): taken the same way, then closed there.
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
            Map<Integer, Integer> made = t.madeForThread(th.tid());
            List<ThreadFdTable.Entry> entries = new ArrayList<>(files.entries());
            for (FdImage f : files.alone()) {
                Integer at = made.get(f.fd());
                if (at == null) {
                    throw new RestoreException("pid " + t.pid() + " thread " + th.tid() + " fd " + f.fd() + ", in its own fd"
                            + " table alone, was not made");
                }
                entries.add(new ThreadFdTable.Entry(f.fd(), at, (f.flags() & Fcntl.O_CLOEXEC) != 0));
            }
            int base = 1 + t.task().fds().stream().mapToInt(FdImage::fd).max().orElse(-1);
            for (ThreadFdTable.Entry e : entries) {
                base = Math.max(base, Math.max(e.fd(), e.processFd()) + 1);
            }
            Injector inj = t.injector(th.tid());
            String in = " in thread " + th.tid();
            inj.call("unshare(CLONE_FILES)" + in, SyscallNr.UNSHARE, Clone.FILES);
            long[] held = new long[entries.size()];
            for (int i = 0; i < held.length; i++) {
                held[i] = inj.call("fcntl(" + entries.get(i).processFd() + ", F_DUPFD_CLOEXEC)" + in,
                        SyscallNr.FCNTL, entries.get(i).processFd(), Fcntl.F_DUPFD_CLOEXEC, base);
            }
            inj.call("close_range(0, " + (base - 1) + ")" + in, SyscallNr.CLOSE_RANGE, 0, base - 1, 0);
            for (int i = 0; i < held.length; i++) {
                ThreadFdTable.Entry e = entries.get(i);
                inj.call("dup3(" + held[i] + ", " + e.fd() + ")" + in, SyscallNr.DUP3, held[i], e.fd(),
                        e.cloexec() ? Fcntl.O_CLOEXEC : 0);
            }
            inj.call("close_range(" + base + ", ~0)" + in, SyscallNr.CLOSE_RANGE, base, 0xffff_ffffL, 0);
            for (int at : made.values()) { // the process's table as it was dumped again
                t.call("close(" + at + ") made for thread " + th.tid(), SyscallNr.CLOSE, at);
            }
        }
    }
}
