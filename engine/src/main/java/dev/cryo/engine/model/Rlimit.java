package dev.cryo.engine.model;

/** One resource limit; -1 is RLIM_INFINITY. */
public record Rlimit(int resource, long soft, long hard) {}
