package dev.cryo.engine.model;

/**
 * Per-thread security state (the kernel keeps credentials per thread): the five capability sets,
 * securebits, no_new_privs, the seccomp mode and, in filter mode, the index of the thread's newest
 * filter in its task's {@link SecurityImage#seccompFilters()} (-1 when it has none), and the
 * thread's ids when they are not its task's ({@code ownIds} null: the task's {@link Creds}).
 */
public record ThreadSecurity(long capInh, long capPrm, long capEff, long capBnd, long capAmb, int securebits,
                             boolean noNewPrivs, int seccompMode, int seccompFilter, ThreadIds ownIds) {
    /** A thread with its task's ids. */
    public ThreadSecurity(long capInh, long capPrm, long capEff, long capBnd, long capAmb, int securebits,
                          boolean noNewPrivs, int seccompMode, int seccompFilter) {
        this(capInh, capPrm, capEff, capBnd, capAmb, securebits, noNewPrivs, seccompMode, seccompFilter, null);
    }
}
