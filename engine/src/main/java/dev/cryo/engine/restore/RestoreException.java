package dev.cryo.engine.restore;

/** A reason a restore cannot go on, worded for the user; nothing of the tree is left behind. */
public class RestoreException extends RuntimeException {
    public RestoreException(String message) {
        super(message);
    }

    public RestoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
