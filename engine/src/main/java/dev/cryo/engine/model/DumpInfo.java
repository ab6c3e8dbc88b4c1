package dev.cryo.engine.model;

import java.util.List;

/**
 * What a restore must know before touching anything: who made the image, on what kernel and CPU,
 * the root of the tree and every task in it (parents before children).
 */
public record DumpInfo(String cryoVersion, long createdEpochMillis, String hostname, String kernel,
                       int rootPid, List<Integer> pids, int xstateSize, boolean leftRunning) {
    public DumpInfo {
        pids = List.copyOf(pids);
    }
}
