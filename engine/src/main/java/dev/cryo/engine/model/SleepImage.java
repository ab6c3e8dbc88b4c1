package dev.cryo.engine.model;

/**
 * A thread the dump found inside a relative sleep (nanosleep, or clock_nanosleep without
 * TIMER_ABSTIME) that the kernel would resume through its restart block: the syscall, the clock
 * and the time that was left, which the restore arms again so the sleep ends when it would have
 * (-1: not known, the sleep runs again whole).
 */
public record SleepImage(int syscall, int clockId, long remainingNsec) {}
