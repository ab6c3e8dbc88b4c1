package dev.cryo.engine.model;

import java.util.List;

/**
 * Process-wide security state: the dumpable flag (PR_GET_DUMPABLE, kept by the mm), whether the
 * process is a child subreaper, and the table of seccomp filters its threads use. Filters form a
 * tree (a thread's chain runs from its newest filter through {@link SeccompFilter#parent()} to the
 * oldest); threads that shared a chain point at the same entry. {@code loginuid}: the audit login
 * uid ({@link #LOGINUID_UNSET} when no login set it, as for a daemon started at boot). {@code keyrings}: the
 * kernel keyrings the task held as its own (session, process, its main thread's), with their keys.
 */
public record SecurityImage(int dumpable, boolean childSubreaper, List<SeccompFilter> seccompFilters, long loginuid,
                            List<dev.cryo.engine.keyrings.KeyringImage> keyrings) {
    /** (uid_t) -1: what /proc/PID/loginuid reads until a login sets it. */
    public static final long LOGINUID_UNSET = 0xffff_ffffL;

    public SecurityImage(int dumpable, boolean childSubreaper, List<SeccompFilter> seccompFilters) {
        this(dumpable, childSubreaper, seccompFilters, LOGINUID_UNSET);
    }

    public SecurityImage(int dumpable, boolean childSubreaper, List<SeccompFilter> seccompFilters, long loginuid) {
        this(dumpable, childSubreaper, seccompFilters, loginuid, List.of());
    }

    /** The same, holding {@code held} as its own keyrings. */
    public SecurityImage withKeyrings(List<dev.cryo.engine.keyrings.KeyringImage> held) {
        return new SecurityImage(dumpable, childSubreaper, seccompFilters, loginuid, held);
    }

    /** Its keyring of {@code kind} (KeyringImage.SESSION, ...), if it held one of its own. */
    public java.util.Optional<dev.cryo.engine.keyrings.KeyringImage> keyring(String kind) {
        return keyrings.stream().filter(k -> k.kind().equals(kind)).findFirst();
    }

    public SecurityImage {
        if (loginuid < 0 || loginuid > LOGINUID_UNSET) {
            throw new IllegalArgumentException("loginuid " + loginuid + " is not a uid");
        }
        seccompFilters = List.copyOf(seccompFilters);
        keyrings = List.copyOf(keyrings);
        for (int i = 0; i < seccompFilters.size(); i++) {
            int parent = seccompFilters.get(i).parent();
            if (parent < -1 || parent >= i) {
                throw new IllegalArgumentException("seccomp filter " + i + " has parent " + parent
                        + ": a parent must come before its child");
            }
        }
    }

    /** The chain ending at {@code newest}, oldest filter first (the order they were installed in). */
    public List<Integer> chain(int newest) {
        java.util.ArrayList<Integer> out = new java.util.ArrayList<>();
        for (int i = newest; i >= 0; i = seccompFilters.get(i).parent()) {
            out.add(0, i);
        }
        return out;
    }
}
