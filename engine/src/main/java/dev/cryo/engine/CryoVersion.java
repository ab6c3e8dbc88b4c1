package dev.cryo.engine;

import dev.cryo.engine.image.ImageFormat;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The build's version (from the Maven project) and the image format versions it handles. */
public final class CryoVersion {
    private CryoVersion() {}

    /** e.g. "0.1.0-SNAPSHOT"; written into every image's DumpInfo. */
    public static final String VERSION = load();

    /** Container format versions this build reads; it writes {@link ImageFormat#FORMAT_VERSION}. */
    public static final int[] READS = {ImageFormat.FORMAT_VERSION};

    private static String load() {
        try (InputStream in = CryoVersion.class.getResourceAsStream("version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            String v = p.getProperty("version", "");
            return v.isEmpty() || v.startsWith("${") ? "unknown" : v;
        } catch (IOException e) {
            return "unknown";
        }
    }
}
