package dev.cryo.actors.cluster;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLEngineResult.Status;
import javax.net.ssl.SSLException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;

/**
 * One TLS connection driven through an {@link SSLEngine} over a blocking socket, in place of JSSE's
 * SSLSocket: a write encrypts all its bytes (16 KiB records) into one buffer and hands them to the
 * kernel in one call; a read takes whatever the socket holds (up to 256 KiB) in one call and
 * decrypts record after record from it. SSLSocket writes each record with a call of its own and
 * reads each record's header and body with two: 1 GiB on loopback at load 18 (JDK 17,
 * AES-128-GCM) cost 1.0-1.5 CPU-s receiving and 0.55-1.0 sending through it, 0.46-0.48 and
 * 0.51-0.57 this way. Same protocol, cipher suites and peer checks: the engine is the SSLSocket's.
 *
 * <p>One thread writes and another reads at once (SSLEngine allows wrap and unwrap to run
 * concurrently); a post-handshake message the reader meets that needs an answer is written under the
 * writer's lock. Reads and writes time out as the socket's SO_TIMEOUT says.
 */
final class TlsLink {
    /** Plain bytes encrypted per call to the kernel: as the sender's writes (see PageChannel). */
    private static final int BATCH = 256 << 10;
    private static final int RECORD_HEADER = 5;
    /** Write-behind: one batch being encrypted, one in the kernel's hands, one waiting for it. */
    private static final int BEHIND_BUFFERS = 3;

    private final Socket raw;
    private final SSLEngine engine;
    private final Out out;
    private final In in;

    private TlsLink(Socket raw, SSLEngine engine, boolean writeBehind) throws IOException {
        this.raw = raw;
        this.engine = engine;
        int packet = engine.getSession().getPacketBufferSize();
        int plain = engine.getSession().getApplicationBufferSize();
        int batch = (BATCH / plain + 2) * packet;
        WriteBehind behind = writeBehind ? new WriteBehind(raw, raw.getOutputStream(), BEHIND_BUFFERS, batch, "cryo-page-writer") : null;
        this.out = new Out(raw.getOutputStream(), packet, batch, behind);
        this.in = new In(raw.getInputStream(), BATCH + packet, BATCH + 2 * plain);
    }

    /** Shakes hands over {@code raw} (connected; its SO_TIMEOUT bounds each read) with a configured engine. */
    static TlsLink open(Socket raw, SSLEngine engine) throws IOException {
        return open(raw, engine, false);
    }

    /**
     * As {@link #open(Socket, SSLEngine)}; {@code writeBehind}: a write returns once its bytes are
     * encrypted, a thread of the link's own hands them to the kernel ({@link WriteBehind}), and
     * {@link OutputStream#flush} waits for that.
     */
    static TlsLink open(Socket raw, SSLEngine engine, boolean writeBehind) throws IOException {
        TlsLink link = new TlsLink(raw, engine, writeBehind);
        try {
            link.handshake();
        } catch (IOException | RuntimeException e) {
            link.out.stop();
            throw e;
        }
        return link;
    }

    InputStream input() {
        return in;
    }

    OutputStream output() {
        return out;
    }

    /** Encrypts all of {@code srcs} from where they are (see {@link Out#write(ByteBuffer[])}); {@code flush} ends the batch. */
    void write(ByteBuffer[] srcs) throws IOException {
        out.write(srcs);
    }

    SSLEngine engine() {
        return engine;
    }

    /** Whether a read now returns without waiting for the socket (decrypted bytes, or a whole record, are here). */
    boolean ready() {
        return in.ready();
    }

    /**
     * Whether bytes to read are here or come within {@code millis} (or the stream ends): the read
     * that follows then does not wait long. Reads what comes into the link's own buffer.
     */
    boolean awaitInput(int millis) throws IOException {
        return in.await(millis);
    }

