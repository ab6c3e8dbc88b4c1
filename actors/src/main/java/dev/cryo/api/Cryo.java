package dev.cryo.api;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import dev.cryo.actors.Requests;
import dev.cryo.actors.dump.DumpSupervisor;
import dev.cryo.actors.restore.RestoreSupervisor;
import dev.cryo.config.CryoConfig;
import dev.cryo.config.CryoSettings;
import dev.cryo.config.ImageSettings;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageKryo;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.engine.model.codec.ModelCodecs;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * cryo as a library: one actor system, and a request per checkpoint. The CLI is a thin layer over
 * this class.
 * <pre>{@code
 * try (Cryo cryo = Cryo.create()) {
 *     DumpReport r = cryo.dump(DumpRequest.of(pid, Path.of("/var/lib/ckpt/1"))).toCompletableFuture().join();
 * }
 * }</pre>
 * Failures complete the stage with a {@link CryoException} whose message names the cause.
 */
public final class Cryo implements AutoCloseable {
    private final ActorSystem<Requests.Command> system;
    private final CryoSettings settings;

    private Cryo(Config config) {
        this.settings = CryoSettings.create(config);
        // first: when it fails (the native library cannot be unpacked: a full /tmp), no actor system is left whose
        // threads would keep a CLI's JVM running after the error, for ever
        warmUp();
        // a local actor system: Pekko falls back to the local defaults only (LocalReference)
        this.system = ActorSystem.create(Requests.create(), "cryo",
                org.apache.pekko.actor.BootstrapSetup.create(tuned(config, settings))
                        .withClassloader(LocalReference.loader()));
    }

    /** The region pool must be at least as wide as the copiers fanned out per task. */
    public static Config tuned(Config config, CryoSettings settings) {
        return config.withValue("cryo-dispatchers.region.thread-pool-executor.fixed-pool-size",
                ConfigValueFactory.fromAnyRef(Math.max(2, settings.parallelism().regions()
                        * Math.max(1, Math.min(4, settings.parallelism().tasks())))));
    }

