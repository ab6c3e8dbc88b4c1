package dev.cryo.actors;

/** Failure text that crosses actor boundaries: never "null" — an exception without a message is named by its type. */
public final class Failures {
    private Failures() {}

    public static String describe(Throwable e) {
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }
}
