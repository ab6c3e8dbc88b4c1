package dev.cryo.engine.keyrings;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * /proc/keys as a task sees it: the one place the kernel shows a key's expiry. The file lists the keys its
 * opener may view, with possession judged by the opener's keyrings, so the task opens it (injected), and
 * cryo reads it through the task. Opened only once the task's fds are read: it is an fd of the task meanwhile.
 */
final class ProcKeys {
    private ProcKeys() {}

    /** Most bytes read: a host's keys are a few lines each. */
    private static final int MOST = 1 << 20;

    /** The expiry column ("59m", "2d", "expd") of each key the task sees that has one, by serial. */
    static Map<Integer, String> timeouts(Keyrings.Inside in) {
        return parse(read(in));
    }

    static Map<Integer, String> parse(String text) {
        Map<Integer, String> out = new HashMap<>();
        for (String line : text.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 4 && !f[3].equals("perm")) {
                out.put((int) Long.parseLong(f[0], 16), f[3]);
            }
        }
        return out;
    }

    private static String read(Keyrings.Inside in) {
        in.write(0, Keyrings.cString("/proc/keys"));
        long fd = in.raw(SyscallNr.OPEN, in.area(), Fcntl.O_RDONLY | Fcntl.O_CLOEXEC);
        if (Injector.isError(fd)) {
            throw new DumpException("pid " + in.pid() + ": cannot open /proc/keys inside it (" + Injector.errorText(fd)
                    + ") to learn whether its keys expire; its keyrings are not carried");
        }
        try {
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            while (text.size() < MOST) {
                long n = in.raw(SyscallNr.READ, fd, in.area(), Keyrings.ROOM);
                if (Injector.isError(n)) {
                    throw new DumpException("pid " + in.pid() + ": reading /proc/keys inside it: " + Injector.errorText(n));
                }
                if (n == 0) {
                    return text.toString(StandardCharsets.UTF_8);
                }
                text.writeBytes(in.read((int) n));
            }
            throw new DumpException("pid " + in.pid() + ": its /proc/keys runs past " + MOST + " bytes");
        } finally {
            in.raw(SyscallNr.CLOSE, fd);
        }
    }
}
