package dev.cryo.kernel.proc;

import java.util.ArrayList;
import java.util.List;

/**
 * The io_uring part of /proc/PID/fdinfo/N: the ring's counters as the ring's memory holds them
 * (SqHead, SqTail, CqHead, CqTail) and as the kernel keeps them (CachedSqHead, CachedCqTail), its
 * sizes (the masks), the SQEs and CQEs between head and tail (one line each), the SQPOLL thread, the
 * registered file and buffer tables (their sizes and their filled slots), the personalities, the
 * requests armed on a poll and the completions waiting in the overflow list. Lines of other
 * sections (personality credentials) have no key.
 */
public record IoUringInfo(int sqEntries, int cqEntries, int sqHead, int sqTail, int cachedSqHead, int cqHead, int cqTail,
                          int cachedCqTail, List<String> sqes, List<String> cqes, int sqThread, int userFiles, int userBufs,
                          boolean personalities, int polls, int overflowed, List<RegisteredFile> files,
                          List<RegisteredBuffer> buffers) {

    /** A filled slot of the registered file table: the file's path as seq_file_path prints it (" \t\n\\" escaped in octal). */
    public record RegisteredFile(int index, String name) {}

    /** A filled slot of the registered buffer table: the user address and length it was registered with. */
    public record RegisteredBuffer(int index, long address, long length) {}

    public static IoUringInfo parse(String path, String text) {
        List<String> lines = Text.lines(text);
        Integer sqMask = null, cqMask = null, sqHead = null, sqTail = null, cachedSqHead = null, cqHead = null,
                cqTail = null, cachedCqTail = null, sqThread = null, userFiles = null, userBufs = null;
        List<String> sqes = new ArrayList<>(), cqes = new ArrayList<>();
        List<RegisteredFile> files = new ArrayList<>();
        List<RegisteredBuffer> buffers = new ArrayList<>();
        boolean personalities = false;
        int polls = 0, overflowed = 0;
        String section = "";
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            int colon = l.indexOf(':');
            String key = colon < 0 ? "" : l.substring(0, colon).trim();
            String value = colon < 0 ? "" : l.substring(colon + 1).trim();
            int n = i + 1;
            switch (key) {
                case "SqMask" -> sqMask = hex(path, n, value);
                case "CqMask" -> cqMask = hex(path, n, value);
                case "SqHead" -> sqHead = counter(path, n, key, value);
                case "SqTail" -> sqTail = counter(path, n, key, value);
                case "CachedSqHead" -> cachedSqHead = counter(path, n, key, value);
                case "CqHead" -> cqHead = counter(path, n, key, value);
                case "CqTail" -> cqTail = counter(path, n, key, value);
                case "CachedCqTail" -> cachedCqTail = counter(path, n, key, value);
                case "SqThread" -> sqThread = Text.decInt(path, n, key, value);
                case "UserFiles" -> userFiles = Text.decInt(path, n, key, value);
                case "UserBufs" -> userBufs = Text.decInt(path, n, key, value);
                default -> { }
            }
            if (!key.isEmpty() && !key.chars().allMatch(Character::isDigit) && !l.startsWith(" ")) {
                section = key;
                if (key.equals("Personalities")) {
                    personalities = true;
                }
                continue;
            }
            switch (section) {
                case "SQEs" -> sqes.add(l.trim());
                case "CQEs" -> cqes.add(l.trim());
                case "PollList" -> polls++;
                case "CqOverflowList" -> overflowed++;
                case "UserFiles" -> {
                    if (colon > 0) {
                        files.add(new RegisteredFile(Text.decInt(path, n, "UserFiles slot", key), l.substring(colon + 2)));
                    }
                }
                case "UserBufs" -> {
                    if (colon > 0 && !value.equals("<none>")) {
                        buffers.add(buffer(path, n, Text.decInt(path, n, "UserBufs slot", key), value));
                    }
                }
                default -> { }
            }
        }
        if (sqMask == null || cqMask == null || sqHead == null || sqTail == null || cqHead == null || cqTail == null
                || sqThread == null || userFiles == null || userBufs == null) {
            throw ProcFormatException.of(path, "not the fdinfo of an io_uring (no SqMask/SqHead/CqTail/SqThread/UserFiles lines)");
        }
        return new IoUringInfo(sqMask + 1, cqMask + 1, sqHead, sqTail, cachedSqHead == null ? sqHead : cachedSqHead,
                cqHead, cqTail, cachedCqTail == null ? cqTail : cachedCqTail, List.copyOf(sqes), List.copyOf(cqes),
                sqThread, userFiles, userBufs, personalities, polls, overflowed, List.copyOf(files), List.copyOf(buffers));
    }

    /** "0xADDRESS/LENGTH". */
    private static RegisteredBuffer buffer(String path, int line, int index, String value) {
        int slash = value.indexOf('/');
        if (!value.startsWith("0x") || slash < 0) {
            throw ProcFormatException.at(path, line, "expected a registered buffer as 0xADDRESS/LENGTH, found '" + value + "'");
        }
        try {
            return new RegisteredBuffer(index, Long.parseUnsignedLong(value.substring(2, slash), 16),
                    Long.parseLong(value.substring(slash + 1)));
        } catch (NumberFormatException e) {
            throw ProcFormatException.at(path, line, "expected a registered buffer as 0xADDRESS/LENGTH, found '" + value + "'");
        }
    }

    /** The counters are printed unsigned and wrap at 2^32. */
    private static int counter(String path, int line, String key, String value) {
        return (int) Text.decUnsigned(path, line, key, value);
    }

    private static int hex(String path, int line, String value) {
        if (!value.startsWith("0x")) {
            throw ProcFormatException.at(path, line, "expected a 0x mask, found '" + value + "'");
        }
        return (int) Long.parseLong(value.substring(2), 16);
    }

    /** Whether an SQE line shows the second half of a 128-byte SQE (IORING_SETUP_SQE128). */
    public static boolean bigSqe(String line) {
        return line.contains(", e0:");
    }

    /** Whether a CQE line shows the extra words of a 32-byte CQE (IORING_SETUP_CQE32). */
    public static boolean bigCqe(String line) {
        return line.contains("extra1:");
    }

    /** How many times a ring's fdinfo is read while the ring's lines are left out of it (its lock held). */
    static final int BUSY_READS = 200;

    public static IoUringInfo read(dev.cryo.kernel.Pid pid, int fd) {
        String path = pid.procDir() + "/fdinfo/" + fd;
        return read(path, () -> ProcFs.text(path));
    }

    /**
     * The kernel prints the ring's lines only when it takes the ring's lock without waiting, and a task
     * submitting holds it (1 read in 300 of a ring READ_FIXED into in a loop came back with none at load 30):
     * such a read is made again, a little later, up to {@link #BUSY_READS} times. Before, a look of pre-copy's
     * missed a ring's registered buffers that way, and the kernel's writes into them went unsent.
     */
    static IoUringInfo read(String path, java.util.function.Supplier<String> text) {
        for (int n = 1; ; n++) {
            String t = text.get();
            if (t.contains("\nSqMask:") || n == BUSY_READS) {
                try {
                    return parse(path, t);
                } catch (ProcFormatException e) {
                    throw ProcFormatException.of(path, e.getMessage() + " in " + n + " reads (the kernel leaves them out"
                            + " while the ring's lock is held)");
                }
            }
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
    }
}
