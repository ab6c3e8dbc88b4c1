package dev.cryo.actors;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.Map;

/**
 * Every log line an actor of one task writes — and whatever the engine logs on its thread while
 * it handles a message — carries the pid it is about (MDC key {@code pid}, shown by the CLI's
 * log pattern), so a log of a whole tree can be read task by task.
 */
public final class PidMdc {
    private PidMdc() {}

    public static final String KEY = "pid";

    public static <T> Behavior<T> of(Class<T> messages, int pid, Behavior<T> behavior) {
        return Behaviors.withMdc(messages, Map.of(KEY, Integer.toString(pid)), behavior);
    }
}
