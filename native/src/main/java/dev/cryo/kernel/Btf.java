package dev.cryo.kernel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The running kernel's BTF (/sys/kernel/btf/vmlinux): type ids and struct member offsets, which a
 * BPF program of cryo's needs to walk kernel structures (they move between kernel builds). Only
 * where each type starts is indexed; a name is looked for when asked (a few per run), since
 * decoding the names of all 130,000 types costs a cold JVM seconds.
 */
public final class Btf {
    private static final int KIND_STRUCT = 4, KIND_UNION = 5, KIND_FUNC = 12;
    private static final Path VMLINUX = Path.of("/sys/kernel/btf/vmlinux");

    private final ByteBuffer b;
    private final int strings;
    /** Where each type's header is, by id (0, void, has none). */
    private final int[] at;
    private final Map<String, Integer> found = new ConcurrentHashMap<>();

    private Btf(ByteBuffer b) {
        this.b = b;
        if ((b.getShort(0) & 0xffff) != 0xeb9f) {
            throw new IllegalArgumentException(VMLINUX + ": not BTF (magic " + Integer.toHexString(b.getShort(0)) + ")");
        }
        int hdr = b.getInt(4), typeOff = b.getInt(8), typeLen = b.getInt(12);
        strings = hdr + b.getInt(16);
        int[] pos = new int[1 << 16];
        int n = 1, p = hdr + typeOff, end = p + typeLen;
        while (p < end) {
            if (n == pos.length) {
                pos = java.util.Arrays.copyOf(pos, n * 2);
            }
            pos[n++] = p;
            int info = b.getInt(p + 4), vlen = info & 0xffff;
            p += 12 + switch ((info >>> 24) & 0x1f) {
                case 1, 14, 17 -> 4; // int, var, decl tag
                case 3 -> 12; // array
                case KIND_STRUCT, KIND_UNION, 15, 19 -> 12 * vlen; // members, datasec, enum64
                case 6, 13 -> 8 * vlen; // enum, func proto
                default -> 0;
            };
        }
        at = java.util.Arrays.copyOf(pos, n);
    }

    private static volatile Btf kernel;

    /** The running kernel's, read once. */
    public static Btf kernel() {
        Btf k = kernel;
        if (k == null) {
            try {
                byte[] raw = Files.readAllBytes(VMLINUX);
                k = kernel = new Btf(ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN));
            } catch (IOException e) {
                throw new IllegalStateException("cannot read the kernel's BTF (" + VMLINUX + "): " + e.getMessage(), e);
            }
        }
        return k;
    }

    private int kind(int id) {
        return (b.getInt(at[id] + 4) >>> 24) & 0x1f;
    }

    private int vlen(int id) {
        return b.getInt(at[id] + 4) & 0xffff;
    }

    /** Whether the NUL-terminated string at {@code off} of the string section is {@code name}. */
    private boolean named(int off, byte[] name) {
        int p = strings + off;
        if (b.get(p + name.length) != 0) {
            return false;
        }
        for (int i = 0; i < name.length; i++) {
            if (b.get(p + i) != name[i]) {
                return false;
            }
        }
        return true;
    }

    private int find(int kind, String name) {
        return found.computeIfAbsent(kind + ":" + name, k -> {
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            for (int id = 1; id < at.length; id++) {
                if (kind(id) == kind && named(b.getInt(at[id]), n)) {
                    return id;
                }
            }
            return 0;
        });
    }

    /** The type id of the kernel function {@code name}. */
    public int function(String name) {
        int id = find(KIND_FUNC, name);
        if (id == 0) {
            throw new IllegalStateException("the kernel's BTF has no function " + name);
        }
        return id;
    }

    /** The type id of {@code struct name}, or 0 when this kernel has none (a part built without it: CONFIG_MPTCP). */
    public int struct(String name) {
        return find(KIND_STRUCT, name);
    }

    /** The byte offset of {@code member} in {@code struct name}, looked for in its anonymous unions and structs too. */
    public int offset(String struct, String member) {
        int id = find(KIND_STRUCT, struct);
        int off = id == 0 ? -1 : memberOffset(id, member.getBytes(StandardCharsets.UTF_8));
        if (off < 0) {
            throw new IllegalStateException("the kernel's BTF has no member " + member + " in struct " + struct);
        }
        return off;
    }

    private int memberOffset(int id, byte[] member) {
        boolean bitfields = b.getInt(at[id] + 4) < 0;
        for (int i = 0, m = at[id] + 12; i < vlen(id); i++, m += 12) {
            int nameOff = b.getInt(m), bits = b.getInt(m + 8), off = (bitfields ? bits & 0xffffff : bits) / 8;
            if (nameOff != 0 && named(nameOff, member)) {
                return off;
            }
            int t = resolve(b.getInt(m + 4));
            if (nameOff == 0 && (kind(t) == KIND_STRUCT || kind(t) == KIND_UNION)) {
                int inner = memberOffset(t, member);
                if (inner >= 0) {
                    return off + inner;
                }
            }
        }
        return -1;
    }

    /** The type behind typedefs, volatile, const, restrict and type tags. */
    private int resolve(int id) {
        int t = id;
        while (t != 0 && switch (kind(t)) { case 8, 9, 10, 11, 18 -> true; default -> false; }) {
            t = b.getInt(at[t] + 8);
        }
        return t;
    }
}
