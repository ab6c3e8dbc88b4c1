package dev.cryo.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.cryo.actors.dump.DumpSupervisor;
import dev.cryo.actors.restore.RestoreSupervisor;
import dev.cryo.api.Cryo;
import dev.cryo.api.CryoException;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import dev.cryo.config.CryoSettings;
import org.apache.pekko.actor.typed.ActorSystem;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Starts a {@code cryo agent}: its page channel (Pekko Streams TCP with TLS) and a Pekko Cluster node (Artery over TLS)
 * whose guardian is the {@link Agent}. Seeds are "host:port" of other agents; with none, the node
 * forms a cluster of its own that others join.
 */
public final class AgentNode implements AutoCloseable {
    /** What the agent actor needs besides its name. */
    /** {@code lazy}: the lazy restores the local socket's requests made, which this agent serves. */
    public record Parts(java.util.concurrent.atomic.AtomicReference<PageChannel.Receiver> receiver, String dataHost, int dataPort,
                        Path stagingDir, Migration.Deps migration, LazyServings lazy) {}

    private final ActorSystem<AgentProtocol.Command> system;
    private LocalAgent.Server local;

    private AgentNode(ActorSystem<AgentProtocol.Command> system) {
        this.system = system;
    }

    /** Takes the local CLI's dumps and restores on the claimed socket (see {@link LocalAgent}). */
    private void listenLocally(LocalAgent.Server claimed, CryoSettings settings, LazyServings lazy) throws IOException {
        Duration dumpTimeout = settings.dump().timeout().plus(settings.dump().seizeTimeout()).plusSeconds(60);
        Duration restoreTimeout = settings.restore().timeout().plus(settings.restore().pidWait()).plusSeconds(60);
        local = claimed;
        claimed.listen(new LocalAgent.Jobs() {
            @Override
            public DumpReport dump(DumpRequest request, CompletionStage<String> clientGone) {
                var asked = new java.util.concurrent.atomic.AtomicReference<ActorRef<DumpSupervisor.Outcome>>();
                CompletionStage<DumpSupervisor.Outcome> outcome = AskPattern.ask(system, (ActorRef<DumpSupervisor.Outcome> r) -> {
                    asked.set(r);
                    return new Agent.RunDump(request, r);
                }, dumpTimeout, system.scheduler());
                clientGone.thenAccept(why -> system.tell(new Agent.CancelDump(asked.get(), why)));
                DumpSupervisor.Outcome o = await(outcome);
                if (o instanceof DumpSupervisor.Succeeded s) return s.report();
                throw new CryoException(((DumpSupervisor.Failed) o).message());
            }

            @Override
            public RestoreReport restore(RestoreRequest request) {
                RestoreSupervisor.Outcome o = await(AskPattern.ask(system,
                        (ActorRef<RestoreSupervisor.Outcome> r) -> new Agent.RunRestore(request, r), restoreTimeout,
                        system.scheduler()));
                if (o instanceof RestoreSupervisor.Succeeded s) return s.report();
                throw new CryoException(((RestoreSupervisor.Failed) o).message());
            }

            @Override
            public dev.cryo.engine.restore.LazyPages lazyPages(java.nio.file.Path imageDir) {
                return new dev.cryo.engine.restore.LazyPages(imageDir, settings.image().maxChunk(),
                        (int) settings.restore().lazyAheadPause().toMillis());
            }

            @Override
            public void servingLazily(int rootPid, java.nio.file.Path imageDir, dev.cryo.engine.restore.LazyPages pages) {
                lazy.serving(rootPid, imageDir, pages);
            }
        });
    }

    private static <T> T await(CompletionStage<T> stage) {
        try {
            return stage.toCompletableFuture().get();
        } catch (ExecutionException e) {
            throw new CryoException("the agent did not answer: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CryoException("interrupted");
        }
    }

    /** Pekko's settings for a cluster node at host:port joining seeds ("host:port" each). */
    static Config nodeConfig(Config base, ClusterKeys keys, String host, int port, List<String> seeds) {
        List<String> seedAddresses = (seeds.isEmpty() ? List.of(host + ":" + port) : seeds).stream()
                .map(s -> s.startsWith("pekko://") ? s : "pekko://" + SYSTEM + "@" + s).toList();
        return ConfigFactory.empty()
                .withValue("pekko.actor.provider", ConfigValueFactory.fromAnyRef("cluster"))
                .withValue("pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(host))
                .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(port))
                .withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(seedAddresses))
                .withFallback(keys.arteryTls())
                .withFallback(base);
    }

