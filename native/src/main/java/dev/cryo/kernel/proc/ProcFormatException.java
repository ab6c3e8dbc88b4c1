package dev.cryo.kernel.proc;

import dev.cryo.kernel.KernelException;

/**
 * A /proc file whose text does not have the shape cryo expects. The message names the file and
 * the 1-based line so a format change in a new kernel is found at once, never papered over.
 */
public final class ProcFormatException extends KernelException {
    private final String path;
    private final int line;

    private ProcFormatException(String path, int line, String message) {
        super(message);
        this.path = path;
        this.line = line;
    }

    /** {@code /proc/4242/stat line 1: detail}. */
    public static ProcFormatException at(String path, int line, String detail) {
        return new ProcFormatException(path, line, path + " line " + line + ": " + detail);
    }

    /** For problems that belong to no single line (a missing key, a binary file). */
    public static ProcFormatException of(String path, String detail) {
        return new ProcFormatException(path, 0, path + ": " + detail);
    }

    public String path() {
        return path;
    }

    /** The 1-based line, or 0 when the problem is not on one line. */
    public int line() {
        return line;
    }
}
