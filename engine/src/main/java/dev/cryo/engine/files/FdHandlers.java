package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.FdInfo;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The table of fd kinds cryo handles. Adding a kind = one handler class and one line here. */
public final class FdHandlers {
    private FdHandlers() {}

    public static final List<FdHandler> ALL = List.of(
            new PipeHandler(),
            new CharDeviceHandler(),
            new RegularFileHandler(),
            new EventFdHandler(),
            new TimerFdHandler(),
            new SignalFdHandler(),
            new EpollHandler());

    private static final int O_CREAT = 0100, O_EXCL = 0200, O_TRUNC = 01000;
    static final int O_NONBLOCK = 04000, O_CLOEXEC = 02000000;

    /** The fd's open flags for reopening it: never create, truncate or require exclusivity. */
    static int openFlags(FdImage fd) {
        return fd.flags() & ~(O_CREAT | O_TRUNC | O_EXCL);
    }

    /** The handler that wrote a record, for its restore half. */
    public static FdHandler of(FileDesc d) {
        for (FdHandler h : ALL) {
            if (h.record().isInstance(d)) {
                return h;
            }
        }
        throw new IllegalStateException("no handler restores " + d.getClass().getSimpleName());
    }

    /** Dumps every fd of a frozen task, or fails naming the first fd cryo cannot carry. */
    public static List<FdImage> dumpAll(Pid pid, FdHandler.DumpContext ctx) {
        List<FdImage> out = new ArrayList<>();
        for (int fd : ProcFs.fds(pid)) {
            String target = ProcFs.fdTarget(pid, fd);
            FdInfo info = ProcFs.fdInfo(pid, fd);
            FdProbe probe = new FdProbe(pid, fd, target, info);
            out.add(new FdImage(fd, info.flags(), info.pos(), dump(probe, ctx)));
        }
        return out;
    }

    private static FileDesc dump(FdProbe probe, FdHandler.DumpContext ctx) {
        try {
            for (FdHandler h : ALL) {
                if (h.handles(probe)) {
                    return h.dump(probe, ctx);
                }
            }
        } catch (IOException e) {
            throw new DumpException(probe.where() + " (" + probe.target() + "): " + e.getMessage(), e);
        }
        throw new DumpException(probe.where() + ": " + UnsupportedFds.describe(probe) + " is not supported yet");
    }
}
