package dev.cryo.kernel.proc;

/**
 * /proc/PID/stat or /proc/PID/task/TID/stat (see proc(5) for field numbers). Unsigned kernel
 * values (flags, addresses, vsize, rsslim) hold the u64 bit pattern. The mm fields read 0 when the
 * caller may not ptrace the process or the process is a zombie.
 */
public record ProcStat(
        int pid, String comm, char state, int ppid, int pgrp, int session, int ttyNr, int tpgid,
        long flags, long utime, long stime, long priority, long nice, int numThreads, long starttime,
        long vsize, long rss, long rsslim, long startCode, long endCode, long startStack,
        int exitSignal, int processor, long rtPriority, long policy,
        long startData, long endData, long startBrk, long argStart, long argEnd, long envStart, long envEnd,
        int exitCode, String raw) {

    /** Fields this kernel prints; the mm fields cryo needs end at 52 (exit_code). */
    public static final int FIELDS = 52;
    /** stat flags: the task has not exec'd since its fork (only an exec clears it). */
    public static final long PF_FORKNOEXEC = 0x40;
    /** In do_exit: its fd table and fs may be released already (kcmp then sees two such tasks as sharing). */
    public static final long PF_EXITING = 0x4;
    /**
     * An io_uring worker (iou-wrk-*, iou-sqp-*): a kernel thread in the task's thread group that
     * never runs user code; the kernel makes them again on demand.
     */
    public static final long PF_IO_WORKER = 0x10;
    /** A kernel thread (kthreadd and its children): no user memory, nothing a dump could carry. */
    public static final long PF_KTHREAD = 0x00200000;
    /** The task's address space is laid out at random (cleared by an exec under personality ADDR_NO_RANDOMIZE). */
    public static final long PF_RANDOMIZE = 0x00400000;

    public static ProcStat parse(String text) {
        return parse("stat", text);
    }

    public static ProcStat parse(String path, String text) {
        String line = text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
        // The name may hold spaces and ')' itself, so it runs from the first '(' to the LAST ')'.
        int open = line.indexOf('(');
        int close = line.lastIndexOf(')');
        if (open < 1 || close < open) {
            throw ProcFormatException.at(path, 1, "no '(comm)' after the pid");
        }
        int pid = Text.decInt(path, 1, "field 1 (pid)", line.substring(0, open).trim());
        String comm = line.substring(open + 1, close);
        String tail = line.substring(close + 1);
        if (tail.indexOf('\n') >= 0) { // a comm may hold '\n' (printed unescaped), the rest may not
            throw ProcFormatException.at(path, 2, "expected a single line");
        }
        String[] f = tail.trim().split(" ");
        int after = FIELDS - 2;
        if (f.length < after || f[0].isEmpty()) {
            throw ProcFormatException.at(path, 1, "expected at least " + after + " fields after the name ("
                    + FIELDS + " in all), found " + (f[0].isEmpty() ? 0 : f.length));
        }
        if (f[0].length() != 1) {
            throw ProcFormatException.at(path, 1, "field 3 (state): expected one letter, found '" + f[0] + "'");
        }
        Fields p = new Fields(path, f);
        return new ProcStat(pid, comm, f[0].charAt(0), p.i(4), p.i(5), p.i(6), p.i(7), p.i(8),
                p.u(9), p.u(14), p.u(15), p.l(18), p.l(19), p.i(20), p.u(22),
                p.u(23), p.l(24), p.u(25), p.u(26), p.u(27), p.u(28),
                p.i(38), p.i(39), p.u(40), p.u(41),
                p.u(45), p.u(46), p.u(47), p.u(48), p.u(49), p.u(50), p.u(51),
                p.i(52), text);
    }

    /** The raw text of field {@code number} (1-based as in proc(5); 2 is the comm). */
    public String field(int number) {
        if (number == 1) {
            return Integer.toString(pid);
        }
        if (number == 2) {
            return comm;
        }
        String[] f = raw.substring(raw.lastIndexOf(')') + 1).trim().split(" ");
        if (number < 1 || number - 3 >= f.length) {
            throw new IllegalArgumentException("stat has no field " + number);
        }
        return f[number - 3];
    }

    /** Field access by proc(5) number over the fields after the comm. */
    private record Fields(String path, String[] f) {
        String at(int n) {
            return f[n - 3];
        }

        int i(int n) {
            return Text.decInt(path, 1, "field " + n, at(n));
        }

        long l(int n) {
            return Text.decLong(path, 1, "field " + n, at(n));
        }

        long u(int n) {
            return Text.decUnsigned(path, 1, "field " + n, at(n));
        }
    }
}
