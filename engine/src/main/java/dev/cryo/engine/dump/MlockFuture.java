package dev.cryo.engine.dump;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Prctl;
import dev.cryo.kernel.proc.Pagemap;
import dev.cryo.kernel.proc.PagemapReader;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStatus;

/**
 * mlockall(MCL_FUTURE) leaves no trace in /proc but in what happens to the next mapping: it comes
 * locked (counted in VmLck at once) and, without MCL_ONFAULT, populated. cryo's own scratch area,
 * just mapped into the frozen task, is that next mapping: the task's VmLck before and after it,
 * and whether its last page (untouched yet) is present, tell the flags.
 */
final class MlockFuture {
    private MlockFuture() {}

    /** The MCL_FUTURE/MCL_ONFAULT bits of the task's mm, 0 when none; {@code before}: its status read before the scratch area was mapped. */
    static int of(Pid pid, RemoteTask remote, ProcStatus before) {
        long grew = lockedKb(ProcFs.status(pid)) - lockedKb(before);
        if (grew * 1024 < remote.length()) {
            return 0;
        }
        try (PagemapReader pages = PagemapReader.open(pid)) {
            long last = remote.scratch() + remote.length() - RemoteTask.PAGE;
            return Prctl.MCL_FUTURE | (Pagemap.present(pages.read(last, 1)[0]) ? 0 : Prctl.MCL_ONFAULT);
        }
    }

    private static long lockedKb(ProcStatus s) {
        return s.value("VmLck").map(v -> Long.parseLong(v.replaceAll("[^0-9]", ""))).orElse(0L);
    }
}
