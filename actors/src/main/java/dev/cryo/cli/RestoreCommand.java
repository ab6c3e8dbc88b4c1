package dev.cryo.cli;

import dev.cryo.api.Cryo;
import dev.cryo.api.CryoException;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import dev.cryo.engine.dump.DumpProgress;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;

/**
 * {@code cryo restore -D DIR}: bring a dumped tree back. Like {@code criu restore}, cryo then
 * waits for the restored root and exits with its status; {@code -d} returns once the tree runs.
 */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = "Restore the process tree dumped in an image directory.")
final class RestoreCommand implements Callable<Integer> {
    @ParentCommand
    CryoCli parent;

    @Option(names = {"-D", "--images-dir"}, required = true, paramLabel = "DIR", description = "The image directory.")
    Path dir;

    @Option(names = {"-d", "--restore-detached"}, description = "Return once the tree runs; do not wait for it.")
    boolean detached;

    @Option(names = "--pidfile", paramLabel = "FILE", description = "Write the restored root's pid to FILE.")
    Path pidFile;

    @Option(names = "--tcp-close", description = "Restore established TCP connections closed (and lift their network lock).")
    boolean tcpClose;

    @Option(names = "--tcp-lock-elsewhere", description = "The image's TCP connections may be held by a network lock "
            + "on another host (where it was dumped) or by none any more: you moved their addresses here and lift that "
            + "lock there. Without it such a restore is refused. The lock is installed here until the sockets are back.")
    boolean tcpLockElsewhere;

    @Option(names = "--tcp-established", description = "Accepted for CRIU compatibility: established TCP connections "
            + "in the image are restored (repaired) unless --tcp-close.")
    boolean tcpEstablished;

    @Option(names = "--shell-job", description = "Accepted for CRIU compatibility: a tree dumped with --shell-job "
            + "gets the terminal cryo runs on.")
    boolean shellJob;

    @Option(names = {"-x", "--ext-unix-sk"}, description = "Accepted for CRIU compatibility: external unix sockets allowed "
            + "at the dump are reconnected.")
    boolean extUnixSk;

    @Option(names = "--file-locks", description = "Accepted for CRIU compatibility: file locks are always taken again.")
    boolean fileLocks;

    @Option(names = "--no-progress", description = "No progress bar.")
    boolean noProgress;

    @Option(names = {"-s", "--leave-stopped"}, description = "Leave the restored tree stopped (SIGSTOP), as criu "
            + "--leave-stopped: SIGCONT starts it.")
    boolean leaveStopped;

    @Option(names = "--no-agent", description = "Restore in this process even when a local agent runs (a detached "
            + "restore otherwise goes to a running agent, whose child the restored root becomes).")
    boolean noAgent;

    @Option(names = "--inherit-fd", paramLabel = "fd[N]:NAME", description = "Hand this process's fd N to the tree "
            + "in place of the dumped object NAME (CRIU's --inherit-fd): pipe:[INODE] for a pipe (as `cryo show` "
            + "fds names it), a path for a file; every fd of it takes that open file. Repeatable; restores in this process.")
    java.util.List<String> inheritFds = new java.util.ArrayList<>();

    @Option(names = "--manage-cgroups", arity = "0..1", fallbackValue = "soft", paramLabel = "MODE",
            description = "What to do with the tasks' cgroups, as CRIU's modes: soft (the default: back in them, a "
                    + "missing one made with its settings), full (an existing one gets its settings too), props "
                    + "(all must exist, and get their settings), none (all must exist, left as they are), strict "
                    + "(none may exist: all made), ignore (the tasks stay in cryo's cgroups). "
                    + "Sets cryo.restore.manage-cgroups; restores in this process.")
    String manageCgroups;

    @Option(names = "--action-script", paramLabel = "SCRIPT", description = "Run SCRIPT (through /bin/sh -c) at "
            + "CRIU's stages, with CRIU's environment: CRTOOLS_SCRIPT_ACTION pre-restore (before anything), "
            + "post-restore (every task's state in, none running: a non-zero exit kills the tree and fails the "
            + "restore), network-unlock (a tree in a net namespace of its own), pre-resume, post-resume (the tree "
            + "runs); CRTOOLS_IMAGE_DIR, CRTOOLS_INIT_PID (the root's pid). Repeatable; restores in this process.")
    java.util.List<String> actionScripts = new java.util.ArrayList<>();

    @Option(names = {"-J", "--join-ns"}, paramLabel = "KIND:PATH|KIND:PID", description = "Join the namespace at PATH (or"
            + " pid PID's) instead of the one the tree's root made or was in (CRIU's --join-ns; repeatable). net: a net"
            + " namespace the root made, its sockets rebuilt in the joined one; uts: the joined one's host names; ipc: an"
            + " ipc namespace the root made, holding no object; time: a time namespace the root made, the joined one's"
            + " clocks no earlier than the tree's at the dump. Restores in this process.")
    java.util.List<String> joinNs = new java.util.ArrayList<>();

