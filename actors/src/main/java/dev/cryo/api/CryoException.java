package dev.cryo.api;

/** A dump or restore that could not be done; the message names the cause for a person. */
public class CryoException extends RuntimeException {
    public CryoException(String message) {
        super(message);
    }

    public CryoException(String message, Throwable cause) {
        super(message, cause);
    }
}
