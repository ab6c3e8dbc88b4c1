package dev.cryo.engine.namespaces;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sysctl files opened while a tree runs (a net namespace's read ahead) and read again at its freeze through the open
 * files (pread at 0: the kernel formats the value anew at each read): no path lookup through /proc/sys, a quarter of
 * the time of opening each again (a net namespace's ~600 files: 28-66 ms of a container's frozen window at load
 * 11-33, ~8 ms kept open, python, 1048 files here), one read each. A file opened in a thread of a net namespace reads that
 * namespace's value from any thread. One that cannot be opened (out of fds) is read by its path.
 */
final class KeptSysctls implements AutoCloseable {
    private final Map<String, FileChannel> open = new LinkedHashMap<>();
    private final Map<String, String> values = new LinkedHashMap<>();
    private final ByteBuffer buffer = ByteBuffer.allocate(4096);

    private KeptSysctls() {}

    /** {@code paths} (absolute), opened and read by the calling thread; a file it cannot read is left out. */
    static KeptSysctls of(List<String> paths) {
        KeptSysctls k = new KeptSysctls();
        try {
            for (String p : paths) {
                FileChannel c = null;
                try {
                    c = FileChannel.open(Path.of(p), StandardOpenOption.READ);
                } catch (IOException | RuntimeException e) {
                    // too many files open: by its path at the freeze
                }
                String v = c != null ? k.pread(c) : NetNamespaceScan.readOr(p, null);
                if (v == null) { // unreadable (an unset stable_secret)
                    closeQuietly(c);
                    continue;
                }
                if (c != null) {
                    k.open.put(p, c);
                }
                k.values.put(p, v);
            }
            return k;
        } catch (RuntimeException e) {
            k.close();
            throw e;
        }
    }

    /** The values read by {@link #of}, by path, in its order. */
    Map<String, String> values() {
        return values;
    }

    /** A file's value now (stripped), null if it cannot be read; one not kept is read by its path. */
    synchronized String now(String path) {
        FileChannel c = open.get(path);
        if (c == null) {
            String v = NetNamespaceScan.readOr(path, null);
            return v == null ? null : v.strip();
        }
        return pread(c);
    }

    /** The first file whose value is not what {@link #of} read, null for none. */
    String differing() {
        for (Map.Entry<String, String> e : values.entrySet()) {
            if (!e.getValue().equals(now(e.getKey()))) {
                return e.getKey();
            }
        }
        return null;
    }

    private String pread(FileChannel c) {
        return pread(c, buffer);
    }

    /** The value of sysctl file {@code c} (stripped) in one read, null if it cannot be read; {@code buffer} is reused. */
    static String pread(FileChannel c, ByteBuffer buffer) {
        buffer.clear();
        try {
            while (buffer.hasRemaining()) { // a value longer than one read (a long list of ports)
                int want = buffer.remaining();
                if (c.read(buffer, buffer.position()) < want) {
                    // a sysctl gives its whole value to one read (a number's handler even gives nothing past 0): a
                    // short read is its end, and the read for the 0 after it was half of the freeze's check
                    break;
                }
            }
        } catch (IOException e) {
            return null;
        }
        return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).strip();
    }

    private static void closeQuietly(FileChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                // a /proc file's close
            }
        }
    }

    @Override
    public synchronized void close() {
        open.values().forEach(KeptSysctls::closeQuietly);
        open.clear();
    }
}