    @Option(names = "--external", paramLabel = "mnt[NAME]:PATH", description = "Bind the host's PATH at the mount the "
            + "dump named NAME (`dump --external mnt[POINT]:NAME`), instead of what was dumped there (CRIU's; "
            + "--ext-mount-map NAME:PATH too; a relative PATH is from /). mnt[] is accepted: cryo binds the host paths it "
            + "found again by itself. macvlan[NAME]:DEVICE: make macvlan NAME, whose lower device was outside the tree's "
            + "namespaces, on DEVICE of this host's (needed for such a macvlan, as CRIU needs it). Other types are "
            + "refused, saying why. Repeatable; restores in this process.")
    java.util.List<String> externals = new java.util.ArrayList<>();

    @Option(names = "--lazy-pages", description = "Let the tree run before its private anonymous memory is in: each "
            + "page comes from the image when first touched, the rest copied ahead while it runs (CRIU's --lazy-pages, "
            + "from a local image). This process serves the pages until every one is in (with -d it returns then), "
            + "or with -d a running local agent does: the command returns once the tree runs, and the agent logs "
            + "when the last page is in.")
    boolean lazyPages;

    private final PrintWriter out;
    private final PrintWriter err;

    RestoreCommand(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() throws Exception {
        boolean detach = detached || parent.settings().restore().detached();
        dev.cryo.engine.restore.InheritedFds inherited;
        java.util.Map<String, String> joined;
        dev.cryo.engine.namespaces.RestoreExternals external;
        try {
            external = CriuExternals.restore(externals);
            inherited = dev.cryo.engine.restore.InheritedFds.parse(inheritFds, (int) ProcessHandle.current().pid());
            joined = dev.cryo.engine.restore.JoinedNamespaces.paths(joinNs);
        } catch (IllegalArgumentException e) { // a usage error, as picocli reports one (no picocli type here:
            err.println("cryo restore: " + e.getMessage()); // a plain restore loads this class without picocli)
            err.flush();
            return 2;
        }
        RestoreRequest request = new RestoreRequest(dir.toAbsolutePath(), tcpClose, new DumpProgress())
                .leavingStopped(leaveStopped).inheriting(inherited).lockElsewhere(tcpLockElsewhere).joining(joined)
                .withExternals(external);
        dev.cryo.api.StageHooks hooks = ActionScripts.of(actionScripts, dir);
        request = request.withHooks(hooks);
        if (lazyPages) {
            request = request.withLazyPages(new dev.cryo.engine.restore.LazyPages(request.imageDir(),
                    parent.settings().image().maxChunk(), (int) parent.settings().restore().lazyAheadPause().toMillis()));
        }
        // only a detached restore can go to the agent: a waited-for root must be this process's child;
        // fds to hand over are this process's
        // the agent restores with its own settings: a cgroup mode given here is this process's
        if (detach && !noAgent && inherited.isEmpty() && !hooks.any() && manageCgroups == null && joined.isEmpty()
                && external.isEmpty()) {
            try {
                var viaAgent = dev.cryo.actors.cluster.LocalAgent.restore(
                        parent.settings().cluster().localSocket().orElse(null), request);
                if (viaAgent.isPresent()) {
                    if (parent.verbosity() > 0) { // logging is set up then; quiet, it is never started
                        org.slf4j.LoggerFactory.getLogger("cryo").info("restored by the local agent");
                    }
                    if (lazyPages) { // this process's page server never started: the agent has one of its own
                        closeLazy(request.lazy());
                        int code = finishDetached(out, err, viaAgent.get(), pidFile);
                        err.println("cryo: lazy pages: the local agent serves them; its log says when the last one is in");
                        err.flush();
                        return code;
                    }
                    return finishDetached(out, err, viaAgent.get(), pidFile);
                }
            } catch (CryoException e) {
                LogSetup.failure(err, "restore failed: " + e.getMessage(), e);
                return 1;
            }
        }
        try {
            ActionScripts.run(hooks, "pre-restore", 0);
        } catch (ActionScripts.ActionFailed e) {
            err.println("cryo: restore failed: " + e.getMessage() + "; nothing was restored");
            err.flush();
            return 1;
        }
        com.typesafe.config.Config config = parent.localConfig();
        if (manageCgroups != null) {
            config = com.typesafe.config.ConfigFactory.parseMap(java.util.Map.of("cryo.restore.manage-cgroups",
                    manageCgroups)).withFallback(config);
            try {
                dev.cryo.config.CryoSettings.create(config);
            } catch (dev.cryo.config.InvalidSettingsException e) {
                err.println("cryo restore: --manage-cgroups=" + manageCgroups + ": " + e.getMessage());
                err.flush();
                return 2;
            }
        }
        return restoreHere(config, parent.settings(), request, detach, !noProgress, pidFile, out, err);
    }

    /**
     * The restore in this process (an actor system of its own), then the summary; waits for the
     * restored root unless {@code detach}. The command's and the command-line shortcut's way when
     * no local agent takes it.
     */
    static int restoreHere(com.typesafe.config.Config config, dev.cryo.config.CryoSettings settings,
                           RestoreRequest request, boolean detach, boolean progressBar, Path pidFile,
                           PrintWriter out, PrintWriter err) throws Exception {
        RestoreReport report;
        request = request.detaching(detach);
        dev.cryo.engine.restore.LazyPages lazy = request.lazy();
        try {
            LogSetup.ensure();
            try (Cryo cryo = Cryo.create(config);
                 ProgressBar bar = ProgressBar.startIfTerminal(progressBar && settings.restore().progress(),
                         "restoring", request.progress(), err, settings.restore().progressDelay())) {
                report = cryo.restore(request).toCompletableFuture().join();
            }
        } catch (CryoException e) {
            closeLazy(lazy);
            LogSetup.failure(err, "restore failed: " + e.getMessage(), e);
            return 1;
        } catch (CompletionException e) {
            closeLazy(lazy);
            Throwable cause = e.getCause() == null ? e : e.getCause();
            LogSetup.failure(err, "restore failed: " + (cause instanceof CryoException ? cause.getMessage() : cause.toString()), cause);
            return 1;
        }
        finishDetached(out, err, report, pidFile);
        if (lazy != null && detach) {
            return awaitLazy(lazy, err) ? 0 : 1;
        }
        if (detach) {
            return 0;
        }
        if (lazy != null) { // said as soon as it is so; this process stays until then whatever the root does
            lazy.whenDone().whenComplete((summary, e) -> tellLazy(err, summary, e));
        }
        int status = Cryo.waitFor(report.rootPid());
        if (lazy != null) {
            lazy.whenDone().handle((x, e) -> null).join();
        }
        return status;
    }

    private static void closeLazy(dev.cryo.engine.restore.LazyPages lazy) {
        if (lazy != null) {
            lazy.close();
        }
    }

    /** A detached lazy restore returns once every page is in. */
    private static boolean awaitLazy(dev.cryo.engine.restore.LazyPages lazy, PrintWriter err) {
        try {
            tellLazy(err, lazy.whenDone().join(), null);
            return true;
        } catch (CompletionException e) {
            tellLazy(err, null, e.getCause());
            return false;
        }
    }

    private static void tellLazy(PrintWriter err, String summary, Throwable e) {
        if (e == null) {
            err.println("cryo: lazy pages: " + summary);
        } else {
            err.println("cryo: lazy pages: serving them failed, the tasks waiting for one are killed by its watcher: "
                    + e.getMessage());
        }
        err.flush();
    }

    /** stats-restore.json, the pid file and the summary line, once the tree runs. */
    static int finishDetached(PrintWriter out, PrintWriter err, RestoreReport report, Path pidFile)
            throws java.io.IOException {
        writeStats(err, report);
        if (pidFile != null) {
            java.nio.file.Files.writeString(pidFile, report.rootPid() + "\n");
        }
        out.printf(Locale.ROOT, "Restored %d task%s (%d thread%s), root pid %d, in %d ms (memory %d ms, %d pages)%n",
                report.pids().size(), report.pids().size() == 1 ? "" : "s", report.threads(),
                report.threads() == 1 ? "" : "s", report.rootPid(), report.totalMillis(), report.memoryMillis(),
                report.pagesWritten());
        out.flush();
        return 0;
    }

    /**
     * stats-restore.json beside the image (CRIU keeps stats-restore too). The restore has
     * succeeded by then: an image directory that cannot be written to only costs the file.
     */
    private static void writeStats(PrintWriter err, RestoreReport r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rootPid", r.rootPid());
        m.put("pids", r.pids());
        m.put("tasks", r.pids().size());
        m.put("threads", r.threads());
        m.put("pagesWritten", r.pagesWritten());
        m.put("totalMillis", r.totalMillis());
        m.put("memoryMillis", r.memoryMillis());
        try {
            StatsFile.write(r.imageDir().resolve("stats-restore.json"), m);
        } catch (java.io.IOException | RuntimeException e) {
            err.println("cryo: restored, but stats-restore.json could not be written: " + e.getMessage());
            err.flush();
        }
    }
}
