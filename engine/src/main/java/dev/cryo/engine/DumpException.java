package dev.cryo.engine;

/**
 * An expected reason a dump or restore cannot go on, worded for the user
 * (e.g. {@code pid 123 fd 5: netlink socket is not supported yet}).
 */
public class DumpException extends RuntimeException {
    public DumpException(String message) {
        super(message);
    }

    public DumpException(String message, Throwable cause) {
        super(message, cause);
    }
}
