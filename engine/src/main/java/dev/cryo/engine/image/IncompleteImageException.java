package dev.cryo.engine.image;

/** The dump did not complete: no trailer, or only the partial file exists. Never restorable. */
public class IncompleteImageException extends ImageException {
    public IncompleteImageException(String message) {
        super(message);
    }
}
