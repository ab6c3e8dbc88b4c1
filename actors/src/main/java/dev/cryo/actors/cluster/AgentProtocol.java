package dev.cryo.actors.cluster;

import org.apache.pekko.actor.typed.ActorRef;

import java.util.List;

/**
 * The messages that cross the network between agents and between the CLI and its agent, all
 * serialized by {@link AgentSerializer} (no Java serialization). Only members holding the
 * cluster's keys can send them at all: Artery runs over mutually authenticated TLS.
 */
public final class AgentProtocol {
    private AgentProtocol() {}

    /** Marker bound to {@link AgentSerializer} in the agent's configuration. */
    public interface Wire {}

    /** Anything an agent accepts. */
    public interface Command {}

    /** Who is this agent: its name, its Artery address and its page channel. */
    public record Describe(ActorRef<Description> replyTo) implements Command, Wire {}

    /** {@code lazy}: the lazy restores this agent serves the pages of now. */
    public record Description(String name, String address, String dataHost, int dataPort, List<LazyServed> lazy)
            implements Wire {
        public Description(String name, String address, String dataHost, int dataPort) {
            this(name, address, dataHost, dataPort, List.of());
        }
    }

    /**
     * A lazy restore an agent serves ({@code restore -d --lazy-pages} through it): the restored tree's root,
     * its pages in so far of those to come, since when it runs (epoch ms) and its image.
     */
    public record LazyServed(String agent, int rootPid, long pagesIn, long pagesTotal, long sinceMillis, String imageDir) {}

    /** The cluster's agents as this agent sees them. */
    public record ListAgents(ActorRef<AgentList> replyTo) implements Command, Wire {}

    /**
     * One line per member: name (or "-" for a member that runs no agent), address, status; and the lazy
     * restores the agents that answered serve.
     */
    public record AgentList(List<String> names, List<String> addresses, List<String> statuses, List<LazyServed> lazy)
            implements Wire {}

    /** Move the tree rooted at pid to the agent named {@code to}. */
    /** {@code maxDowntimeMillis}: the pre-copy's bound on the frozen round (PreCopySettings#maxDowntime), -1: the agent's. */
    public record Migrate(int pid, String to, boolean preCopy, boolean tcpEstablished, long maxDowntimeMillis,
                          ActorRef<MigrateResult> replyTo) implements Command, Wire {}

    /**
     * How a migration ended. {@code roundBytes}: page bytes sent per pre-copy round, the frozen round
     * last, and {@code roundZeroPages} the pages of each sent without their bytes (zero or one byte repeated); {@code downtimeMillis}:
     * from the freeze on the source to the tree running on the destination, of which {@code frozenSendMillis}
     * until the last byte was sent and {@code restoreMillis} the destination's restore (from the last chunk in
     * to the tree running).
     */
    public record MigrateResult(boolean ok, String message, List<Long> roundBytes, long downtimeMillis,
                                long totalMillis, long bytes, List<Integer> pids, long frozenSendMillis,
                                long restoreMillis, List<Long> roundZeroPages) implements Wire {}

    /** Source → destination: get ready to receive image {@code id} on the page channel. */
    public record PrepareReceive(String id, ActorRef<ReceiveStatus> replyTo) implements Command, Wire {}

    /**
     * Destination → source: "ready" (with the page channel, and its host's profile as the message:
     * {@code HostProfile.encode}), then "running" (with the time from the last chunk in to the tree
     * running) or "failed".
     */
    public record ReceiveStatus(String id, String state, String message, String dataHost, int dataPort,
                                List<Integer> pids, long restoreMillis) implements Wire {}

    /** Source → destination: the migration failed on the source side; kill whatever was created for it. */
    public record Abandon(String id) implements Command, Wire {}
}