    /**
     * TLS's end of this direction (close_notify), then TCP's: the peer reads to its end; reading goes
     * on. Once the close_notify is in the kernel the peer may read it, answer and close, and this
     * end's reader close the socket on that, all before the TCP half-close here: the socket is then
     * closed, the end went out, and that is no failure (PageChannelTest's sync test, once in CI:
     * "Socket is closed" from the image's commit). Whoever closed it says if anything failed.
     */
    void shutdownOutput() throws IOException {
        try {
            out.closeOutbound();
            halfClose(raw);
        } finally {
            out.stop();
        }
    }

    /** TCP's end of this direction; a socket closed meanwhile by this end's reader is no failure (above). */
    static void halfClose(Socket raw) throws IOException {
        try {
            raw.shutdownOutput();
        } catch (java.net.SocketException e) {
            if (!raw.isClosed()) {
                throw e;
            }
        }
    }

    /** close_notify if it goes out at once, then the socket closes. */
    void close() throws IOException {
        try {
            out.closeOutbound();
        } catch (IOException ignored) {
            // the socket closes anyway
        } finally {
            out.stop();
            raw.close();
        }
    }

    private void handshake() throws IOException {
        engine.beginHandshake();
        for (int i = 0; ; i++) {
            if (i == 10_000) {
                throw new SSLException("the TLS handshake does not end");
            }
            try {
                switch (engine.getHandshakeStatus()) {
                    case NEED_WRAP -> out.sendPending();
                    case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> in.receiveHandshake();
                    case NEED_TASK -> runTasks();
                    default -> {
                        return;
                    }
                }
            } catch (SSLException e) { // e.g. the peer's certificate refused (found in a task, thrown by the next wrap)
                sendAlert();
                throw e;
            }
        }
    }

    private void runTasks() {
        for (Runnable t; (t = engine.getDelegatedTask()) != null; ) {
            t.run();
        }
    }

    /** After an engine's failure: its alert (e.g. bad_certificate) goes to the peer if it can. */
    private void sendAlert() {
        try {
            out.sendAlert();
        } catch (IOException | RuntimeException ignored) {
            // the failure that called this is what is reported
        }
    }

    private final class Out extends OutputStream {
        private final OutputStream socket;
        private final int packet;
        private final WriteBehind behind; // null: this thread hands the bytes to the kernel itself
        private ByteBuffer net; // write mode: what is encrypted and not yet handed to the kernel
        private volatile boolean stopped;

        Out(OutputStream socket, int packet, int capacity, WriteBehind behind) throws IOException {
            this.socket = socket;
            this.packet = packet;
            this.behind = behind;
            this.net = behind == null ? ByteBuffer.allocate(capacity) : behind.take();
        }

        void stop() {
            stopped = true;
            if (behind != null) {
                behind.stop();
            }
        }

        /**
         * What a record the reader met calls for; nothing once this direction has ended. The reader
         * also sees NEED_WRAP while the writer ends it (closeOutbound, close_notify not wrapped yet),
         * and by the time it got here the writer had stopped: the read failed with "the connection is
         * closed for writing", and the sender lost the receipt of the image's end (MigrationBenchmark's
         * channel row, once).
         */
        synchronized void answer() throws IOException {
            if (stopped || engine.isOutboundDone()) {
                return;
            }
            sendPending();
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        /** Encrypts all of it and hands it to the kernel (or to the write-behind) before returning. */
        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            write(new ByteBuffer[] {ByteBuffer.wrap(b, off, len)});
            drain();
        }

        /**
         * Encrypts all of {@code srcs} (a record may span them), straight from the caller's buffers;
         * with a write-behind the last partial batch waits for the next write or {@link #flush}, so
         * that small gathered writes still reach the kernel in whole batches.
         */
        synchronized void write(ByteBuffer[] srcs) throws IOException {
            for (int first = 0; first < srcs.length; ) {
                if (!srcs[first].hasRemaining()) {
                    first++;
                    continue;
                }
                if (net.remaining() < packet) {
                    drain();
                }
                SSLEngineResult r = wrap(srcs, first);
                if (r.getStatus() == Status.CLOSED) {
                    throw new SSLException("the TLS connection is closed for writing");
                }
                if (r.getStatus() == Status.BUFFER_OVERFLOW) {
                    if (net.position() == 0) {
                        throw new SSLException("a TLS record larger than the engine said: " + r);
                    }
                    drain();
                    continue;
                }
                if (r.bytesConsumed() == 0 && r.bytesProduced() == 0 && r.getStatus() == Status.OK
                        && r.getHandshakeStatus() != HandshakeStatus.NEED_TASK) {
                    throw new SSLException("TLS takes no more bytes: " + r);
                }
            }
            if (behind == null) {
                drain();
            }
        }

