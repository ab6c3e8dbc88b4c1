package dev.cryo.actors.cluster;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * One TLS handshake with an agent's Artery port, beside the client's own association: Artery
 * retries a handshake its peer refuses until the ask times out (a minute and more for a client
 * holding other keys), where a refusal is certain at once. Only a TLS failure counts: anything
 * else (no answer yet, nothing listening) is left to the asks, as before.
 */
final class KeysProbe {
    /** How long to listen after our side of the handshake for the agent refusing our certificate (TLS 1.3 says so then). */
    private static final int AFTER_HANDSHAKE_MS = 2000;

    private KeysProbe() {
    }

    /** Completes with the reason when the agent at host:port refuses TLS with these keys; never completes otherwise. */
    static CompletableFuture<String> refusal(SSLContext tls, String host, int port, Duration wait) {
        CompletableFuture<String> refused = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            String reason = probe(tls, host, port, wait);
            if (reason != null) refused.complete(reason);
        }, "cryo-keys-probe");
        t.setDaemon(true);
        t.start();
        return refused;
    }

    /** The refusal's reason, or null when the agent took our keys or nothing could be told. */
    static String probe(SSLContext tls, String host, int port, Duration wait) {
        int ms = (int) Math.min(Integer.MAX_VALUE, wait.toMillis());
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(host, port), ms);
            raw.setSoTimeout(ms);
            try (SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(raw, host, port, false)) {
                s.startHandshake();
                s.setSoTimeout(AFTER_HANDSHAKE_MS);
                try {
                    s.getInputStream().read(); // an agent that took us sends nothing before Artery's header
                } catch (SocketTimeoutException quiet) {
                    return null;
                }
                return null;
            }
        } catch (SSLException e) {
            if (!refused(e)) return null;
            return "the agent at " + host + ":" + port + " refused TLS with these keys, or holds other ones ("
                    + e.getMessage() + "): every agent and client of a cluster uses the same `cryo keys` directory";
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** A certificate one side would not take, said by an alert or found by our own check; not a connection that broke. */
    private static boolean refused(SSLException e) {
        if (String.valueOf(e.getMessage()).contains("fatal alert")) return true;
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
            if (c instanceof GeneralSecurityException) return true;
        }
        return false;
    }
}
