package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.PsiTriggers;
import dev.cryo.kernel.SyscallNr;

import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A pressure-stall trigger set on an open /proc/pressure/* or cgroup *.pressure file (systemd-oomd,
 * low-memory-monitor, lmkd): reopened by path, the file came back without it, and the program's poll got POLLERR
 * for ever. Its line ("some 150000 1000000") is read at the dump ({@link PsiTriggers}) and written again on the
 * reopened file before the task runs. An event waiting that the program has not polled yet cannot be made again:
 * refused.
 */
final class PressureTriggers {
    private static final Pattern FILE = Pattern.compile("^(?:/proc/pressure/(io|memory|cpu|irq)|/.*/(io|memory|cpu|irq)\\.pressure)$");
    private static final int O_ACCMODE = 3;

    private PressureTriggers() {}

    /** The line that makes fd's trigger again, or null: not a pressure file open for writing, or no trigger on it. */
    static String dump(FdProbe fd) {
        Matcher m = FILE.matcher(fd.target());
        if (!m.matches() || fd.info() == null || (fd.info().flags() & O_ACCMODE) == 0) { // none on a read-only one
            return null;
        }
        String resource = m.group(1) != null ? m.group(1) : m.group(2);
        PsiTriggers.Trigger t;
        try {
            t = PsiTriggers.of(ExitedLeaders.reader(fd.pid().value())).get(fd.fd());
        } catch (RuntimeException e) {
            throw new DumpException(fd.where() + ": " + fd.target() + " is open for writing, and whether it holds a"
                    + " pressure-stall trigger cannot be seen (cryo's BPF iterator: " + e.getMessage() + "); not supported", e);
        }
        if (t == null) {
            return null;
        }
        String line = t.line(resource);
        if (line == null) {
            throw new DumpException(fd.where() + ": " + fd.target() + ": its pressure-stall trigger has state " + t.state()
                    + ", not one of that file's; not supported");
        }
        if (t.eventPending()) {
            throw new DumpException(fd.where() + ": " + fd.target() + ": its pressure-stall trigger (" + line + ") holds"
                    + " an event the program has not polled yet, which a trigger made again cannot hold; not supported");
        }
        return line;
    }

    /** Sets the trigger {@code line} on the task's reopened file {@code fd}. */
    static void restore(long fd, String line, FdHandler.RestoreContext ctx) {
        byte[] b = (line + "\0").getBytes(StandardCharsets.US_ASCII);
        ctx.laterReading("write(pressure trigger)", SyscallNr.WRITE, b, 1, fd, 0, b.length);
    }
}