        /** Whatever the engine has to say without data (handshake messages, alerts, close_notify). */
        synchronized void sendPending() throws IOException {
            ByteBuffer none = ByteBuffer.allocate(0);
            for (int i = 0; i < 100 && engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP; i++) {
                if (net.remaining() < packet) {
                    drain();
                }
                if (wrap(none).bytesProduced() == 0 && engine.isOutboundDone()) {
                    break;
                }
            }
            settle();
        }

        /** The alert a failed engine holds (it may not say NEED_WRAP for it). */
        synchronized void sendAlert() throws IOException {
            ByteBuffer none = ByteBuffer.allocate(0);
            for (int i = 0; i < 10; i++) {
                if (net.remaining() < packet) {
                    drain();
                }
                if (engine.wrap(none, net).bytesProduced() == 0) {
                    break;
                }
            }
            settle();
        }

        synchronized void closeOutbound() throws IOException {
            if (engine.isOutboundDone()) {
                return;
            }
            engine.closeOutbound();
            ByteBuffer none = ByteBuffer.allocate(0);
            for (int i = 0; i < 100 && !engine.isOutboundDone(); i++) {
                if (net.remaining() < packet) {
                    drain();
                }
                if (wrap(none).bytesProduced() == 0) {
                    break;
                }
            }
            settle();
        }

        private SSLEngineResult wrap(ByteBuffer src) throws IOException {
            return wrap(new ByteBuffer[] {src}, 0);
        }

        private SSLEngineResult wrap(ByteBuffer[] srcs, int first) throws IOException {
            SSLEngineResult r = engine.wrap(srcs, first, srcs.length - first, net);
            if (r.getHandshakeStatus() == HandshakeStatus.NEED_TASK) {
                runTasks();
            }
            return r;
        }

        private void drain() throws IOException {
            if (net.position() == 0) {
                return;
            }
            if (behind != null) {
                ByteBuffer next = behind.take(); // first: on a failure, net stays this thread's
                behind.submit(net);
                net = next;
                return;
            }
            socket.write(net.array(), 0, net.position());
            net.clear();
        }

        /** All that is encrypted is in the kernel. */
        private void settle() throws IOException {
            drain();
            if (behind != null) {
                behind.awaitWritten();
            }
        }

        @Override
        public synchronized void flush() throws IOException {
            settle();
            socket.flush();
        }
    }

    /**
     * Also a channel: {@link #read(ByteBuffer)} copies the decrypted bytes straight into the caller's
     * buffer (the arriving image's reader's direct one), where a read into an array of the caller's
     * took one more copy of every byte.
     */
    private final class In extends InputStream implements java.nio.channels.ReadableByteChannel {
        private final InputStream socket;
        private final ByteBuffer net; // write mode: bytes read from the socket, not yet decrypted
        private final ByteBuffer app; // read mode: decrypted, not yet read
        private final int plain;
        private boolean ended;

        In(InputStream socket, int netCapacity, int appCapacity) {
            this.socket = socket;
            this.net = ByteBuffer.allocate(netCapacity);
            this.app = ByteBuffer.allocate(appCapacity).flip();
            this.plain = engine.getSession().getApplicationBufferSize();
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public synchronized int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            while (!app.hasRemaining()) {
                if (ended) {
                    return -1;
                }
                decrypt();
            }
            int k = Math.min(len, app.remaining());
            app.get(b, off, k);
            return k;
        }

