package dev.cryo.actors.cluster;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * A thread of its own that hands filled buffers to a socket (or a file), in order, while the caller
 * fills the next: the page channel's sender encrypts one batch while the kernel takes the one before
 * (on a veth link the kernel's send also runs the receiving stack: about as much CPU as the cipher);
 * the receiver decrypts while the staging file takes what came before. A few buffers turn between
 * the two; the caller waits for a free one, so the bytes held here stay bounded. The thread's
 * failure (a reset, a cut, a full disk) is thrown to the caller's next call.
 */
final class WriteBehind {
    /** Where the bytes go: all of {@code b}'s remaining bytes. */
    interface Sink {
        void write(ByteBuffer b) throws IOException;
    }

    /** How often an idle writer looks whether its socket has closed under it (an abort). */
    private static final long IDLE_CHECK_MILLIS = 1000;

    private final java.util.function.BooleanSupplier closed;
    private final Sink sink;
    private final ArrayDeque<ByteBuffer> free = new ArrayDeque<>();
    private final ArrayDeque<ByteBuffer> queued = new ArrayDeque<>();
    private boolean writing;
    private boolean stopped;
    private IOException failed;
    /** The sink closed from outside while nothing was queued: all submitted before was in the kernel. */
    private boolean closedWhileIdle;

    /** {@code buffers} (at least 2) of {@code capacity} bytes turn between the caller and the thread. */
    WriteBehind(Socket raw, OutputStream socket, int buffers, int capacity, String name) {
        this(raw::isClosed, b -> socket.write(b.array(), b.arrayOffset() + b.position(), b.remaining()), buffers,
                ByteBuffer::allocate, capacity, name);
    }

    /**
     * {@code closed}: whether the sink was closed from outside (an idle thread then fails the next
     * call); {@code allocate} makes the buffers.
     */
    WriteBehind(java.util.function.BooleanSupplier closed, Sink sink, int buffers,
                java.util.function.IntFunction<ByteBuffer> allocate, int capacity, String name) {
        this.closed = closed;
        this.sink = sink;
        for (int i = 0; i < buffers; i++) {
            free.add(allocate.apply(capacity));
        }
        Thread t = new Thread(this::run, name);
        t.setDaemon(true);
        t.start();
    }

    /** An empty buffer (write mode) to fill; waits for one the socket has taken. */
    synchronized ByteBuffer take() throws IOException {
        while (free.isEmpty()) {
            check();
            waitHere();
        }
        check();
        return free.poll().clear();
    }

    /** {@code filled} (write mode, from {@link #take}) goes to the socket after those before it. */
    synchronized void submit(ByteBuffer filled) throws IOException {
        check();
        if (filled.position() == 0) {
            free.add(filled);
            return;
        }
        queued.add(filled.flip());
        notifyAll();
    }

    /**
     * Returns once all that was submitted is in the kernel. A sink closed under the idle thread after the
     * last write is no failure here: the peer may have read an image's end, answered and closed, and this
     * end's reader closed the socket on that, before this caller woke (PageChannelTest's sync test in CI:
     * "the connection was closed" from the image's commit); the next write fails.
     */
    synchronized void awaitWritten() throws IOException {
        while (!queued.isEmpty() || writing) {
            check();
            waitHere();
        }
        if (!closedWhileIdle) {
            check();
        }
    }

    /** The thread ends (what is queued is dropped: the caller waits for it first if it matters). */
    synchronized void stop() {
        stopped = true;
        notifyAll();
    }

    private void check() throws IOException {
        if (failed != null) {
            throw new IOException(failed.getMessage(), failed);
        }
        if (stopped) {
            throw new IOException("the connection is closed for writing");
        }
    }

    private void waitHere() throws IOException {
        try {
            wait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for the socket");
        }
    }

    private void run() {
        while (true) {
            ByteBuffer b;
            synchronized (this) {
                while (queued.isEmpty() && !stopped && failed == null) {
                    if (closed.getAsBoolean()) { // aborted from outside while idle: a write now fails, never waits
                        failed = new java.net.SocketException("the connection was closed");
                        closedWhileIdle = true;
                        notifyAll();
                        return;
                    }
                    try {
                        wait(IDLE_CHECK_MILLIS);
                    } catch (InterruptedException e) {
                        failed = new java.io.InterruptedIOException("the connection's writer was interrupted");
                        notifyAll();
                        return;
                    }
                }
                if (stopped || failed != null) {
                    return;
                }
                b = queued.poll();
                writing = true;
            }
            IOException failure = null;
            try {
                sink.write(b);
            } catch (IOException e) {
                failure = e;
            }
            synchronized (this) {
                writing = false;
                free.add(b);
                if (failure != null) {
                    failed = failure;
                }
                notifyAll();
                if (failure != null) {
                    return;
                }
            }
        }
    }
}
