package dev.cryo.engine.image;

/** The image (or one record in it) was written by a newer format than this build reads. */
public class UnsupportedImageVersionException extends ImageException {
    public UnsupportedImageVersionException(String message) {
        super(message);
    }
}