        @Override
        public synchronized int read(ByteBuffer dst) throws IOException {
            if (!dst.hasRemaining()) {
                return 0;
            }
            while (!app.hasRemaining()) {
                if (ended) {
                    return -1;
                }
                if (dst.remaining() >= plain) {
                    int n = decryptInto(dst);
                    if (n > 0) {
                        return n;
                    }
                } else {
                    decrypt();
                }
            }
            int k = Math.min(dst.remaining(), app.remaining()), limit = app.limit();
            dst.put(app.limit(app.position() + k));
            app.limit(limit);
            return k;
        }

        @Override
        public boolean isOpen() {
            return !raw.isClosed();
        }

        @Override
        public synchronized int available() {
            return app.remaining();
        }

        synchronized boolean ready() {
            return app.hasRemaining() || wholeRecord();
        }

        /** A whole record waits in {@code net} (its header says how long it is). */
        private boolean wholeRecord() {
            if (net.position() < RECORD_HEADER) {
                return false;
            }
            int length = ((net.get(3) & 0xff) << 8) | (net.get(4) & 0xff);
            return net.position() >= RECORD_HEADER + length;
        }

        /** Decrypts the whole records {@code net} holds into {@code app}, reading the socket first if it holds none. */
        private void decrypt() throws IOException {
            app.compact();
            try {
                decryptInto(app);
            } finally {
                app.flip();
            }
        }

        /**
         * As {@link #decrypt}, into {@code dst} while it has room for a record: the caller's own buffer
         * when it has (a chunk's pages, which the arriving image's reader asks for all at once), where
         * every record went into {@code app} and was copied from there; returns the bytes put there
         * (0: none yet, or a record with none, e.g. a session ticket).
         */
        private int decryptInto(ByteBuffer dst) throws IOException {
            if (!wholeRecord()) {
                fillNet();
            }
            int before = dst.position();
            net.flip();
            try {
                while (net.hasRemaining() && dst.remaining() >= plain) {
                    SSLEngineResult r = unwrap(dst);
                    if (r.getStatus() == Status.CLOSED) {
                        ended = true;
                        break;
                    }
                    if (r.getStatus() == Status.BUFFER_UNDERFLOW) {
                        break;
                    }
                }
            } finally {
                net.compact();
            }
            return dst.position() - before;
        }

        private SSLEngineResult unwrap() throws IOException {
            return unwrap(app);
        }

        private SSLEngineResult unwrap(ByteBuffer to) throws IOException {
            SSLEngineResult r;
            try {
                r = engine.unwrap(net, to);
            } catch (SSLException e) {
                sendAlert();
                throw e;
            }
            switch (r.getHandshakeStatus()) {
                case NEED_TASK -> runTasks();
                case NEED_WRAP -> out.answer(); // e.g. the answer to a key update
                default -> { }
            }
            if (r.getStatus() == Status.BUFFER_OVERFLOW) {
                throw new SSLException("a TLS record larger than the engine said: " + r);
            }
            return r;
        }

        private void fillNet() throws IOException {
            if (!net.hasRemaining()) {
                throw new SSLException("a TLS record larger than " + net.capacity() + " bytes");
            }
            int n = socket.read(net.array(), net.position(), net.remaining());
            if (n < 0) {
                if (!engine.isInboundDone()) {
                    throw new EOFException("the peer closed the connection without TLS's close_notify");
                }
                ended = true;
                return;
            }
            net.position(net.position() + n);
        }

        synchronized boolean await(int millis) throws IOException {
            if (ready() || ended) {
                return true;
            }
            int timeout = raw.getSoTimeout();
            raw.setSoTimeout(millis);
            try {
                fillNet();
                return true;
            } catch (java.net.SocketTimeoutException nothing) {
                return false;
            } finally {
                raw.setSoTimeout(timeout);
            }
        }

        /** One step of the handshake: the records here, or more bytes from the socket. */
        synchronized void receiveHandshake() throws IOException {
            if (!wholeRecord()) {
                int n = socket.read(net.array(), net.position(), net.remaining());
                if (n < 0) {
                    throw new EOFException("the peer closed the connection during the TLS handshake");
                }
                net.position(net.position() + n);
                if (!wholeRecord()) {
                    return;
                }
            }
            app.compact();
            net.flip();
            try {
                unwrap();
            } finally {
                net.compact();
                app.flip();
            }
        }
    }
}
