package dev.cryo.engine.restore;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ThreadImage;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The root of a detached restore outlives its restorer, which is its parent until it goes (the
 * CLI's {@code restore -d} exits, an agent stops some day). A parent-death signal set again on the
 * root would come right then: with SIGKILL, the very common choice, the restored service would die
 * the moment {@code cryo restore -d} returned. The root's original parent is not in the tree, so
 * that relation cannot be made again anyway: the root's threads lose the setting, with a warning.
 * Tasks below the root keep theirs (their parents are restored with them).
 */
public final class DetachedRoot {
    private DetachedRoot() {}

    public static ImageContents withoutParentDeathSignal(ImageContents image, Consumer<String> warn) {
        TaskImage root = image.task(image.root());
        List<ThreadImage> threads = new ArrayList<>();
        int signal = 0;
        for (ThreadImage t : root.threads()) {
            if (t.pdeathSignal() != 0) {
                signal = t.pdeathSignal();
                t = t.withPdeathSignal(0);
            }
            threads.add(t);
        }
        if (signal == 0) {
            return image;
        }
        warn.accept("pid " + root.pid() + ": its parent-death signal (" + dev.cryo.kernel.Signals.name(signal) + ") is not set again: a detached "
                + "restore's root outlives the restorer, its parent, and the signal would come as the restorer exits");
        List<TaskImage> tasks = new ArrayList<>(image.tasks());
        tasks.set(tasks.indexOf(root), root.withThreads(threads));
        // every other part as it is: the namespaces too (they were dropped: a bubblewrap sandbox, whose root
        // has --die-with-parent's signal, lost its mount, pid... namespaces in a detached restore)
        return image.withTasks(tasks);
    }
}
