package dev.cryo.kernel;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The syscalls cryo itself made through {@link LibC#syscall}, by number (every thread of the JVM):
 * a step's debug line says what it cost in calls ({@link #since}), which a test can pin where
 * wall-clock figures would not hold. Injected calls are not here: they are the tracee's.
 */
public final class OwnSyscalls {
    private static final int NUMBERS = 512;
    private static final AtomicLongArray COUNTS = new AtomicLongArray(NUMBERS);
    private static final String[] NAMES = names();

    private OwnSyscalls() {}

    static void count(long number) {
        if (number >= 0 && number < NUMBERS) {
            COUNTS.getAndIncrement((int) number);
        }
    }

    /** The counts so far, to give {@link #since} later. */
    public static long[] now() {
        long[] out = new long[NUMBERS];
        for (int i = 0; i < NUMBERS; i++) {
            out[i] = COUNTS.get(i);
        }
        return out;
    }

    /** How many calls of {@code number} were made since {@code before}. */
    public static long since(long[] before, int number) {
        return COUNTS.get(number) - before[number];
    }

    /** The calls made since {@code before}, most first: "4000 setsockopt, 2000 socket, 1 bind". */
    public static String since(long[] before) {
        List<long[]> made = new ArrayList<>();
        for (int i = 0; i < NUMBERS; i++) {
            long n = COUNTS.get(i) - before[i];
            if (n > 0) {
                made.add(new long[] {n, i});
            }
        }
        made.sort((a, b) -> Long.compare(b[0], a[0]));
        StringBuilder s = new StringBuilder();
        for (long[] m : made) {
            s.append(s.length() == 0 ? "" : ", ").append(m[0]).append(' ').append(name((int) m[1]));
        }
        return s.length() == 0 ? "no syscall" : s.toString();
    }

    private static String name(int number) {
        return NAMES[number] != null ? NAMES[number] : "syscall " + number;
    }

    /** {@link SyscallNr}'s constants, by number, in lower case as man pages name them. */
    private static String[] names() {
        String[] out = new String[NUMBERS];
        for (Field f : SyscallNr.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
                try {
                    int n = f.getInt(null);
                    if (n >= 0 && n < NUMBERS && out[n] == null) {
                        out[n] = f.getName().toLowerCase(java.util.Locale.ROOT);
                    }
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return out;
    }
}
