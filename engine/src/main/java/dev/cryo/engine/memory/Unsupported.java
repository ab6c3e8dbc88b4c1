package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.function.BiPredicate;

/**
 * A kind of mapping cryo recognises but does not carry: the dump is refused, naming pid, mapping
 * and reason, before anything changes. Never written to an image (it has no id).
 */
final class Unsupported extends MemoryKind {
    private final BiPredicate<MapsEntry, SmapsEntry> which;
    private final String what;
    private final String reason;

    /** {@code what} names the object in the message before its path, e.g. "the SysV shared memory segment". */
    Unsupported(String name, BiPredicate<MapsEntry, SmapsEntry> which, String what, String reason) {
        super(-1, name);
        this.which = which;
        this.what = what;
        this.reason = reason;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return which.test(m, s);
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        throw new DumpException("pid " + pid + " maps " + what + " " + (m.path().isEmpty() ? "(anonymous)" : m.path())
                + " at 0x" + Long.toHexString(m.start()) + "-0x" + Long.toHexString(m.end()) + ": " + reason);
    }
}
