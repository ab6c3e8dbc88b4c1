package dev.cryo.engine.restore.stage;

/**
 * One step of the STATE stage of a task's restore, run on the task's tracer thread after its
 * memory and files are in place and before its registers are installed. The steps and their
 * order are listed in {@link dev.cryo.engine.restore.TaskRestorer#STATE_STAGES}.
 */
public interface StateStage {
    /** Short name, for messages and logs ("process state", "threads"). */
    String name();

    void run(TaskContext t);

    /**
     * Whether the step may have the task take a file cryo opened for it (the executable, which only
     * cryo or an ancestor's view names: TaskContext.open): a task inside a pid namespace does that
     * through its inherited pidfd of cryo, closed once the last such step has run.
     */
    default boolean takesCryosFiles() {
        return false;
    }
}
