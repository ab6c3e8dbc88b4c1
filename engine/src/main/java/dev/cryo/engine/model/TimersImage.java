package dev.cryo.engine.model;

import java.util.List;

/** The timers of a process: its three interval timers and its POSIX timers. */
public record TimersImage(List<ItimerImage> itimers, List<PosixTimerImage> posixTimers) {
    public TimersImage {
        itimers = List.copyOf(itimers);
        posixTimers = List.copyOf(posixTimers);
    }

    public static final TimersImage NONE = new TimersImage(List.of(), List.of());
}
