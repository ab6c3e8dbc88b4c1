package dev.cryo.kernel.proc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/** /proc/PID/auxv: the ELF auxiliary vector as (type, value) pairs of little-endian u64, up to AT_NULL. */
public record Auxv(List<Entry> entries) {
    public static final long AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7,
            AT_FLAGS = 8, AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15,
            AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25, AT_HWCAP2 = 26, AT_EXECFN = 31,
            AT_SYSINFO_EHDR = 33, AT_MINSIGSTKSZ = 51;

    public record Entry(long type, long value) {}

    public Auxv {
        entries = List.copyOf(entries);
    }

    public static Auxv parse(byte[] data) {
        return parse("auxv", data);
    }

    public static Auxv parse(String path, byte[] data) {
        if (data.length % 16 != 0) {
            throw ProcFormatException.of(path, "length " + data.length + " is not a multiple of 16 (u64 pairs)");
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        List<Entry> out = new ArrayList<>();
        while (b.remaining() >= 16) {
            long type = b.getLong();
            long value = b.getLong();
            if (type == AT_NULL) {
                return new Auxv(out);
            }
            out.add(new Entry(type, value));
        }
        throw ProcFormatException.of(path, "no AT_NULL entry in " + data.length + " bytes");
    }

    /** The value of the first entry of {@code type}. */
    public OptionalLong value(long type) {
        for (Entry e : entries) {
            if (e.type == type) {
                return OptionalLong.of(e.value);
            }
        }
        return OptionalLong.empty();
    }

    /** The vector as u64 words with its AT_NULL pair, the layout prctl(PR_SET_MM_AUXV) takes. */
    public long[] words() {
        long[] w = new long[entries.size() * 2 + 2];
        for (int i = 0; i < entries.size(); i++) {
            w[2 * i] = entries.get(i).type;
            w[2 * i + 1] = entries.get(i).value;
        }
        return w;
    }
}
