package dev.cryo.kernel.proc;

import java.util.ArrayList;
import java.util.List;

/** Line splitting and number parsing that report the path and line on failure. */
final class Text {
    private Text() {}

    /** The lines of {@code text}; a final newline does not make an extra empty line. */
    static List<String> lines(String text) {
        List<String> out = new ArrayList<>();
        int from = 0;
        while (from < text.length()) {
            int nl = text.indexOf('\n', from);
            if (nl < 0) {
                out.add(text.substring(from));
                break;
            }
            out.add(text.substring(from, nl));
            from = nl + 1;
        }
        return out;
    }

    /** Reads one row of a table, its fields split on spaces; may throw any RuntimeException on a bad field. */
    interface Row {
        void parse(String[] fields);
    }

    /**
     * The rows of a /proc/net table (its first line a header, blank lines skipped), each with at
     * least {@code minFields} fields; a short row, or one {@code row} throws on, fails naming path and line.
     */
    static void tableRows(String path, String text, int minFields, Row row) {
        List<String> lines = lines(text);
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\\s+");
            if (f.length < minFields) {
                throw ProcFormatException.at(path, i + 1, f.length + " fields, expected at least " + minFields);
            }
            try {
                row.parse(f);
            } catch (RuntimeException e) {
                throw ProcFormatException.at(path, i + 1, "cannot parse '" + line + "': " + e.getMessage());
            }
        }
    }

    /** Splits on runs of spaces and tabs; no empty tokens. */
    static List<String> tokens(String s) {
        List<String> out = new ArrayList<>();
        for (String t : s.trim().split("[ \t]+")) {
            if (!t.isEmpty()) {
                out.add(t);
            }
        }
        return out;
    }

    static int decInt(String path, int line, String what, String token) {
        try {
            return Integer.parseInt(token);
        } catch (NumberFormatException e) {
            throw bad(path, line, what, "a decimal int", token);
        }
    }

    static long decLong(String path, int line, String what, String token) {
        try {
            return Long.parseLong(token);
        } catch (NumberFormatException e) {
            throw bad(path, line, what, "a decimal number", token);
        }
    }

    /** u64 values such as addresses and rsslim: the bit pattern, compare with Long.compareUnsigned. */
    static long decUnsigned(String path, int line, String what, String token) {
        try {
            return Long.parseUnsignedLong(token);
        } catch (NumberFormatException e) {
            throw bad(path, line, what, "an unsigned decimal number", token);
        }
    }

    static long hex(String path, int line, String what, String token) {
        try {
            return Long.parseUnsignedLong(token, 16);
        } catch (NumberFormatException e) {
            throw bad(path, line, what, "a hex number", token);
        }
    }

    static long octal(String path, int line, String what, String token) {
        try {
            return Long.parseUnsignedLong(token, 8);
        } catch (NumberFormatException e) {
            throw bad(path, line, what, "an octal number", token);
        }
    }

    /** A space separated list of decimal ints; empty text is an empty list. */
    static List<Integer> intList(String path, int line, String what, String value) {
        List<Integer> out = new ArrayList<>();
        for (String t : tokens(value)) {
            out.add(decInt(path, line, what, t));
        }
        return List.copyOf(out);
    }

    private static ProcFormatException bad(String path, int line, String what, String expected, String token) {
        return ProcFormatException.at(path, line, what + ": expected " + expected + ", found '" + token + "'");
    }
}
