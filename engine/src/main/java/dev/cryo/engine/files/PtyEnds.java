package dev.cryo.engine.files;

import java.util.List;
import java.util.Map;

/**
 * Every pty end the host's processes hold (cryo's own excepted), found in one scan of /proc the first
 * time a dump asks and kept for the rest of it. A scan per end dumped made a tree of N pairs scan the
 * whole host 2N times inside the freeze (stress-ng's 200 pairs: frozen 6-15 s); the tree is frozen, and
 * what outside processes open meanwhile is as racy to one scan as to many.
 */
public final class PtyEnds {
    private Map<Long, Map<Integer, List<Ptys.End>>> byInstance;

    /** The open ends of pty {@code index} of devpts {@code instance} (0: the host's). */
    synchronized List<Ptys.End> of(long instance, int index) {
        if (byInstance == null) {
            byInstance = Ptys.allEnds();
        }
        return byInstance.getOrDefault(instance, Map.of()).getOrDefault(index, List.of());
    }
}
