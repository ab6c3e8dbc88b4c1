package dev.cryo.cli;

import dev.cryo.api.Cryo;
import dev.cryo.api.CryoException;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.dump.DumpStats;
import dev.cryo.engine.files.SocketDumpState;
import dev.cryo.kernel.Pid;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;

/** {@code cryo dump -t PID -D DIR}: checkpoint a process tree, like {@code criu dump}. */
@Command(name = "dump", mixinStandardHelpOptions = true,
        description = "Checkpoint the process tree rooted at PID into an image directory.")
final class DumpCommand implements Callable<Integer> {
    @ParentCommand
    CryoCli parent;

    @Option(names = {"-t", "--tree"}, required = true, paramLabel = "PID", description = "Root of the tree to dump.")
    int pid;

    @Option(names = {"-D", "--images-dir"}, required = true, paramLabel = "DIR",
            description = "Directory to write the image to (created 0700; must not already hold an image).")
    Path dir;

    @Option(names = {"-R", "--leave-running"}, description = "Leave the tree running after the dump (default: kill it).")
    boolean leaveRunning;

    @Option(names = {"-s", "--leave-stopped"}, description = "Leave the tree stopped (SIGSTOP) after the dump, "
            + "neither killed nor running, as criu --leave-stopped: SIGCONT resumes it.")
    boolean leaveStopped;

    @Option(names = "--shell-job", description = "Allow the tree to hold its controlling terminal.")
    boolean shellJob;

    @Option(names = "--tcp-established", description = "Dump established TCP connections (TCP repair; their packets"
            + " are dropped by an nftables rule until the restore).")
    boolean tcpEstablished;

    @Option(names = "--tcp-close", description = "Dump established TCP connections as closed (no repair, no network lock).")
    boolean tcpClose;

    @Option(names = {"--tcp-skip-in-flight", "--skip-in-flight"}, description = "Leave out TCP connections a listener"
            + " has not accepted yet instead of refusing the dump (as CRIU's): their clients get a reset.")
    boolean tcpSkipInFlight;

    @Option(names = {"-x", "--ext-unix-sk"}, description = "Allow unix datagram sockets connected to a path outside the tree"
            + " (e.g. /dev/log); they reconnect to it on restore.")
    boolean extUnixSk;

    @Option(names = "--file-locks", description = "Accepted for CRIU compatibility: file locks (flock, POSIX, OFD) "
            + "are always carried.")
    boolean fileLocks;

    @Option(names = "--no-progress", description = "No progress bar.")
    boolean noProgress;

    @Option(names = "--pre-copy", description = "Copy memory in rounds while the tree runs, then freeze it only "
            + "for the pages written since (needs userfaultfd write-protect and PAGEMAP_SCAN).")
    boolean preCopy;

    @Option(names = "--track-mem", description = "With --leave-running: keep tracking the tree's writes after the dump "
            + "(a small process holds them, at most cryo.pre-copy.tracking-kept), so that a later dump with "
            + "--prev-images-dir freezes the tree only for the pages written since; as CRIU's pre-dump (implies --pre-copy).")
    boolean trackMem;

    @Option(names = "--prev-images-dir", paramLabel = "DIR", description = "The image of an earlier dump with "
            + "--track-mem (relative to --images-dir, as CRIU's): its pages not written since are copied from it while "
            + "the tree runs, and the tree is frozen only for the rest; the new image is whole (DIR may be deleted "
            + "after). When the tracking cannot hold (it timed out, a task ran exec or is another process), those pages "
            + "are copied again, and the output says so (implies --pre-copy).")
    Path prevImagesDir;

    @Option(names = "--ghost-limit", paramLabel = "SIZE",
            description = "Largest deleted file (still mapped or open) carried in the image, e.g. 4M "
                    + "(default: cryo.dump.ghost-limit, 1 MiB).")
    String ghostLimit;

    @Option(names = "--timeout", paramLabel = "SECONDS",
            description = "How long to wait for every task to stop, as criu --timeout "
                    + "(default: cryo.dump.seize-timeout, 10 s).")
    Integer timeout;

    @Option(names = "--lazy-wait", paramLabel = "SECONDS",
            description = "A tree whose lazy restore (restore --lazy-pages) still brings pages in: wait, while it runs, "
                    + "up to SECONDS for its last page before the dump (default 0: refused as it is).")
    Integer lazyWait;

    @Option(names = "--network-lock", paramLabel = "METHOD",
            description = "Accepted for CRIU compatibility: nftables or iptables; cryo locks with nftables either way.")
    String networkLock;

    @Option(names = "--no-agent", description = "Dump in this process even when a local agent runs "
            + "(by default a running agent's warm JVM does the work, see cryo.cluster.local-socket).")
    boolean noAgent;

