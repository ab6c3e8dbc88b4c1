package dev.cryo.cli;

import java.util.Locale;

/** Byte counts for people: 1.5 GiB, 300 MiB, 12 KiB. */
final class Sizes {
    private Sizes() {}

    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
