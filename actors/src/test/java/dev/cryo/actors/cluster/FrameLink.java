package dev.cryo.actors.cluster;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * A prototype measured by {@link PageChannelBenchmark}, not the page channel's connection: TLS 1.3
 * for the handshake only (mutual authentication with the cluster's keys, {@link TlsLink}), then
 * AES-GCM frames on the same TCP connection with keys agreed inside that TLS connection, as kernel
 * TLS splits the work (handshake in user space, records elsewhere; this kernel has no kTLS). The
 * question was whether the JDK's TLS engine around the cipher is what the channel's TLS costs. It is
 * not, on JDK 17 here: warm, both ends of these frames spent 0.83-1.37 CPU-s per GiB on loopback,
 * the channel's TlsLink 0.94-1.50, the same within the noise, plain TCP 0.45-0.63 (AES-128-GCM itself
 * 0.13 per GiB and end in 256 KiB frames, 0.16 in 16 KiB records); see the README's page channel
 * paragraphs (chan57). Its refusals (below) are as designed, not tested: it carries no image.
 *
 * <p>The protocol. After the handshake, inside TLS: the client sends 32 random bytes, then the server
 * sends 32 of its own (the client's read of them also takes the server's session ticket, which comes
 * first: no TLS record is left unread on either side; bytes beyond the server's secret are refused).
 * Neither side writes TLS again. Keys: HKDF-SHA256 (RFC 5869) with salt {@link #SALT} over the
 * client's secret then the server's, expanded to one AES-128 key per direction (labels
 * {@link #CLIENT_TO_SERVER}, {@link #SERVER_TO_CLIENT}); the secrets are zeroed once used, keys are
 * never logged or written. Then each direction is frames: a 4-byte big-endian plain length n
 * (0..{@link #MAX_FRAME}; more is refused before anything is read), then n + 16 bytes of AES-GCM
 * ciphertext and tag, the 4 length bytes as associated data, the nonce 4 zero bytes then a 64-bit
 * count of the direction's frames (from 0; refused before it would wrap, so no nonce repeats under a
 * key). A frame of length 0 ends the direction: a stream that ends without it was cut short. A
 * frame changed, replayed, reordered, dropped or sealed under another key fails its tag.
 */
final class FrameLink {
    /** Plain bytes per frame: the sender seals at this size (or a flush), the receiver refuses more. */
    static final int MAX_FRAME = 256 << 10;
    static final int TAG = 16;
    static final int HEADER = 4;
    static final int SECRET = 32;
    private static final int TAG_BITS = TAG * 8;
    private static final byte[] SALT = "cryo page channel frames 1".getBytes(StandardCharsets.US_ASCII);
    static final String CLIENT_TO_SERVER = "cryo page channel: client to server";
    static final String SERVER_TO_CLIENT = "cryo page channel: server to client";
    /** Write-behind: one frame being sealed, one in the kernel's hands, one waiting for it. */
    private static final int BEHIND_BUFFERS = 3;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Socket raw;
    private final Out out;
    private final In in;

    private FrameLink(Socket raw, SecretKeySpec send, SecretKeySpec receive, boolean writeBehind) throws IOException {
        this.raw = raw;
        int frame = HEADER + MAX_FRAME + TAG;
        WriteBehind behind = writeBehind ? new WriteBehind(raw, raw.getOutputStream(), BEHIND_BUFFERS, frame, "cryo-page-writer") : null;
        this.out = new Out(raw.getOutputStream(), send, behind);
        this.in = new In(raw.getInputStream(), receive);
    }

    /**
     * Shakes hands over {@code raw} (connected; its SO_TIMEOUT bounds each read) with a configured
     * engine, agrees on the frames' keys inside TLS, and leaves TLS. {@code writeBehind}: a write
     * returns once its bytes are sealed, a thread of the link's own hands them to the kernel
     * ({@link WriteBehind}), and {@link OutputStream#flush} waits for that.
     */
    static FrameLink open(Socket raw, SSLEngine engine, boolean writeBehind) throws IOException {
        TlsLink tls = TlsLink.open(raw, engine);
        boolean client = engine.getUseClientMode();
        byte[] mine = new byte[SECRET], theirs = new byte[SECRET];
        RANDOM.nextBytes(mine);
        try {
            if (client) {
                send(tls, mine);
                receive(tls, theirs);
            } else {
                receive(tls, theirs);
                send(tls, mine);
            }
            if (tls.unread() != 0) { // nothing may follow the secrets but frames, which the peer sends only after them
                throw new SSLException("the peer sent " + tls.unread() + " bytes of TLS after the key exchange");
            }
            SecretKeySpec[] keys = keys(client ? mine : theirs, client ? theirs : mine);
            return new FrameLink(raw, keys[client ? 0 : 1], keys[client ? 1 : 0], writeBehind);
        } finally {
            Arrays.fill(mine, (byte) 0);
            Arrays.fill(theirs, (byte) 0);
        }
    }

    private static void send(TlsLink tls, byte[] secret) throws IOException {
        tls.output().write(secret);
        tls.output().flush();
    }

    private static void receive(TlsLink tls, byte[] secret) throws IOException {
        int n = tls.input().readNBytes(secret, 0, SECRET);
        if (n < SECRET) {
            throw new EOFException("the peer closed the connection during the page channel's key exchange");
        }
    }

    /** HKDF-SHA256 of both secrets: {client to server, server to client} AES-128 keys. */
    static SecretKeySpec[] keys(byte[] clientSecret, byte[] serverSecret) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(SALT, "HmacSHA256"));
            mac.update(clientSecret);
            byte[] prk = mac.doFinal(serverSecret);
            try {
                mac.init(new SecretKeySpec(prk, "HmacSHA256"));
                return new SecretKeySpec[] {expand(mac, CLIENT_TO_SERVER), expand(mac, SERVER_TO_CLIENT)};
            } finally {
                Arrays.fill(prk, (byte) 0);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HKDF-SHA256 is not available: " + e.getMessage(), e);
        }
    }

    /** HKDF-Expand's first block (RFC 5869), cut to 16 bytes: T(1) = HMAC(PRK, info | 0x01). */
    private static SecretKeySpec expand(Mac mac, String label) {
        mac.update(label.getBytes(StandardCharsets.US_ASCII));
        byte[] t = mac.doFinal(new byte[] {1});
        try {
            return new SecretKeySpec(t, 0, 16, "AES");
        } finally {
            Arrays.fill(t, (byte) 0);
        }
    }

    /** The nonce of a direction's frame number {@code count}: 4 zero bytes, then the count. */
    private static GCMParameterSpec nonce(long count) throws SSLException {
        if (count == -1L) { // unsigned: never reached in practice, never wrapped
            throw new SSLException("the page channel's frame count would wrap");
        }
        byte[] iv = new byte[12];
        ByteBuffer.wrap(iv).putLong(4, count);
        return new GCMParameterSpec(TAG_BITS, iv);
    }

    InputStream input() {
        return in;
    }

    OutputStream output() {
        return out;
    }

    /**
     * The end frame of this direction, then TCP's end: the peer reads to its end; reading goes on.
     * The peer may read the end, answer and close, and this end's reader close the socket on that,
     * before the TCP half-close here: that is no failure (see TlsLink#shutdownOutput).
     */
    void shutdownOutput() throws IOException {
        try {
            out.end();
            TlsLink.halfClose(raw);
        } finally {
            out.stop();
        }
    }

    private static final class Out extends OutputStream {
        private final OutputStream socket;
        private final SecretKeySpec key;
        private final Cipher cipher;
        private final WriteBehind behind; // null: this thread hands the frames to the kernel itself
        private ByteBuffer frame; // write mode: the header's room, then the plain bytes of the frame being filled
        private long count;
        private boolean ended;
        private volatile boolean stopped;

        Out(OutputStream socket, SecretKeySpec key, WriteBehind behind) throws IOException {
            this.socket = socket;
            this.key = key;
            this.cipher = gcm();
            this.behind = behind;
            this.frame = behind == null ? ByteBuffer.allocate(HEADER + MAX_FRAME + TAG) : behind.take();
            frame.position(HEADER);
        }

        void stop() {
            stopped = true;
            if (behind != null) {
                behind.stop();
            }
        }

        @Override
        public synchronized void write(int b) throws IOException {
            write(ByteBuffer.wrap(new byte[] {(byte) b}));
        }

        /** Into the frame being filled; a full frame is sealed and sent, the rest waits for a flush. */
        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            write(ByteBuffer.wrap(b, off, len));
        }

        private void write(ByteBuffer src) throws IOException {
            checkOpen();
            while (src.hasRemaining()) {
                int room = HEADER + MAX_FRAME - frame.position();
                if (room == 0) {
                    seal();
                    continue;
                }
                int k = Math.min(room, src.remaining()), limit = src.limit();
                frame.put(src.limit(src.position() + k));
                src.limit(limit);
            }
        }

        private void checkOpen() throws IOException {
            if (ended || stopped) {
                throw new IOException("the connection is closed for writing");
            }
        }

        /** The frame's plain bytes encrypted in place, its length and tag around them; then to the kernel. */
        private void seal() throws IOException {
            int n = frame.position() - HEADER;
            byte[] a = frame.array();
            int at = frame.arrayOffset();
            ByteBuffer.wrap(a, at, HEADER).putInt(n);
            try {
                cipher.init(Cipher.ENCRYPT_MODE, key, nonce(count));
                cipher.updateAAD(a, at, HEADER);
                int sealed = cipher.doFinal(a, at + HEADER, n, a, at + HEADER);
                frame.position(HEADER + sealed);
            } catch (GeneralSecurityException e) {
                throw new SSLException("sealing a page channel frame failed: " + e.getMessage(), e);
            }
            count++;
            if (behind != null) {
                ByteBuffer next = behind.take(); // first: on a failure, frame stays this thread's
                behind.submit(frame);
                frame = next;
            } else {
                socket.write(a, at, frame.position());
                frame.clear();
            }
            frame.position(HEADER);
        }

        /** What is buffered goes out as a frame, and is in the kernel when this returns. */
        @Override
        public synchronized void flush() throws IOException {
            checkOpen();
            if (frame.position() > HEADER) {
                seal();
            }
            if (behind != null) {
                behind.awaitWritten();
            }
            socket.flush();
        }

        /** What is buffered, then the end frame (length 0); nothing more is written. */
        synchronized void end() throws IOException {
            if (ended || stopped) {
                return;
            }
            flush();
            seal(); // the empty frame
            ended = true;
            if (behind != null) {
                behind.awaitWritten();
            }
        }
    }

    /**
     * One frame at a time, decrypted in place in the array it was read into; a read of the socket
     * also takes the next frame's header if it is there.
     */
    private final class In extends InputStream {
        private final InputStream socket;
        private final SecretKeySpec key;
        private final Cipher cipher;
        private final byte[] net = new byte[HEADER + MAX_FRAME + TAG + HEADER];
        private final ByteBuffer plain = ByteBuffer.wrap(net).limit(0); // read mode: the decrypted bytes not yet read
        private int got; // bytes of the next frame in net, from 0
        private long count;
        private boolean ended;

        In(InputStream socket, SecretKeySpec key) throws IOException {
            this.socket = socket;
            this.key = key;
            this.cipher = gcm();
        }

        @Override
        public synchronized int read() throws IOException {
            return next() ? plain.get() & 0xff : -1;
        }

        @Override
        public synchronized int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!next()) {
                return -1;
            }
            int k = Math.min(len, plain.remaining());
            plain.get(b, off, k);
            return k;
        }

        @Override
        public synchronized int available() {
            return plain.remaining();
        }

        /** Decrypted bytes to read (receives frames until there are); false at the end frame. */
        private boolean next() throws IOException {
            while (!plain.hasRemaining()) {
                if (ended) {
                    return false;
                }
                receive();
            }
            return true;
        }

        /** The declared plain length of the frame whose header is in net; over the bound is refused. */
        private int length() throws IOException {
            int n = ByteBuffer.wrap(net, 0, HEADER).getInt(0);
            if (n < 0 || n > MAX_FRAME) {
                throw new SSLException("a page channel frame of " + Integer.toUnsignedString(n)
                        + " bytes, over the bound of " + MAX_FRAME + ": refused");
            }
            return n;
        }

        /** Reads, checks and decrypts the next frame (in place); its plain bytes become readable. */
        private void receive() throws IOException {
            while (got < HEADER) {
                fill(HEADER);
            }
            int n = length();
            int end = HEADER + n + TAG;
            while (got < end) {
                fill(end);
            }
            int decrypted;
            try {
                cipher.init(Cipher.DECRYPT_MODE, key, nonce(count));
                cipher.updateAAD(net, 0, HEADER);
                decrypted = cipher.doFinal(net, HEADER, n + TAG, net, HEADER);
            } catch (AEADBadTagException e) {
                throw new SSLException("page channel frame " + count + " failed authentication"
                        + " (changed, replayed, reordered or sealed under another key): refused");
            } catch (GeneralSecurityException e) {
                throw new SSLException("opening page channel frame " + count + " failed: " + e.getMessage(), e);
            }
            count++;
            // what was read beyond the frame is the next header's start: moved before the plain bytes
            int beyond = got - end;
            System.arraycopy(net, end, net, 0, beyond);
            got = beyond;
            plain.limit(HEADER + decrypted).position(HEADER);
            if (n == 0) {
                ended = true;
            }
        }

        /** One read of the socket towards {@code end} bytes of the frame (and the next header); EOF fails. */
        private void fill(int end) throws IOException {
            int n = socket.read(net, got, end + HEADER - got);
            if (n < 0) {
                throw new EOFException("the page channel's connection ended without its end frame: cut short");
            }
            got += n;
        }
    }

    private static Cipher gcm() throws IOException {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new SSLException("AES-GCM is not available: " + e.getMessage(), e);
        }
    }
}
