package dev.cryo.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The CLI's line to an agent: a small remoting-only actor system (not a cluster member) on Artery
 * over TLS with the cluster's keys, which asks the agent's guardian at host:port.
 */
public final class AgentClient implements AutoCloseable {
    private final ActorSystem<Void> system;
    private final ActorRef<AgentProtocol.Command> agent;
    private final String address;

    private AgentClient(ActorSystem<Void> system, ActorRef<AgentProtocol.Command> agent, String address) {
        this.system = system;
        this.agent = agent;
        this.address = address;
    }

    /** hostPort: "host:port" of the agent's Artery endpoint. */
    public static AgentClient connect(Config base, ClusterKeys keys, String hostPort) throws IOException {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            throw new IOException("agent address must be HOST:PORT, got " + hostPort);
        }
        String host = hostPort.substring(0, colon);
        int port = Integer.parseInt(hostPort.substring(colon + 1));
        Config config = ConfigFactory.empty()
                .withValue("pekko.actor.provider", ConfigValueFactory.fromAnyRef("remote"))
                .withValue("pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(localAddressToward(host, port)))
                .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(0))
                // a short-lived client of one agent, not a member: that is the point of not joining
                .withValue("pekko.remote.warn-about-direct-use", ConfigValueFactory.fromAnyRef(false))
                .withValue("pekko.remote.warn-unsafe-watch-outside-cluster", ConfigValueFactory.fromAnyRef(false))
                // its connection closing at exit is expected, not worth a warning on the user's terminal
                .withValue("pekko.loglevel", ConfigValueFactory.fromAnyRef("ERROR"))
                .withFallback(keys.arteryTls())
                .withFallback(base);
        // started first: its handshake runs while the actor system starts
        CompletableFuture<String> refused = KeysProbe.refusal(keys.sslContext(), host, port, Duration.ofSeconds(20));
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "cryo-cli", config);
        String path = "pekko://" + AgentNode.SYSTEM + "@" + host + ":" + port + "/user";
        AgentClient client = new AgentClient(system, ActorRefResolver.get(system).resolveActorRef(path), host + ":" + port);
        try {
            client.greet(refused);
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        return client;
    }

    /**
     * Makes sure the TLS association stands before the real request goes out: a message queued
     * behind a handshake that times out (a busy host) is dropped, so a lost Describe is retried.
     * An agent that refuses our keys is reported as such at once ({@link KeysProbe}).
     */
    private void greet(CompletableFuture<String> refused) throws IOException {
        IOException last = null;
        for (int attempt = 0; attempt < GREETINGS; attempt++) {
            try {
                ask(AgentProtocol.Describe::new, Duration.ofSeconds(20), refused);
                return;
            } catch (IOException e) {
                last = e;
                if (refused.isDone()) break;
            }
        }
        throw last;
    }

    private static final int GREETINGS = 3;

    /** The address the agent reaches us at: the one our route to it leaves from. */
    private static String localAddressToward(String host, int port) throws IOException {
        try (DatagramSocket s = new DatagramSocket()) {
            s.connect(new InetSocketAddress(host, port));
            return s.getLocalAddress().getHostAddress();
        }
    }

    /** Asks the agent; a missing answer is reported as "no agent answering at ...". */
    public <R> R ask(Function<ActorRef<R>, AgentProtocol.Command> message, Duration timeout) throws IOException {
        return ask(message, timeout, new CompletableFuture<>());
    }

    /** As {@link #ask(Function, Duration)}, ended early by {@code refused} (the reason why no answer can come). */
    private <R> R ask(Function<ActorRef<R>, AgentProtocol.Command> message, Duration timeout,
                      CompletableFuture<String> refused) throws IOException {
        try {
            CompletableFuture<R> answer = AskPattern.<AgentProtocol.Command, R>ask(agent, message::apply, timeout,
                    system.scheduler()).toCompletableFuture();
            Object first = CompletableFuture.anyOf(answer, refused).get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
            if (refused.isDone() && !answer.isDone()) {
                throw new IOException((String) first);
            }
            return answer.get();
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("no answer from an agent at " + address + " within " + timeout.toSeconds()
                    + " s (is `cryo agent` running there, with the same keys?)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    @Override
    public void close() {
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // exiting anyway
        }
    }
}
