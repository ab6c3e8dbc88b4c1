package dev.cryo.engine.image;

import java.io.IOException;

/** Base of all problems with an image: refused, incomplete, unsupported or damaged. */
public class ImageException extends IOException {
    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
