package dev.cryo.kernel.proc;

import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Whether a process runs a program built by Go: its executable has a {@code .go.buildinfo} section
 * (every Go binary since 1.13, stripped ones too: the section is loaded). Go's runtime catches every
 * signal and takes SIGURG, its preemption signal, as harmless when it comes spuriously.
 */
public final class GoRuntime {
    private static final String SECTION = ".go.buildinfo";
    /** Section header tables beyond this are not read: no real executable has one near it. */
    private static final int MAX_TABLE = 1 << 20;

    private GoRuntime() {}

    /** False when the executable cannot be read or is not a 64-bit little-endian ELF file. */
    public static boolean runs(Pid pid) {
        return isGoExecutable(Path.of("/proc/" + pid.value() + "/exe"));
    }

    static boolean isGoExecutable(Path exe) {
        try (FileChannel f = FileChannel.open(exe, StandardOpenOption.READ)) {
            ByteBuffer h = read(f, 0, 64);
            if (h == null || h.getInt(0) != 0x464c457f || h.get(4) != 2 || h.get(5) != 1) {
                return false; // not ELF64 little-endian
            }
            long shoff = h.getLong(0x28);
            int entSize = Short.toUnsignedInt(h.getShort(0x3a)), count = Short.toUnsignedInt(h.getShort(0x3c));
            int strIndex = Short.toUnsignedInt(h.getShort(0x3e));
            if (shoff <= 0 || entSize < 64 || count == 0 || strIndex >= count || (long) entSize * count > MAX_TABLE) {
                return false;
            }
            ByteBuffer table = read(f, shoff, entSize * count);
            if (table == null) {
                return false;
            }
            long namesAt = table.getLong(strIndex * entSize + 0x18), namesSize = table.getLong(strIndex * entSize + 0x20);
            if (namesSize <= 0 || namesSize > MAX_TABLE) {
                return false;
            }
            ByteBuffer names = read(f, namesAt, (int) namesSize);
            if (names == null) {
                return false;
            }
            byte[] wanted = SECTION.getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < count; i++) {
                int name = table.getInt(i * entSize);
                if (name >= 0 && name + wanted.length < namesSize && names.get(name + wanted.length) == 0
                        && names.slice(name, wanted.length).equals(ByteBuffer.wrap(wanted))) {
                    return true;
                }
            }
            return false;
        } catch (IOException | RuntimeException unreadable) {
            return false;
        }
    }

    private static ByteBuffer read(FileChannel f, long at, int size) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (f.read(b, at + b.position()) < 0) {
                return null;
            }
        }
        return b.flip();
    }
}
