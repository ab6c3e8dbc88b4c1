package dev.cryo.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * CRIU's command-line habits, rewritten to cryo's before anything parses the line, so a user's
 * {@code criu dump -t PID -D DIR -j -v4 -o dump.log} works as {@code cryo dump ...}: CRIU's
 * options are all global and may follow the verb, cryo's logging options precede it; CRIU counts
 * verbosity as {@code -vN} (4 = debug), cryo as repeated {@code -v}; {@code -j} is
 * {@code --shell-job}. Anything else is left alone for picocli to judge.
 */
final class CriuHabits {
    private CriuHabits() {}

    static String[] normalize(String[] args) {
        int verb = CryoCli.subcommandIndex(args);
        List<String> global = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            boolean afterVerb = verb >= 0 && i > verb;
            if (a.equals("--")) { // everything after it is not ours to rewrite
                for (; i < args.length; i++) rest.add(args[i]);
                break;
            }
            if (a.matches("-v[0-9]")) {
                global.addAll(verbosity(a.charAt(2) - '0'));
            } else if (a.startsWith("--verbosity=") && a.substring(12).matches("[0-9]")) {
                global.addAll(verbosity(a.charAt(12) - '0'));
            } else if (afterVerb && a.matches("-v+")) {
                global.add(a);
            } else if (afterVerb && (a.equals("-o") || a.equals("--log-file")) && i + 1 < args.length) {
                global.add(a);
                global.add(args[++i]);
            } else if (afterVerb && a.startsWith("--log-file=")) {
                global.add(a);
            } else if (afterVerb && a.equals("-j")) {
                rest.add("--shell-job");
            } else {
                (i < verb || verb < 0 ? global : rest).add(a);
            }
        }
        global.addAll(rest);
        return global.toArray(String[]::new);
    }

    /** CRIU's levels: 0-2 errors and warnings (cryo's default), 3 info, 4 and up debug. */
    private static List<String> verbosity(int level) {
        return level <= 2 ? List.of() : List.of(level == 3 ? "-v" : "-vv");
    }
}
