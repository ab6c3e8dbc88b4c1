package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.Creds;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.RemoteWriter;

/**
 * Groups, gids, then uids, which drop privilege: steps that need root come before this one. The
 * kernel keeps credentials per thread (glibc's setxid broadcast is what makes them look
 * per-process), so each thread gets its own calls. Nothing to do for root, which the stub already is.
 */
public final class Credentials implements StateStage {
    private static final int SETRESUID = 117, SETRESGID = 119, SETGROUPS = 116;

    @Override
    public String name() {
        return "credentials";
    }

    @Override
    public void run(TaskContext t) {
        Creds c = t.task().creds();
        boolean root = c.uids().stream().allMatch(u -> u == 0) && c.gids().stream().allMatch(g -> g == 0)
                && c.groups().isEmpty();
        if (root) {
            return;
        }
        for (ThreadImage th : t.task().threads()) {
            var inj = t.injector(th.tid());
            long groups = t.put(new RemoteWriter(4 * c.groups().size() + 4)
                    .ints(c.groups().stream().mapToInt(Integer::intValue).toArray()).toBytes());
            inj.call("setgroups", SETGROUPS, c.groups().size(), groups);
            inj.call("setresgid", SETRESGID, c.gids().get(0), c.gids().get(1), c.gids().get(2));
            inj.call("setresuid", SETRESUID, c.uids().get(0), c.uids().get(1), c.uids().get(2));
        }
    }
}
