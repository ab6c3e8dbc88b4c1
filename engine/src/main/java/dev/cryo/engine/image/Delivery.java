package dev.cryo.engine.image;

import java.io.IOException;

/**
 * The far end of an image stream, as the sending side sees it: what is buffered here can be pushed
 * out, and the far end says how many bytes of the image it has taken in (checked and stored). A
 * pre-copy round of a migration ends there, not when its bytes are queued, so the frozen round
 * never waits behind an earlier round's backlog (1 GiB idle: about a second of the downtime).
 */
public interface Delivery {
    /** Sends what is buffered on this side. */
    void flush() throws IOException;

    /**
     * Waits until the far end has taken in the first {@code bytes} of the image; gives up quietly
     * after its own bound (the bytes still arrive, only later), fails if the stream failed.
     */
    void await(long bytes) throws IOException;
}
