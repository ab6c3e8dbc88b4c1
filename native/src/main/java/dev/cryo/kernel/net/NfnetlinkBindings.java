package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The nfnetlink_log groups and nfnetlink_queue queues a netfilter netlink socket is bound to (ulogd's
 * NFLOG input, an NFQUEUE consumer): kernel state of the socket's net namespace, keyed by the
 * socket's port id, listed in /proc/net/netfilter/nfnetlink_log and nfnetlink_queue (group or queue
 * number, then the port id). Part of it (a log group's queue threshold, buffer size and flags, a
 * queue's flags and the packets waiting for a verdict) no call reads back.
 */
public final class NfnetlinkBindings {
    private NfnetlinkBindings() {}

    /** "nfnetlink_log group 5" or "nfnetlink_queue 3". */
    public record Binding(String kind, int number) {
        @Override
        public String toString() {
            return kind.equals("nfnetlink_log") ? "nfnetlink_log group " + number : "nfnetlink_queue " + number;
        }
    }

    /** The bindings of the socket {@code s} (port id {@code portId}), read in its net namespace. */
    public static List<Binding> of(Fd s, int portId) {
        try (Fd ns = Sockets.netns(s)) {
            return dev.cryo.kernel.Namespaces.insideNet(ns, () -> {
                List<Binding> out = new ArrayList<>();
                for (String kind : List.of("nfnetlink_log", "nfnetlink_queue")) {
                    out.addAll(parse(kind, read(kind), portId));
                }
                return out;
            });
        }
    }

    private static String read(String kind) {
        try {
            return Files.readString(Path.of("/proc/thread-self/net/netfilter/" + kind));
        } catch (IOException e) {
            return ""; // the module is not loaded: nothing is bound
        }
    }

    /** Lines "number portid ..." whose port id is {@code portId}. */
    static List<Binding> parse(String kind, String text, int portId) {
        List<Binding> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length >= 2 && f[0].matches("\\d+") && f[1].matches("\\d+")
                    && Integer.parseUnsignedInt(f[1]) == portId) {
                out.add(new Binding(kind, Integer.parseInt(f[0])));
            }
        }
        return out;
    }
}
