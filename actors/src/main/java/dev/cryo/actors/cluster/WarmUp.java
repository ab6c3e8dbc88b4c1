package dev.cryo.actors.cluster;

import dev.cryo.actors.dump.DumpSupervisor;
import dev.cryo.actors.restore.RestoreSupervisor;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreRequest;
import dev.cryo.config.CryoSettings;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageStreamReader;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.engine.restore.ArrivingMemory;
import dev.cryo.engine.restore.PreparedRoot;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An agent's first migration, in or out, paid for loading, linking and first compiling the code
 * it runs — 1.2 s of downtime into a cold agent where a warm one took 0.2 s. So at start the agent
 * migrates a {@code sleep} of its own through the same steps, minus the network: a pre-copy dump
 * held frozen as a migration's is (into a file in the staging directory), the held tree killed,
 * the image fed chunk by chunk to an {@link ArrivingMemory} as if it arrived (its stub spawned with
 * the sleep's pid, pages placed), taken as the agent takes a migration's ({@link ArrivedImage}), and
 * the restore that adopts the stub; then the restored sleep is
 * killed and the image removed; last, the page channel's TLS records, in memory. Runs on a thread
 * of its own; any failure only means a colder first migration (logged at debug level).
 */
final class WarmUp {
    private static final Logger log = LoggerFactory.getLogger(WarmUp.class);

    private WarmUp() {}

    /** Records each way through the page channel's TLS (see {@link PageChannel#warmUp}). */
    private static final int TLS_RECORDS = 4000;

    static void start(ActorSystem<?> system, CryoSettings settings, ImageOptions options, Path staging,
                      javax.net.ssl.SSLContext tls) {
        Thread t = new Thread(() -> {
            long t0 = System.nanoTime();
            try {
                run(system, settings, options, staging);
                long t1 = System.nanoTime();
                PageChannel.warmUp(tls, TLS_RECORDS);
                log.info("warmed up the migration path in {} ms (the page channel's TLS {} ms of them)",
                        (System.nanoTime() - t0) / 1_000_000, (System.nanoTime() - t1) / 1_000_000);
            } catch (Exception | LinkageError e) {
                // said: a warm-up failing quietly left every benchmark's first migration cold (mig37)
                log.warn("warming up the migration path failed (the first migration will be slower): {}", e.toString());
            }
        }, "cryo-warm-up");
        t.setDaemon(true);
        t.start();
    }

    private static void run(ActorSystem<?> system, CryoSettings settings, ImageOptions options, Path staging)
            throws Exception {
        Path dir = StagingDirs.create(staging, "warm-");
        int sleep = -1;
        Integer restored = null;
        try {
            // through a shell that exits: the sleep is not this JVM's child (its reaper would steal ptrace stops);
            // its output to a file, as nearly every program's log is: the regular file's checks at the freeze and its
            // restore loaded classes and linked lambdas inside the first migration's downtime. 300 s: a 30 s sleep
            // exited before the seize at load 45 ('exited while being seized'), and the warm-up timed out; killed below
            Process sh = new ProcessBuilder("/bin/sh", "-c", "sleep 300 </dev/null >warm-up.out 2>&1 & echo $!")
                    .directory(dir.toFile()).start();
            sleep = Integer.parseInt(new String(sh.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim());
            sh.waitFor();
            Pid pid = Pid.of(sleep);
            // the source's half: pre-copy rounds and the frozen round, held, then killed
            CompletableFuture<DumpSupervisor.Outcome> dumped = new CompletableFuture<>();
            DumpRequest dump = new DumpRequest(pid, dir, false, false, new DumpProgress(), true);
            system.systemActorOf(holdThenKill(dump, settings, options, dumped), "warm-up-dump", Props.empty());
            DumpSupervisor.Outcome o = dumped.get(60, TimeUnit.SECONDS);
            if (!(o instanceof DumpSupervisor.Succeeded)) {
                throw new IllegalStateException("dump: " + o);
            }
            long until = System.nanoTime() + 2_000_000_000L;
            while (Sys.exists(pid) && System.nanoTime() < until) { // reaped by its parent, init
                Thread.sleep(5);
            }
            // the destination's half: the image as it would arrive, then the restore that adopts the stub
            ArrivingMemory memory = new ArrivingMemory("warm-up");
            try (FileChannel in = FileChannel.open(dir.resolve(ImageFormat.IMAGE_FILE), StandardOpenOption.READ);
                 ImageStreamReader reader = new ImageStreamReader(in, "warm-up image", ModelCodecs.ALL,
                         settings.image().maxChunk())) {
                ImageStreamReader.Chunk c;
                while ((c = reader.next()) != null) {
                    memory.accept(c);
                }
            } catch (Exception e) {
                memory.discard();
                throw e;
            }
            ArrivedImage arrived = ArrivedImage.of(dir, memory); // as the agent takes a migration's image
            PreparedRoot prepared = arrived.prepared();
            RestoreRequest restore = arrived.request();
            CompletableFuture<RestoreSupervisor.Outcome> done = new CompletableFuture<>();
            system.systemActorOf(Behaviors.<RestoreSupervisor.Outcome>setup(ctx -> {
                ctx.spawn(RestoreSupervisor.create(restore, settings, ctx.getSelf()), "restore");
                return Behaviors.receiveMessage(r -> {
                    done.complete(r);
                    return Behaviors.stopped();
                });
            }), "warm-up-restore", Props.empty());
            RestoreSupervisor.Outcome r = done.get(60, TimeUnit.SECONDS);
            memory.discard(); // as the agent does once a migration's restore has ended
            if (!(r instanceof RestoreSupervisor.Succeeded s)) {
                if (prepared != null) {
                    ArrivingMemory.kill(prepared.pid());
                }
                throw new IllegalStateException("restore: " + r);
            }
            restored = s.report().rootPid();
        } finally {
            if (restored != null) {
                ArrivingMemory.kill(restored); // the adopted stub's: this JVM's child, reaped here
            } else if (sleep > 0 && Sys.exists(Pid.of(sleep))) {
                Sys.kill(Pid.of(sleep), Signals.SIGKILL);
            }
            StagingDirs.delete(dir);
        }
    }

    /** Runs a dump held as a migration's (two-phase), and ends it by killing the tree. */
    private static Behavior<DumpSupervisor.Outcome> holdThenKill(DumpRequest request, CryoSettings settings,
                                                                 ImageOptions options,
                                                                 CompletableFuture<DumpSupervisor.Outcome> done) {
        return Behaviors.setup(ctx -> {
            ctx.spawn(DumpSupervisor.create(request, settings, d -> ImageWriter.create(d, ModelCodecs.ALL, options), true,
                    ctx.getSelf()), "dump");
            return Behaviors.receiveMessage(o -> {
                if (o instanceof DumpSupervisor.Held h) {
                    h.supervisor().tell(new DumpSupervisor.Finish(true, ctx.getSelf()));
                    return Behaviors.same();
                }
                done.complete(o);
                return Behaviors.stopped();
            });
        });
    }
}
