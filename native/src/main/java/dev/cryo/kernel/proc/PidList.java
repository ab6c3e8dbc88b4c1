package dev.cryo.kernel.proc;

import dev.cryo.kernel.Pid;

import java.util.ArrayList;
import java.util.List;

/** Space separated pids, as in /proc/PID/task/TID/children. */
public final class PidList {
    private PidList() {}

    /** The pids in file order; empty text (no children) is an empty list. */
    public static List<Pid> parse(String path, String text) {
        List<String> lines = Text.lines(text);
        if (lines.size() > 1) {
            throw ProcFormatException.at(path, 2, "expected a single line of pids");
        }
        List<Pid> out = new ArrayList<>();
        for (String t : Text.tokens(lines.isEmpty() ? "" : lines.get(0))) {
            int v = Text.decInt(path, 1, "pid", t);
            if (v <= 0) {
                throw ProcFormatException.at(path, 1, "pid: expected a positive number, found '" + t + "'");
            }
            out.add(Pid.of(v));
        }
        return List.copyOf(out);
    }
}
