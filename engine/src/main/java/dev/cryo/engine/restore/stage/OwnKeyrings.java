package dev.cryo.engine.restore.stage;

import dev.cryo.engine.keyrings.KeyringHub;
import dev.cryo.engine.keyrings.Keyrings;
import dev.cryo.kernel.Sys;

/**
 * The task's own keyrings made again ({@link Keyrings}): its session and process keyrings in the FILES
 * passes, before its threads are made (they share them); its main thread's thread keyring as a STATE
 * stage once they are (a thread made by one holding a thread keyring would get an empty one of its own).
 */
public final class OwnKeyrings implements StateStage {
    @Override
    public String name() {
        return "thread keyring";
    }

    @Override
    public void run(TaskContext t) {
        Keyrings.restoreThread(inside(t), t.pid().value(), t.task().security().keyrings());
    }

    /** One FILES pass: OWN makes, SHARED joins, LATE gives the shared ones their owner and permissions. */
    public static void files(TaskContext t, KeyringHub hub, FileRestore.Pass pass) {
        Keyrings.Pass p = switch (pass) {
            case OWN -> Keyrings.Pass.MAKE;
            case SHARED -> Keyrings.Pass.JOIN;
            case LATE -> Keyrings.Pass.SEAL;
        };
        Keyrings.restore(inside(t), t.pid().value(), t.task().security().keyrings(), hub, p);
    }

    private static Keyrings.Inside inside(TaskContext t) {
        return new Keyrings.Inside() {
            public int pid() {
                return t.pid().value();
            }

            public long raw(int nr, long... args) {
                return t.main().raw(nr, args);
            }

            public long area() {
                return t.boot().data();
            }

            public byte[] read(int len) {
                return Sys.read(t.pid(), t.boot().data(), len);
            }

            public void write(int offset, byte[] data) {
                t.put(offset, data);
            }
        };
    }
}