    @Option(names = "--freeze-cgroup", paramLabel = "CGROUP", description = "Freeze this cgroup (the absolute path of a "
            + "cgroup v2 directory) right before the seize, as CRIU's --freeze-cgroup, so nothing in it forks or exits "
            + "while the tree is seized; thawed once every task is held. Not with --pre-copy; dumps in this process.")
    String freezeCgroup;

    @Option(names = "--action-script", paramLabel = "SCRIPT", description = "Run SCRIPT (through /bin/sh -c) at "
            + "CRIU's stages, with CRIU's environment: CRTOOLS_SCRIPT_ACTION pre-dump (before the tree is touched), "
            + "network-lock (frozen; a tree in a net namespace of its own), post-dump (image complete, tree still "
            + "frozen), network-unlock (the tree runs on); CRTOOLS_IMAGE_DIR, CRTOOLS_INIT_PID. A non-zero exit "
            + "fails the dump and the tree runs on. Repeatable; dumps in this process.")
    java.util.List<String> actionScripts = new java.util.ArrayList<>();

    @Option(names = "--external", paramLabel = "mnt[POINT]:NAME", description = "Name the mount at POINT of the tree's "
            + "mount namespaces NAME in the image, for `restore --external mnt[NAME]:PATH` to bind another host path "
            + "there (CRIU's; --ext-mount-map POINT:NAME too). mnt[] and mnt[]:FLAGS (CRIU's auto-detection) are "
            + "accepted: cryo finds bind mounts of host paths by itself. Other types are refused, saying why. "
            + "Repeatable; dumps in this process.")
    java.util.List<String> externals = new java.util.ArrayList<>();

    private final PrintWriter out;
    private final PrintWriter err;

