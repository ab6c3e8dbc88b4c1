package dev.cryo.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.cryo.engine.files.PrivateModes;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;

/**
 * The TLS key material of one cluster, in one directory (0700, files 0600): a key pair with its
 * self-signed certificate ({@code node.p12}), the same certificate as the only trusted one
 * ({@code trust.p12}) and the stores' password ({@code password}). Every agent and every CLI of
 * the cluster uses the same directory, so TLS with mutual authentication on Artery and on the page
 * channel lets in exactly the holders of these keys.
 */
public final class ClusterKeys {
    static final String KEY_STORE = "node.p12", TRUST_STORE = "trust.p12", PASSWORD = "password";

    private final Path dir;
    private final String password;

    private ClusterKeys(Path dir, String password) {
        this.dir = dir;
        this.password = password;
    }

    /** Creates the key material with the JDK's keytool; refuses a directory that already holds keys. */
    public static ClusterKeys init(Path dir) throws IOException {
        Files.createDirectories(dir, PrivateModes.DIR_ATTRIBUTE);
        Files.setPosixFilePermissions(dir, PrivateModes.DIR);
        for (String f : List.of(KEY_STORE, TRUST_STORE, PASSWORD)) {
            if (Files.exists(dir.resolve(f))) {
                throw new IOException(dir + " already holds cluster keys (" + f + "); remove them or choose another directory");
            }
        }
        byte[] secret = new byte[24];
        new SecureRandom().nextBytes(secret);
        String password = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        Path pw = dir.resolve(PASSWORD);
        Files.createFile(pw, PrivateModes.FILE_ATTRIBUTE);
        Files.writeString(pw, password + "\n");
        Path cert = dir.resolve("node.crt.tmp");
        byte[] id = new byte[6];
        new SecureRandom().nextBytes(id);
        String cn = "CN=cryo cluster " + java.util.HexFormat.of().formatHex(id);
        try {
            keytool(dir, "-genkeypair", "-alias", "cryo", "-keyalg", "EC", "-groupname", "secp256r1",
                    "-sigalg", "SHA256withECDSA", "-validity", "3650", "-dname", cn, "-storetype", "PKCS12",
                    "-keystore", dir.resolve(KEY_STORE).toString(), "-storepass:file", pw.toString(),
                    "-keypass:file", pw.toString());
            keytool(dir, "-exportcert", "-alias", "cryo", "-keystore", dir.resolve(KEY_STORE).toString(),
                    "-storepass:file", pw.toString(), "-file", cert.toString());
            keytool(dir, "-importcert", "-noprompt", "-alias", "cryo-cluster", "-file", cert.toString(),
                    "-storetype", "PKCS12", "-keystore", dir.resolve(TRUST_STORE).toString(),
                    "-storepass:file", pw.toString());
        } finally {
            Files.deleteIfExists(cert);
        }
        for (String f : List.of(KEY_STORE, TRUST_STORE, PASSWORD)) {
            Files.setPosixFilePermissions(dir.resolve(f), PrivateModes.FILE);
        }
        return load(dir);
    }

    private static void keytool(Path dir, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (InputStream in = p.getInputStream()) {
            String out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException("keytool " + args[0] + " failed: " + out.trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running keytool", e);
        }
    }

    /** Reads the key directory; refuses missing files and files others may read. */
    public static ClusterKeys load(Path dir) throws IOException {
        for (String f : List.of(KEY_STORE, TRUST_STORE, PASSWORD)) {
            Path p = dir.resolve(f);
            if (!Files.isRegularFile(p)) {
                throw new IOException(dir + " holds no cluster keys (" + f + " is missing); create them with `cryo keys init "
                        + dir + "`");
            }
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
            if (!PrivateModes.FILE.containsAll(perms)) {
                throw new IOException(p + " is readable by others (" + PosixFilePermissions.toString(perms)
                        + "); it must be 0600");
            }
        }
        return new ClusterKeys(dir.toAbsolutePath(), Files.readString(dir.resolve(PASSWORD)).trim());
    }

    public Path dir() {
        return dir;
    }

    /**
     * Artery over TLS (TLSv1.3, mutual authentication) with these keys; no plain-text transport. Its bind, which
     * loads the keys, may take the actor system's start Pekko's 3 s: at load 40 an agent and a CLI's client
     * failed to start so ("Future timed out after [3000 milliseconds]", MigrationTest), and a busy host (a
     * migration in full swing) must not lose its associations to a short handshake timeout either.
     */
    public Config arteryTls() {
        String p = "pekko.remote.artery.ssl.config-ssl-engine.";
        return ConfigFactory.empty()
                .withValue("pekko.remote.artery.transport", ConfigValueFactory.fromAnyRef("tls-tcp"))
                .withValue("pekko.remote.artery.bind.bind-timeout", ConfigValueFactory.fromAnyRef("60s"))
                .withValue("pekko.remote.artery.advanced.handshake-timeout", ConfigValueFactory.fromAnyRef("60s"))
                .withValue(p + "key-store", ConfigValueFactory.fromAnyRef(dir.resolve(KEY_STORE).toString()))
                .withValue(p + "trust-store", ConfigValueFactory.fromAnyRef(dir.resolve(TRUST_STORE).toString()))
                .withValue(p + "key-store-password", ConfigValueFactory.fromAnyRef(password))
                .withValue(p + "key-password", ConfigValueFactory.fromAnyRef(password))
                .withValue(p + "trust-store-password", ConfigValueFactory.fromAnyRef(password))
                .withValue(p + "require-mutual-authentication", ConfigValueFactory.fromAnyRef(true));
    }

    /** A TLSv1.3 context for the page channel: our certificate, and only the cluster's trusted. */
    public SSLContext sslContext() throws IOException {
        try {
            char[] pw = password.toCharArray();
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(dir.resolve(KEY_STORE))) {
                ks.load(in, pw);
            }
            KeyStore ts = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(dir.resolve(TRUST_STORE))) {
                ts.load(in, pw);
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ts);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot load the cluster keys in " + dir + ": " + e.getMessage(), e);
        }
    }
}
