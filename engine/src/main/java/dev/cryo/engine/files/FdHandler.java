package dev.cryo.engine.files;

import dev.cryo.engine.model.FileDesc;

import java.io.IOException;

/**
 * One kind of kernel object behind a file descriptor. Each handler holds the dump half (and, with
 * restore, the restore half) of its kind; {@link FdHandlers} lists them all in one table.
 */
public interface FdHandler {
    /** Human name of the kind, used in messages ("pipe", "regular file"). */
    String kind();

    boolean handles(FdProbe fd) throws IOException;

    FileDesc dump(FdProbe fd, DumpContext ctx) throws IOException;

    /** State shared by every fd of one dump: pipe data is carried once per pipe. */
    interface DumpContext {
        /** True the first time a pipe id is seen in this dump. */
        boolean claimPipeData(long pipeId);

        /** Whether the controlling terminal may be dumped (CRIU's --shell-job). */
        boolean shellJob();
    }
}
