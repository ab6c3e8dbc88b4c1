package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import dev.cryo.kernel.KernelException;

import java.nio.charset.StandardCharsets;

/** A struct ifreq (linux/if.h) naming a device; the union after the name is the caller's to fill. */
final class Ifreq {
    private Ifreq() {}

    static final int IFNAMSIZ = 16, SIZE = 40;

    /** {@code what}: the device's kind for the error of a name the kernel could not hold ("tun/tap device"). */
    static Memory named(String device, String what) {
        byte[] name = device.getBytes(StandardCharsets.US_ASCII);
        if (name.length >= IFNAMSIZ) {
            throw new KernelException(what + " name " + device + " is longer than " + (IFNAMSIZ - 1) + " bytes");
        }
        Memory m = new Memory(SIZE);
        m.clear();
        m.write(0, name, 0, name.length);
        return m;
    }
}