    DumpCommand(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() throws Exception {
        if (pid <= 0) {
            err.println("cryo: no process with pid " + pid);
            return 1;
        }
        DumpProgress progress = new DumpProgress();
        DumpRequest request = new DumpRequest(Pid.of(pid), dir.toAbsolutePath(), leaveRunning || parent.settings().dump().leaveRunning(),
                shellJob, progress, preCopy, new SocketDumpState.Options(tcpEstablished, tcpClose, extUnixSk, tcpSkipInFlight), leaveStopped);
        if (trackMem || prevImagesDir != null) {
            request = request.withIteration(new dev.cryo.api.Iteration(prevImagesDir == null ? null
                    : dir.toAbsolutePath().resolve(prevImagesDir).normalize(), trackMem));
        }
        try {
            request = request.namingMounts(CriuExternals.dumpMounts(externals));
        } catch (IllegalArgumentException e) {
            err.println("cryo dump: " + e.getMessage());
            err.flush();
            return 2;
        }
        dev.cryo.api.StageHooks scripts = ActionScripts.of(actionScripts, dir);
        dev.cryo.engine.cgroups.CgroupFreezer freezer = null;
        if (freezeCgroup != null) {
            try {
                freezer = dev.cryo.engine.cgroups.CgroupFreezer.of(freezeCgroup);
            } catch (IllegalArgumentException e) {
                err.println("cryo dump: --freeze-cgroup " + e.getMessage());
                return 2;
            }
            if (request.preCopy()) {
                err.println("cryo dump: --freeze-cgroup cannot go with --pre-copy (its rounds inject into the running tree)");
                return 2;
            }
        }
        dev.cryo.api.StageHooks hooks = freezing(freezer).andThen(scripts);
        request = request.withHooks(hooks);
        if (networkLock != null && !networkLock.equals("nftables") && !networkLock.equals("iptables")) {
            err.println("cryo: --network-lock " + networkLock + ": cryo locks the network with nftables"
                    + " (nftables or iptables are accepted; it cannot skip the lock)");
            return 2;
        }
        if (timeout != null && timeout <= 0) {
            err.println("cryo: --timeout " + timeout + ": give a number of seconds above 0");
            return 2;
        }
        if (lazyWait != null && lazyWait < 0) {
            err.println("cryo: --lazy-wait " + lazyWait + ": give a number of seconds, 0 or more");
            return 2;
        }
        if (lazyWait != null && lazyWait > 0 && !awaitLazyRestore(pid, lazyWait)) {
            return 130; // interrupted while waiting: nothing was dumped
        }
        java.util.Map<String, Object> overrides = new java.util.HashMap<>();
        if (ghostLimit != null) {
            overrides.put("cryo.dump.ghost-limit", ghostLimit);
        }
        if (timeout != null) {
            overrides.put("cryo.dump.seize-timeout", timeout + "s");
        }
        // a running local agent does it in its warm JVM; its own settings apply (these options need ours)
        // a pre-dump's tracking is kept and taken by the command's own JVM (the agent's settings would not apply)
        // the agent's wire carries no mount names
        if (!noAgent && overrides.isEmpty() && !hooks.any() && !request.iteration().any() && request.externalMounts().isEmpty()) {
            // SIGINT/SIGTERM: the agent is told to give the dump up, and its answer says how it ended
            java.util.concurrent.atomic.AtomicReference<Runnable> giveUp = new java.util.concurrent.atomic.AtomicReference<>();
            try (Interrupts interrupts = Interrupts.handle(sig -> {
                Runnable g = giveUp.get();
                if (g != null) g.run();
            })) {
                try {
                    var viaAgent = dev.cryo.actors.cluster.LocalAgent.dump(
                            parent.settings().cluster().localSocket().orElse(null), request, g -> {
                                giveUp.set(g);
                                if (interrupts.received() != null) g.run(); // came while the request was on its way
                            });
                    if (viaAgent.isPresent()) {
                        if (parent.verbosity() > 0) { // logging is set up then; quiet, it is never started
                            org.slf4j.LoggerFactory.getLogger("cryo").info("dumped by the local agent");
                        }
                        writeStats(viaAgent.get());
                        print(out, request, viaAgent.get());
                        return 0;
                    }
                    if (interrupts.received() != null) {
                        err.println("cryo: dump interrupted by " + interrupts.received() + " before it began; nothing was dumped");
                        err.flush();
                        return interrupts.exitCode();
                    }
                } catch (CryoException e) {
                    if (interrupts.received() != null && !e.getMessage().startsWith("the local agent")) {
                        // the agent gave the dump up and answered once it had let the tree go
                        err.println("cryo: dump interrupted by " + interrupts.received() + ": the local agent gave it up; "
                                + dev.cryo.actors.cluster.LocalAgent.treeNow(pid) + " and no image was committed");
                        err.flush();
                        return interrupts.exitCode();
                    }
                    LogSetup.failure(err, "dump failed: " + e.getMessage(), e);
                    return 1;
                }
            }
        }
        // in this process: the whole config (Pekko's too) and logging
        com.typesafe.config.Config config = parent.localConfig();
        if (!overrides.isEmpty()) {
            config = com.typesafe.config.ConfigFactory.parseMap(overrides).withFallback(config);
            try {
                dev.cryo.config.CryoSettings.create(config);
            } catch (dev.cryo.config.InvalidSettingsException e) {
                err.println("cryo: " + (ghostLimit != null ? "--ghost-limit " + ghostLimit : "--timeout " + timeout)
                        + ": " + e.getMessage());
                return 2;
            }
        }
        try {
            ActionScripts.run(scripts, "pre-dump", pid);
        } catch (ActionScripts.ActionFailed e) {
            err.println("cryo: dump failed: " + e.getMessage() + "; nothing was dumped");
            err.flush();
            return 1;
        }
        try {
            return dumpHere(config, parent.settings(), request, !noProgress, out, err);
        } finally {
            if (freezer != null) {
                freezer.thaw(); // a dump that failed before the tree was held lets it run again
            }
        }
    }

    /**
     * --lazy-wait: the tree's lazy restore (pages still to come) is waited for, bounded; the dump goes on either
     * way (it refuses what is still to come by name). False when interrupted.
     */
    private boolean awaitLazyRestore(int pid, int seconds) {
        try {
            Pid left = dev.cryo.engine.dump.LazyRestoreWait.await(Pid.of(pid), java.time.Duration.ofSeconds(seconds),
                    p -> {
                        err.println("cryo: pid " + p + " is still being filled by a lazy restore: waiting up to " + seconds
                                + " s for its last page (--lazy-wait)");
                        err.flush();
                    });
            if (left != null) {
                err.println("cryo: pid " + left + "'s lazy restore did not end within " + seconds + " s");
                err.flush();
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("cryo: interrupted while waiting for a lazy restore to end; nothing was dumped");
            err.flush();
            return false;
        }
    }

    /** The hooks of --freeze-cgroup: frozen right before the seize, thawed once every task is held. */
    private static dev.cryo.api.StageHooks freezing(dev.cryo.engine.cgroups.CgroupFreezer freezer) {
        if (freezer == null) {
            return dev.cryo.api.StageHooks.NONE;
        }
        return new dev.cryo.api.StageHooks() {
            @Override
            public boolean any() {
                return true;
            }

            @Override
            public boolean holdsTree() {
                return true;
            }

            @Override
            public void beforeFreeze(int root) {
                freezer.freeze();
            }

            @Override
            public void frozen(int root, java.util.List<Integer> pids) {
                freezer.thaw();
            }
        };
    }

    /**
     * The dump in this process (an actor system of its own): the command's and the command-line
     * shortcut's way when no local agent takes it.
     */
    static int dumpHere(com.typesafe.config.Config config, dev.cryo.config.CryoSettings settings, DumpRequest request,
                        boolean progressBar, PrintWriter out, PrintWriter err) throws Exception {
        int pid = request.pid().value();
        LogSetup.ensure();
        try (Cryo cryo = Cryo.create(config);
             Interrupts interrupts = Interrupts.handle(sig -> cryo.cancelDumps("interrupted by " + sig));
             ProgressBar bar = ProgressBar.startIfTerminal(progressBar && settings.dump().progress(), "dumping",
                     request.progress(), err, settings.dump().progressDelay())) {
            DumpReport report;
            try {
                var dump = cryo.dump(request).toCompletableFuture();
                if (interrupts.received() != null) { // came before the dump began: cancel it now
                    cryo.cancelDumps("interrupted by " + interrupts.received());
                }
                report = dump.join();
            } catch (CompletionException e) {
                if (interrupts.received() == null) {
                    throw e;
                }
                bar.close();
                String why = e.getCause() == null ? "" : e.getCause().getMessage();
                LogSetup.failure(err, "dump interrupted by " + interrupts.received() + ": the tree was released as it "
                        + "was and no image was committed" + (why.startsWith("interrupted by") ? "" : " (" + why + ")"),
                        e.getCause());
                return interrupts.exitCode();
            }
            bar.close();
            writeStats(report);
            print(out, request, report);
            return 0;
        } catch (CompletionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            LogSetup.failure(err, "dump failed: " + (cause instanceof CryoException ? cause.getMessage() : cause.toString()), cause);
            return 1;
        }
    }

    static void print(PrintWriter out, DumpRequest request, DumpReport r) {
        int pid = request.pid().value();
        DumpStats s = r.stats();
        int zombies = r.pids().size() - s.tasks();
        out.printf(Locale.ROOT, "Dumped %d task%s (%d thread%s%s) of pid %d into %s%n", s.tasks(), s.tasks() == 1 ? "" : "s",
                s.threads(), s.threads() == 1 ? "" : "s",
                zombies == 0 ? "" : ", and " + zombies + " zombie" + (zombies == 1 ? "" : "s"), pid, r.imageDir());
        out.printf(Locale.ROOT, "  frozen %d ms, total %d ms; pages: %d scanned, %d absent, %d written, %d zero%s%n",
                s.frozenMillis(), s.totalMillis(), s.pagesScanned(), s.pagesSkipped(), s.pagesWritten(), s.zeroPages(),
                s.filledPages() == 0 ? "" : ", " + s.filledPages() + " one byte repeated");
        if (!r.roundPages().isEmpty()) {
            out.printf(Locale.ROOT, "  pre-copy: %d rounds while running, then frozen; pages per round: %s, zero or"
                    + " one-byte pages per round: %s%n", r.roundPages().size() - 1, r.roundPages(), r.roundZeroPages());
        }
        r.notes().forEach(n -> out.println("  " + n));
        out.printf(Locale.ROOT, "  image %s, pages copied at %.0f MiB/s; the tree was %s%n", Sizes.human(s.imageBytes()),
                s.pageMegabytesPerSecond(),
                !r.leftRunning() ? "killed" : request.leaveStopped() ? "left stopped (SIGCONT resumes it)" : "left running");
        out.flush();
    }

    /** stats.json beside the image, for scripts; 0600 like every file of the image. */
    static void writeStats(DumpReport r) throws java.io.IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        DumpStats s = r.stats();
        m.put("pids", r.pids());
        m.put("tasks", s.tasks());
        m.put("threads", s.threads());
        m.put("frozenMillis", s.frozenMillis());
        m.put("totalMillis", s.totalMillis());
        m.put("pagesScanned", s.pagesScanned());
        m.put("pagesSkipped", s.pagesSkipped());
        m.put("pagesWritten", s.pagesWritten());
        m.put("zeroPages", s.zeroPages());
        m.put("filledPages", s.filledPages());
        m.put("imageBytes", s.imageBytes());
        m.put("copyMillis", s.copyMillis());
        m.put("pageMiBPerSecond", Math.round(s.pageMegabytesPerSecond()));
        m.put("leftRunning", r.leftRunning());
        m.put("roundPages", r.roundPages());
        m.put("roundZeroPages", r.roundZeroPages());
        if (r.iterated() != null) { // CRIU's iterative dump: what was carried from the pre-dump, what is kept for the next
            if (r.iterated().previous() != null) {
                m.put("prevImagesDir", r.iterated().previous().toString());
                m.put("carriedPages", r.iterated().carriedPages());
            }
            if (r.iterated().holder() > 0) {
                m.put("trackingHolder", r.iterated().holder());
                m.put("trackingKeptSeconds", r.iterated().keptSeconds());
            }
            m.put("notes", r.notes());
        }
        StatsFile.write(r.imageDir().resolve("stats.json"), m);
    }
}
