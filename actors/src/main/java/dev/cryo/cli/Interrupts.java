package dev.cryo.cli;

import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * SIGINT and SIGTERM while a command runs: instead of the JVM's exit, which would let the kernel
 * detach the tree wherever cryo was (held signals lost, images half written), the command is told
 * and winds down cleanly. The previous handlers come back on close (the CLI also runs in tests).
 */
final class Interrupts implements AutoCloseable {
    private static final String[] SIGNALS = {"INT", "TERM"};

    private final Map<Signal, SignalHandler> previous = new LinkedHashMap<>();
    private volatile Signal received;

    /** {@code action} gets e.g. "SIGTERM" once, on the first of the signals. */
    static Interrupts handle(Consumer<String> action) {
        Interrupts in = new Interrupts();
        for (String name : SIGNALS) {
            Signal sig = new Signal(name);
            in.previous.put(sig, Signal.handle(sig, s -> {
                if (in.received == null) {
                    in.received = s;
                    action.accept("SIG" + s.getName());
                }
            }));
        }
        return in;
    }

    /** "SIGTERM", or null when no signal came. */
    String received() {
        Signal s = received;
        return s == null ? null : "SIG" + s.getName();
    }

    /** The shell's status for death by that signal: 128 + its number. */
    int exitCode() {
        return 128 + received.getNumber();
    }

    @Override
    public void close() {
        previous.forEach(Signal::handle);
    }
}
