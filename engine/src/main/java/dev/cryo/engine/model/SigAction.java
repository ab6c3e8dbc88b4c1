package dev.cryo.engine.model;

/** The kernel's struct sigaction for one signal, as rt_sigaction returns it (restorer kept). */
public record SigAction(int signal, long handler, long flags, long restorer, long mask) {}
