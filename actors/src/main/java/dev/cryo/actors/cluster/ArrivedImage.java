package dev.cryo.actors.cluster;

import dev.cryo.api.RestoreRequest;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.restore.ArrivingMemory;
import dev.cryo.engine.restore.PreparedRoot;

import java.nio.file.Path;

/**
 * A migration's image, complete in its staging directory: the restore the destination starts at
 * once, with the stub prepared while it arrived and the image as it arrived (not read again). The
 * agent's warm-up goes through this same code, so that a migration's first restore into an agent
 * runs none of it for the first time (that cost 10-20 ms of its downtime: mig21).
 */
record ArrivedImage(String placed, PreparedRoot prepared, RestoreRequest request, long stubNanos, long contentsNanos) {

    /** Takes the stub from {@code memory} (which no longer places anything); a failure kills it. */
    static ArrivedImage of(Path dir, ArrivingMemory memory) {
        long t0 = System.nanoTime();
        String placed = memory.summary();
        PreparedRoot prepared = memory.finish();
        long t1 = System.nanoTime();
        try {
            var contents = memory.contents(dir);
            var request = new RestoreRequest(dir, false, new DumpProgress(), true, prepared, contents)
                    .detaching(true).lockElsewhere(true); // the source lifts its lock once the tree runs here
            return new ArrivedImage(placed, prepared, request, t1 - t0, System.nanoTime() - t1);
        } catch (RuntimeException e) {
            if (prepared != null) {
                ArrivingMemory.kill(prepared.pid());
            }
            throw e;
        }
    }
}
