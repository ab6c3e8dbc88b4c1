package dev.cryo.engine.show;

import java.util.LinkedHashMap;
import java.util.Map;

/** How {@code cryo show} prints numbers, for every renderer (tasks, fd handlers). */
public final class ShowFormat {
    private ShowFormat() {}

    public static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    public static String octal(int v) {
        return "0" + Integer.toOctalString(v);
    }

    /** Map.of has no stable order; printed JSON should. */
    public static Map<String, Object> ordered(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return m;
    }
}
