package dev.cryo.kernel.proc;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * /proc/PID/status: every "Key:\tvalue" line in file order, plus typed views of the keys cryo
 * dumps. Unknown keys are kept, not rejected, since each kernel release adds some. Signal and
 * capability masks are the 64-bit hex masks as printed.
 */
public record ProcStatus(
        Map<String, String> fields, String name, int umask, char state, int tgid, int pid, int ppid,
        int tracerPid, IdSet uids, IdSet gids, List<Integer> groups, List<Integer> nsTgid, List<Integer> nsPid,
        int threads, long sigPnd, long shdPnd, long sigBlk, long sigIgn, long sigCgt,
        long capInh, long capPrm, long capEff, long capBnd, long capAmb, boolean noNewPrivs, int seccomp) {

    public ProcStatus {
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    public static ProcStatus parse(String text) {
        return parse("status", text);
    }

    public static ProcStatus parse(String path, String text) {
        Map<String, String> fields = new LinkedHashMap<>();
        Map<String, Integer> lineOf = new HashMap<>();
        List<String> lines = Text.lines(text);
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            int colon = l.indexOf(':');
            if (colon <= 0) {
                throw ProcFormatException.at(path, i + 1, "expected 'Key:<tab>value', found '" + l + "'");
            }
            String key = l.substring(0, colon);
            String value = l.substring(colon + 1);
            // The task name keeps its own spaces; only the tab after the colon is layout.
            value = key.equals("Name") ? (value.startsWith("\t") ? value.substring(1) : value) : value.trim();
            if (fields.putIfAbsent(key, value) != null) {
                throw ProcFormatException.at(path, i + 1, "key '" + key + "' appears twice");
            }
            lineOf.put(key, i + 1);
        }
        Reader r = new Reader(path, fields, lineOf);
        String state = r.get("State");
        if (state.isEmpty()) {
            throw ProcFormatException.at(path, lineOf.get("State"), "State: empty");
        }
        String noNewPrivs = r.get("NoNewPrivs");
        if (!noNewPrivs.equals("0") && !noNewPrivs.equals("1")) {
            throw ProcFormatException.at(path, lineOf.get("NoNewPrivs"), "NoNewPrivs: expected 0 or 1, found '"
                    + noNewPrivs + "'");
        }
        return new ProcStatus(fields, r.get("Name"), (int) r.octal("Umask"),
                state.charAt(0), r.i("Tgid"), r.i("Pid"), r.i("PPid"), r.i("TracerPid"), r.ids("Uid"), r.ids("Gid"),
                r.list("Groups"), r.list("NStgid"), r.list("NSpid"), r.i("Threads"),
                r.hex("SigPnd"), r.hex("ShdPnd"), r.hex("SigBlk"), r.hex("SigIgn"), r.hex("SigCgt"),
                r.hex("CapInh"), r.hex("CapPrm"), r.hex("CapEff"), r.hex("CapBnd"), r.hex("CapAmb"),
                noNewPrivs.equals("1"), r.i("Seccomp"));
    }

    /** Whether {@code signal} is pending for the process (ShdPnd) or this thread (SigPnd). */
    public boolean pending(int signal) {
        return ((shdPnd | sigPnd) & (1L << (signal - 1))) != 0;
    }

    /** The text of any key, e.g. "VmRSS" → "1720 kB". */
    public Optional<String> value(String key) {
        return Optional.ofNullable(fields.get(key));
    }

    private record Reader(String path, Map<String, String> fields, Map<String, Integer> lineOf) {
        String get(String key) {
            String v = fields.get(key);
            if (v == null) {
                throw ProcFormatException.of(path, "missing '" + key + ":' line");
            }
            return v;
        }

        int line(String key) {
            get(key);
            return lineOf.get(key);
        }

        int i(String key) {
            return Text.decInt(path, line(key), key, get(key));
        }

        long hex(String key) {
            return Text.hex(path, line(key), key, get(key));
        }

        long octal(String key) {
            return Text.octal(path, line(key), key, get(key));
        }

        List<Integer> list(String key) {
            return Text.intList(path, line(key), key, get(key));
        }

        IdSet ids(String key) {
            List<Integer> ids = list(key);
            if (ids.size() != 4) {
                throw ProcFormatException.at(path, line(key), key + ": expected 4 ids, found " + ids.size());
            }
            return new IdSet(ids.get(0), ids.get(1), ids.get(2), ids.get(3));
        }
    }
}
