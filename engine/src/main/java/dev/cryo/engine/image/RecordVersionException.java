package dev.cryo.engine.image;

import com.esotericsoftware.kryo.KryoException;

/** A record carries a codec version this build does not know; readers turn it into {@link UnsupportedImageVersionException}. */
public class RecordVersionException extends KryoException {
    public RecordVersionException(String message) {
        super(message);
    }
}
