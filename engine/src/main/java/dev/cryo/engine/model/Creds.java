package dev.cryo.engine.model;

import java.util.List;

/** Real/effective/saved/fs user and group ids, supplementary groups and capability sets. */
public record Creds(List<Integer> uids, List<Integer> gids, List<Integer> groups,
                    long capInh, long capPrm, long capEff, long capBnd, long capAmb) {
    public Creds {
        uids = List.copyOf(uids);
        gids = List.copyOf(gids);
        groups = List.copyOf(groups);
    }
}
