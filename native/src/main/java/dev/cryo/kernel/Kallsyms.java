package dev.cryo.kernel;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Addresses of kernel functions from /proc/kallsyms, for a BPF program of cryo's that must tell
 * kernel objects apart by the functions their operation tables point to (the tables themselves are
 * data, which kallsyms lists only with CONFIG_KALLSYMS_ALL).
 */
public final class Kallsyms {
    private static final Path KALLSYMS = Path.of("/proc/kallsyms");

    private Kallsyms() {}

    /** The address of text symbol {@code name}; fails when it is missing or hidden (kptr_restrict shows zeros). */
    public static long function(String name) {
        try (BufferedReader r = Files.newBufferedReader(KALLSYMS)) {
            for (String line; (line = r.readLine()) != null; ) {
                int a = line.indexOf(' '), b = line.indexOf(' ', a + 1);
                if (b < 0 || !line.startsWith(name, b + 1) || (line.length() != b + 1 + name.length()
                        && line.charAt(b + 1 + name.length()) != '\t')) {
                    continue;
                }
                char type = line.charAt(a + 1);
                if (type != 't' && type != 'T') {
                    continue;
                }
                long address = Long.parseUnsignedLong(line.substring(0, a), 16);
                if (address == 0) {
                    throw new IllegalStateException(KALLSYMS + " hides the address of " + name
                            + " (kernel.kptr_restrict, or cryo lacks CAP_SYSLOG)");
                }
                return address;
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + KALLSYMS + ": " + e.getMessage(), e);
        }
        throw new IllegalStateException(KALLSYMS + " has no function " + name);
    }
}