    /**
     * Loads the native bindings and the image codecs before any request, so their one-off start-up
     * cost (tens of ms) is not paid while a tree is frozen.
     */
    public static void warmUp() {
        Pid self = Pid.of((int) ProcessHandle.current().pid());
        Sys.exists(self);
        ProcFs.stat(self);
        ProcFs.smaps(self);
        ImageKryo.create(ModelCodecs.ALL);
        // load and link the classes of the frozen window now rather than while a tree waits
        for (String name : HOT_CLASSES) {
            try {
                Class.forName(name, true, Cryo.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("missing class " + name, e);
            }
        }
    }

    private static final String[] HOT_CLASSES = {
            "dev.cryo.kernel.ptrace.Tracer", "dev.cryo.kernel.ptrace.Injector", "dev.cryo.kernel.ptrace.Ptrace",
            "dev.cryo.kernel.ptrace.Registers", "dev.cryo.kernel.ptrace.SyscallGadget",
            "dev.cryo.engine.dump.TaskSeizer", "dev.cryo.engine.dump.TaskCollector",
            "dev.cryo.engine.dump.ThreadCollector", "dev.cryo.engine.dump.MemoryPlan", "dev.cryo.engine.dump.PageCopier",
            "dev.cryo.engine.dump.RemoteTask", "dev.cryo.engine.files.FdHandlers", "dev.cryo.kernel.proc.PagemapReader",
            "dev.cryo.kernel.PagemapScan", "dev.cryo.engine.image.MappedWindow",
            "dev.cryo.actors.dump.TaskDumper", "dev.cryo.actors.dump.RegionDumper", "dev.cryo.actors.dump.ImageWriterActor",
            "dev.cryo.engine.restore.TaskRestorer", "dev.cryo.actors.restore.TaskRestorerActor",
            "dev.cryo.actors.restore.RegionRestorer", "dev.cryo.engine.restore.PageWriter"};

    public static Cryo create() {
        return create(LocalReference.load(Optional.empty(), Map.of()));
    }

    public static Cryo create(Config config) {
        return new Cryo(config);
    }

    public CryoSettings settings() {
        return settings;
    }

    public CompletionStage<DumpReport> dump(DumpRequest request) {
        Duration timeout = settings.dump().timeout().plus(settings.dump().seizeTimeout()).plusSeconds(60);
        CompletionStage<DumpSupervisor.Outcome> outcome = AskPattern.ask(system,
                (ActorRef<DumpSupervisor.Outcome> replyTo) -> new Requests.StartDump(request, settings, replyTo),
                timeout, system.scheduler());
        return outcome.thenApply(o -> {
            if (o instanceof DumpSupervisor.Succeeded s) {
                return s.report();
            }
            throw new CryoException(((DumpSupervisor.Failed) o).message());
        });
    }

    /**
     * Gives up every dump in progress that has not begun committing its image: their trees are
     * released as they were and their images aborted; their stages fail with {@code why}.
     */
    public void cancelDumps(String why) {
        system.tell(new Requests.CancelDumps(why));
    }

    /** Restores an image; the restored root becomes a child of this process (wait for it with {@link #waitFor}). */
    public CompletionStage<RestoreReport> restore(RestoreRequest request) {
        Duration timeout = settings.restore().timeout().plus(settings.restore().pidWait()).plusSeconds(60);
        CompletionStage<RestoreSupervisor.Outcome> outcome = AskPattern.ask(system,
                (ActorRef<RestoreSupervisor.Outcome> replyTo) -> new Requests.StartRestore(request, settings, replyTo),
                timeout, system.scheduler());
        return outcome.thenApply(o -> {
            if (o instanceof RestoreSupervisor.Succeeded s) {
                return s.report();
            }
            throw new CryoException(((RestoreSupervisor.Failed) o).message());
        });
    }

    /**
     * Waits for a restored root (a child of this process) to end, like {@code criu restore} does,
     * and returns a shell-style status: its exit code, or 128 + the signal that killed it.
     */
    public static int waitFor(int rootPid) {
        var st = Sys.wait4(rootPid, 0);
        return st.exited() ? st.exitCode() : 128 + st.termSignal();
    }

    public static ImageOptions imageOptions(ImageSettings s) {
        return ImageOptions.defaults().withFsync(s.fsync()).withMaxChunkLength(s.maxChunk())
                .withCompression(s.compression(), s.compressionLevel());
    }

    /**
     * How long {@link #close} waits for the actors to stop. A command has printed its outcome by then,
     * and its exit must not hang on them: a dump command once exited 6 s, and once 55 s, after
     * "released the tree" (usually 0.2-0.6 s, all of it spent here). Past it the threads still busy
     * are logged, which tells what held them.
     */
    private static final Duration STOP_WAIT = Duration.ofSeconds(5);

    @Override
    public void close() {
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(STOP_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            org.slf4j.LoggerFactory.getLogger(Cryo.class).warn("cryo's actors had not stopped {} s after the request "
                    + "ended; busy: {}", STOP_WAIT.toSeconds(), busyThreads());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            // ended with a failure: nothing left to wait for
        }
    }

    /** Cryo's threads that are not parked idle, each with its top frames and cryo's first; "none" when all are. */
    static String busyThreads() {
        StringBuilder b = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, frames) -> {
            // the scheduler's tick thread sleeps between ticks: never what holds a stop
            if (!t.getName().startsWith("cryo-") || t.getName().startsWith("cryo-scheduler") || frames.length == 0
                    || idle(frames)) {
                return;
            }
            b.append("\n  ").append(t.getName()).append(" (").append(t.getState()).append(')');
            int shown = Math.min(8, frames.length);
            boolean ours = false;
            for (int i = 0; i < shown; i++) {
                b.append("\n    at ").append(frames[i]);
                ours |= frames[i].getClassName().startsWith("dev.cryo.");
            }
            for (int i = shown; i < frames.length && !ours; i++) { // what cryo waits in, below the JDK's waiting frames
                if (frames[i].getClassName().startsWith("dev.cryo.")) {
                    b.append("\n    ...\n    at ").append(frames[i]);
                    ours = true;
                }
            }
        });
        return b.length() == 0 ? "none" : b.toString();
    }

    /**
     * Parked or waiting with no frame of cryo's own: a pool thread waiting for work. One parked inside cryo's
     * code (a stop waiting on a future, a poll's sleep between tries) is what may hold a stop, and was shown idle.
     */
    private static boolean idle(StackTraceElement[] frames) {
        StackTraceElement top = frames[0];
        boolean waiting = top.getClassName().equals("jdk.internal.misc.Unsafe") && top.getMethodName().equals("park")
                || top.getClassName().equals("java.lang.Object") && top.getMethodName().equals("wait");
        return waiting && java.util.Arrays.stream(frames).noneMatch(f -> f.getClassName().startsWith("dev.cryo."));
    }
}
