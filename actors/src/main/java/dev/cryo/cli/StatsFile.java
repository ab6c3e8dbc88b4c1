package dev.cryo.cli;

import dev.cryo.engine.files.PrivateModes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Iterator;
import java.util.Map;

/**
 * A command's figures as JSON beside the image (stats.json, stats-restore.json), for scripts; 0600
 * like the image. Flat maps of numbers, booleans, strings and lists of them, written by hand in
 * Jackson's indented layout: starting Jackson cost a cold command more than the dump it reported.
 */
final class StatsFile {
    private StatsFile() {}

    static void write(Path file, Map<String, Object> figures) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PrivateModes.FILE_ATTRIBUTE);
        Files.writeString(file, render(figures) + "\n");
    }

    static String render(Map<String, Object> figures) {
        StringBuilder b = new StringBuilder("{\n");
        Iterator<Map.Entry<String, Object>> it = figures.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<String, Object> e = it.next();
            b.append("  ");
            string(b, e.getKey());
            b.append(" : ");
            value(b, e.getValue());
            b.append(it.hasNext() ? ",\n" : "\n");
        }
        return b.append('}').toString();
    }

    private static void value(StringBuilder b, Object v) {
        if (v == null || v instanceof Number || v instanceof Boolean) {
            b.append(v);
        } else if (v instanceof Collection<?> c) {
            if (c.isEmpty()) {
                b.append("[ ]");
                return;
            }
            b.append("[ ");
            Iterator<?> it = c.iterator();
            while (it.hasNext()) {
                value(b, it.next());
                b.append(it.hasNext() ? ", " : " ");
            }
            b.append(']');
        } else if (v instanceof CharSequence s) {
            string(b, s.toString());
        } else {
            throw new IllegalArgumentException("stats hold numbers, booleans, strings and lists: " + v.getClass());
        }
    }

    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
