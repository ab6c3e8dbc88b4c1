package dev.cryo.engine.image;

/**
 * The image bytes are damaged: a CRC mismatch, an impossible length, a truncation, a record
 * that does not decode. The message names the file, where (header, chunk N with its kind and
 * offset, trailer) and what is wrong.
 */
public class ImageCorruptException extends ImageException {
    public ImageCorruptException(String message) {
        super(message);
    }

    public ImageCorruptException(String message, Throwable cause) {
        super(message, cause);
    }
}
