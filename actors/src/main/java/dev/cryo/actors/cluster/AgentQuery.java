package dev.cryo.actors.cluster;

import dev.cryo.actors.cluster.AgentProtocol.AgentList;
import dev.cryo.actors.cluster.AgentProtocol.Description;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.Cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Asks every known agent for its name and the lazy restores it serves (one timeout for all), then lists the
 * members with their names.
 */
final class AgentQuery {
    interface Command {}

    private record Answer(Description d) implements Command {}

    private record Timeout() implements Command {}

    static Behavior<Command> create(Set<ActorRef<AgentProtocol.Command>> agents, Cluster cluster, ActorRef<AgentList> replyTo) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            ActorRef<Description> adapter = ctx.messageAdapter(Description.class, Answer::new);
            agents.forEach(a -> a.tell(new AgentProtocol.Describe(adapter)));
            timers.startSingleTimer(new Timeout(), Duration.ofSeconds(3));
            Map<String, String> names = new HashMap<>();
            List<AgentProtocol.LazyServed> lazy = new ArrayList<>();
            int[] pending = {agents.size()};
            if (pending[0] == 0) {
                replyTo.tell(list(cluster, names, lazy));
                return Behaviors.stopped();
            }
            return Behaviors.receive(Command.class)
                    .onMessage(Answer.class, m -> {
                        names.put(m.d().address(), m.d().name());
                        lazy.addAll(m.d().lazy());
                        if (--pending[0] > 0) {
                            return Behaviors.same();
                        }
                        replyTo.tell(list(cluster, names, lazy));
                        return Behaviors.stopped();
                    })
                    .onMessage(Timeout.class, m -> {
                        replyTo.tell(list(cluster, names, lazy));
                        return Behaviors.stopped();
                    })
                    .build();
        }));
    }

    private static AgentList list(Cluster cluster, Map<String, String> names, List<AgentProtocol.LazyServed> lazy) {
        List<String> n = new ArrayList<>(), a = new ArrayList<>(), s = new ArrayList<>();
        Set<Member> unreachable = cluster.state().getUnreachable();
        for (Member m : cluster.state().getMembers()) {
            String addr = m.address().toString();
            n.add(names.getOrDefault(addr, "-"));
            a.add(addr);
            s.add(m.status().toString().toLowerCase(java.util.Locale.ROOT) + (unreachable.contains(m) ? ", unreachable" : ""));
        }
        return new AgentList(n, a, s, List.copyOf(lazy));
    }
}