    static final String SYSTEM = "cryo";

    public static AgentNode start(Config base, CryoSettings settings, ClusterKeys keys, String name) throws IOException {
        var c = settings.cluster();
        // before anything starts: a second agent on this socket is refused at once
        LocalAgent.Server claimed = c.localSocket().isPresent() ? LocalAgent.Server.claim(c.localSocket().get()) : null;
        try {
            return start(base, settings, keys, name, claimed);
        } catch (IOException | RuntimeException e) {
            if (claimed != null) {
                claimed.close();
            }
            throw e;
        }
    }

    private static AgentNode start(Config base, CryoSettings settings, ClusterKeys keys, String name,
                                   LocalAgent.Server claimed) throws IOException {
        var c = settings.cluster();
        Duration timeout = c.migrateTimeout();
        Migration.Deps deps = new Migration.Deps(settings, keys.sslContext(), Cryo.imageOptions(settings.image()), timeout);
        Config config = Cryo.tuned(nodeConfig(base, keys, c.hostname(), c.port(), c.seedNodes()), settings);
        Cryo.warmUp();
        // the page channel is a stream of this system's, bound before the agent that handles what arrives on it
        CompletableFuture<Integer> bound = new CompletableFuture<>();
        LazyServings lazy = new LazyServings();
        ActorSystem<AgentProtocol.Command> system = ActorSystem.create(Behaviors.<AgentProtocol.Command>setup(ctx -> {
            // the page channel listens before the agent that handles what arrives on it exists
            var slot = new java.util.concurrent.atomic.AtomicReference<PageChannel.Receiver>();
            PageChannel.Server pages;
            try {
                pages = new PageChannel.Server(ctx.getSystem(), keys.sslContext(), c.hostname(), c.dataPort(), c.maxImage(),
                        settings.image().maxChunk(), c.ioTimeout(), slot::get);
            } catch (IOException | RuntimeException e) {
                bound.completeExceptionally(e);
                return Behaviors.stopped();
            }
            bound.complete(pages.port());
            return Agent.create(name, new Parts(slot, c.hostname(), pages.port(), c.stagingDir(), deps, lazy));
        }), SYSTEM, config);
        AgentNode node = new AgentNode(system);
        try {
            bound.get(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            node.close();
            throw new IOException("page channel: " + e.getCause().getMessage(), e.getCause());
        } catch (java.util.concurrent.TimeoutException | InterruptedException e) {
            node.close();
            throw new IOException("page channel: not bound within 60 s");
        }
        int stale = StagingDirs.sweep(c.stagingDir());
        StagingDirs.keepUpTo(c.keepStaged());
        if (stale > 0) {
            system.log().info("removed {} staging director{} left by an agent that was killed", stale, stale == 1 ? "y" : "ies");
        }
        WarmUp.start(system, settings, deps.imageOptions(), c.stagingDir(), deps.tls());
        if (claimed != null) {
            try {
                node.listenLocally(claimed, settings, lazy);
            } catch (IOException e) {
                node.close();
                throw new IOException("cannot listen on the local socket " + c.localSocket().get() + ": " + e.getMessage(), e);
            }
        }
        return node;
    }

    public ActorSystem<AgentProtocol.Command> system() {
        return system;
    }

    /** Blocks until the node has stopped (terminate runs Pekko's coordinated shutdown: leave, then stop). */
    public void awaitTermination() throws InterruptedException {
        try {
            system.getWhenTerminated().toCompletableFuture().get();
        } catch (java.util.concurrent.ExecutionException e) {
            // terminated anyway
        } finally {
            if (local != null) local.close();
        }
    }

    @Override
    public void close() {
        system.terminate();
        try {
            awaitTermination();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
