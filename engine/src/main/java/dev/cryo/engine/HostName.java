package dev.cryo.engine;

import java.net.InetAddress;

/** The host's name as an image records it (DumpInfo.hostname), looked up once per JVM. */
public final class HostName {
    private HostName() {}

    private static final class Once {
        static final String NAME = lookUp();
    }

    public static String get() {
        return Once.NAME;
    }

    private static String lookUp() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
