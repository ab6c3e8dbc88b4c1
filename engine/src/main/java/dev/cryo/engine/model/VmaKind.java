package dev.cryo.engine.model;

/** What a mapping is, which decides whether and how its pages are dumped. Ids are persisted. */
public enum VmaKind {
    ANON(0), FILE_PRIVATE(1), FILE_SHARED(2), STACK(3), HEAP(4), VDSO(5), VVAR(6), VVAR_VCLOCK(7), VSYSCALL(8),
    SHARED_ANON(9);

    public final int id;

    VmaKind(int id) {
        this.id = id;
    }

    public static VmaKind ofId(int id) {
        for (VmaKind k : values()) {
            if (k.id == id) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown VMA kind id " + id);
    }

    /** The kernel provides these at exec; they are moved, never copied. */
    public boolean isVdsoBlock() {
        return this == VDSO || this == VVAR || this == VVAR_VCLOCK;
    }
}
