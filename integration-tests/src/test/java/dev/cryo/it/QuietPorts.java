package dev.cryo.it;

import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * UDP ports outside the kernel's ephemeral range, free when chosen. A killing dump frees a tree's
 * ports until the restore binds them again; a port picked by bind(0) lies in the ephemeral range,
 * where any socket of the host (another test's, the test's own client's) may be given it in between
 * and the restore then fails with EADDRINUSE. Outside the range only an explicit bind takes a port.
 */
final class QuietPorts {
    private QuietPorts() {
    }

    /** The first of {@code n} consecutive UDP ports that no socket of this network namespace holds. */
    static int udp(int n) {
        int[] range = ephemeralRange();
        for (int attempt = 0; attempt < 200; attempt++) {
            // below the range where it leaves room (the usual 32768-60999), else above it
            int base = range[0] - n > 10_000 ? ThreadLocalRandom.current().nextInt(10_000, range[0] - n)
                    : ThreadLocalRandom.current().nextInt(range[1] + 1, 65_536 - n);
            if (free(base, n)) {
                return base;
            }
        }
        throw new IllegalStateException("no " + n + " free UDP ports outside the ephemeral range " + range[0] + "-"
                + range[1]);
    }

    private static boolean free(int base, int n) {
        List<DatagramSocket> held = new ArrayList<>();
        try {
            for (int p = base; p < base + n; p++) {
                DatagramSocket s = new DatagramSocket(null);
                held.add(s);
                s.bind(new InetSocketAddress(p)); // the wildcard address collides with a bind to any one
            }
            return true;
        } catch (SocketException taken) {
            return false;
        } finally {
            held.forEach(DatagramSocket::close);
        }
    }

    private static int[] ephemeralRange() {
        // Files.readString trusts the size proc reports and returns the first byte
        String[] r = dev.cryo.kernel.proc.ProcFs.text("/proc/sys/net/ipv4/ip_local_port_range").trim().split("\\s+");
        return new int[] {Integer.parseInt(r[0]), Integer.parseInt(r[1])};
    }
}
