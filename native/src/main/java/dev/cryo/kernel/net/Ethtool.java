package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A device's features as ethtool shows them (SIOCETHTOOL, linux/ethtool.h), in the calling
 * thread's net namespace. Features are named, not numbered: their bit numbers change between
 * kernels, so the names come from the kernel's own string set (ETH_SS_FEATURES).
 */
public final class Ethtool {
    private Ethtool() {}

    private static final int SIOCETHTOOL = 0x8946, ETHTOOL_GSTRINGS = 0x1b, ETHTOOL_GSSET_INFO = 0x37,
            ETHTOOL_GFEATURES = 0x3a, ETH_SS_FEATURES = 4, ETH_GSTRING_LEN = 32;

    /** The names of the features active on {@code device} ("tx-tcp-segmentation", ...). */
    public static Set<String> activeFeatures(String device) {
        try (Fd s = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0)) {
            Memory info = new Memory(24);
            info.clear();
            info.setInt(0, ETHTOOL_GSSET_INFO);
            info.setLong(8, 1L << ETH_SS_FEATURES);
            call(s, device, info, "ETHTOOL_GSSET_INFO");
            int count = info.getInt(16);
            if (count <= 0 || count > 4096) {
                throw new KernelException("device " + device + ": the kernel names " + count + " features");
            }
            Memory names = new Memory(12 + (long) count * ETH_GSTRING_LEN);
            names.clear();
            names.setInt(0, ETHTOOL_GSTRINGS);
            names.setInt(4, ETH_SS_FEATURES);
            names.setInt(8, count);
            call(s, device, names, "ETHTOOL_GSTRINGS");
            int blocks = (count + 31) / 32;
            Memory f = new Memory(8 + blocks * 16L); // per block: available, requested, active, never_changed
            f.clear();
            f.setInt(0, ETHTOOL_GFEATURES);
            f.setInt(4, blocks);
            call(s, device, f, "ETHTOOL_GFEATURES");
            Set<String> out = new LinkedHashSet<>();
            for (int i = 0; i < count; i++) {
                if ((f.getInt(8 + (i / 32) * 16L + 8) & (1 << (i % 32))) != 0) {
                    byte[] b = names.getByteArray(12 + (long) i * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
                    int n = 0;
                    while (n < b.length && b[n] != 0) {
                        n++;
                    }
                    out.add(new String(b, 0, n, StandardCharsets.US_ASCII));
                }
            }
            return out;
        }
    }

    private static void call(Fd s, String device, Memory data, String what) {
        Memory ifr = Ifreq.named(device, "device");
        ifr.setLong(Ifreq.IFNAMSIZ, Sys.address(data));
        Sys.call(() -> "ioctl(SIOCETHTOOL " + what + ", " + device + ")", SyscallNr.IOCTL, s.value(), SIOCETHTOOL,
                Sys.address(ifr), 0);
    }
}
