package dev.cryo.api;

import java.util.List;

/**
 * Code a caller runs at fixed points of one dump or restore while the tree waits (the CLI's
 * {@code --action-script}, as CRIU runs its action scripts there). Each is called on the
 * supervisor's thread with the root pid and every pid of the tree, sorted; a hook that throws
 * fails the request where it says so. Local to this process: a request with hooks does not go
 * to an agent.
 */
public interface StageHooks {
    StageHooks NONE = new StageHooks() {};

    /** Whether any hook is set (a request without runs as before, and may go to an agent). */
    default boolean any() {
        return false;
    }

    /**
     * Dump: whether the hooks keep the tree from running between {@link #beforeFreeze} and {@link #frozen}
     * (--freeze-cgroup): the dump then never lets it run a moment to read its queues (UnreadQueues).
     */
    default boolean holdsTree() {
        return false;
    }

    /** Dump: right before the tree is seized (its listeners' queues drained). Throwing fails the dump. */
    default void beforeFreeze(int root) {}

    /** Dump: every task is stopped, nothing read yet. Throwing fails the dump; the tree runs on. */
    default void frozen(int root, List<Integer> pids) {}

    /**
     * Dump: the image is complete and the tree still frozen, before it is killed or let go.
     * Throwing fails the dump and lets the tree run on (the image stays).
     */
    default void imageComplete(int root, List<Integer> pids) {}

    /** Dump: the tree runs again (left running, or let go after a failed {@link #imageComplete}). */
    default void resumedAfterDump(int root, List<Integer> pids) {}

    /** Restore: every task has its state, none runs yet. Throwing fails the restore, which kills the tree. */
    default void beforeResume(int root, List<Integer> pids) {}

    /** Restore: the tree runs. A throw is only logged: nothing can be undone by then. */
    default void resumed(int root, List<Integer> pids) {}

    /** These hooks, then {@code next}'s, at each point. */
    default StageHooks andThen(StageHooks next) {
        StageHooks first = this;
        if (!next.any()) {
            return first;
        }
        if (!first.any()) {
            return next;
        }
        return new StageHooks() {
            @Override
            public boolean any() {
                return true;
            }

            @Override
            public boolean holdsTree() {
                return first.holdsTree() || next.holdsTree();
            }

            @Override
            public void beforeFreeze(int root) {
                first.beforeFreeze(root);
                next.beforeFreeze(root);
            }

            @Override
            public void frozen(int root, List<Integer> pids) {
                first.frozen(root, pids);
                next.frozen(root, pids);
            }

            @Override
            public void imageComplete(int root, List<Integer> pids) {
                first.imageComplete(root, pids);
                next.imageComplete(root, pids);
            }

            @Override
            public void resumedAfterDump(int root, List<Integer> pids) {
                first.resumedAfterDump(root, pids);
                next.resumedAfterDump(root, pids);
            }

            @Override
            public void beforeResume(int root, List<Integer> pids) {
                first.beforeResume(root, pids);
                next.beforeResume(root, pids);
            }

            @Override
            public void resumed(int root, List<Integer> pids) {
                first.resumed(root, pids);
                next.resumed(root, pids);
            }
        };
    }
}
