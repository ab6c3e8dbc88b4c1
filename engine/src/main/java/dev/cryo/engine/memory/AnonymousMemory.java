package dev.cryo.engine.memory;

import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.function.Predicate;

/**
 * Private anonymous memory: plain, the heap, a stack. Present and swapped pages are carried; the
 * rest reads zero after restore as before.
 */
public final class AnonymousMemory extends MemoryKind {
    private final Predicate<MapsEntry> which;

    AnonymousMemory(int id, String name, Predicate<MapsEntry> which) {
        super(id, name);
        this.which = which;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return !m.shared() && m.isAnonymous() && which.test(m);
    }

    @Override
    public void planPages(PageScan scan) {
        scan.presentPages();
    }
}
