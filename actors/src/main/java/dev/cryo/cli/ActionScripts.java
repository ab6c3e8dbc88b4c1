package dev.cryo.cli;

import dev.cryo.api.StageHooks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * CRIU's {@code --action-script}: each script runs through {@code /bin/sh -c} at the stages CRIU
 * names, with CRIU's environment — {@code CRTOOLS_SCRIPT_ACTION} (the stage),
 * {@code CRTOOLS_IMAGE_DIR} and {@code CRTOOLS_INIT_PID} (the root's pid) — and cryo's stdout and
 * stderr. Dump: {@code pre-dump} before the tree is touched, {@code network-lock} once it is
 * frozen (for a tree in a net namespace of its own, as CRIU), {@code post-dump} with the image
 * complete and the tree still frozen, {@code network-unlock} when the tree runs on. Restore:
 * {@code pre-restore} before anything, {@code post-restore} with every task's state in and none
 * running, {@code network-unlock} (net namespace of its own), {@code pre-resume}, then
 * {@code post-resume} once the tree runs. A script that exits non-zero fails the stage as CRIU's
 * does: before or at {@code post-dump} the tree runs on (the image stays after post-dump); at
 * {@code post-restore} the restored tree is killed; a failed {@code pre-resume} or
 * {@code post-resume} is only reported. CRIU's {@code setup-namespaces} and
 * {@code post-setup-namespaces} are not run: cryo makes a tree's namespaces itself.
 */
final class ActionScripts implements StageHooks {
    private final List<String> scripts;
    private final Path imageDir;

    private ActionScripts(List<String> scripts, Path imageDir) {
        this.scripts = List.copyOf(scripts);
        this.imageDir = imageDir;
    }

    /** The hooks of {@code scripts} (NONE for none). */
    static StageHooks of(List<String> scripts, Path imageDir) {
        return scripts.isEmpty() ? StageHooks.NONE : new ActionScripts(scripts, imageDir.toAbsolutePath());
    }

    /** Runs {@code action} now (pre-dump, pre-restore): the caller's own stages. */
    static void run(StageHooks hooks, String action, int pid) {
        if (hooks instanceof ActionScripts a) {
            a.run(action, pid);
        }
    }

    @Override
    public boolean any() {
        return true;
    }

    @Override
    public void frozen(int root, List<Integer> pids) {
        if (ownNetNamespace(root)) {
            run("network-lock", root);
        }
    }

    @Override
    public void imageComplete(int root, List<Integer> pids) {
        run("post-dump", root);
    }

    @Override
    public void resumedAfterDump(int root, List<Integer> pids) {
        if (ownNetNamespace(root)) {
            run("network-unlock", root);
        }
    }

    @Override
    public void beforeResume(int root, List<Integer> pids) {
        run("post-restore", root);
        if (ownNetNamespace(root)) {
            run("network-unlock", root);
        }
        try {
            run("pre-resume", root);
        } catch (ActionFailed e) { // CRIU: it must not fail, and nothing stops the resume
            org.slf4j.LoggerFactory.getLogger("cryo").warn("{}", e.getMessage());
        }
    }

    @Override
    public void resumed(int root, List<Integer> pids) {
        run("post-resume", root);
    }

    /** A script that failed: the message names the stage, the script and how it ended. */
    static final class ActionFailed extends RuntimeException {
        ActionFailed(String message) {
            super(message);
        }
    }

    private void run(String action, int pid) {
        for (String script : scripts) {
            ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", script).inheritIO();
            pb.environment().put("CRTOOLS_SCRIPT_ACTION", action);
            pb.environment().put("CRTOOLS_IMAGE_DIR", imageDir.toString());
            if (pid > 0) { // not known before a restore has made the root
                pb.environment().put("CRTOOLS_INIT_PID", Integer.toString(pid));
            }
            int status;
            try {
                status = pb.start().waitFor();
            } catch (java.io.IOException e) {
                throw new ActionFailed("--action-script " + action + ": cannot run '" + script + "': " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ActionFailed("--action-script " + action + ": interrupted while '" + script + "' ran");
            }
            if (status != 0) {
                throw new ActionFailed("--action-script " + action + ": '" + script + "' exited with status " + status);
            }
        }
    }

    /** Whether the task lives in a net namespace other than cryo's (CRIU runs the network actions only then). */
    private static boolean ownNetNamespace(int pid) {
        try {
            return !Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/net"))
                    .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/net")));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
