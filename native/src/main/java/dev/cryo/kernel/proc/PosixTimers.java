package dev.cryo.kernel.proc;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * /proc/PID/timers: the POSIX timers of a process (shared by its threads), four lines each, as
 * fs/proc/base.c prints them:
 * <pre>
 * ID: 0
 * signal: 10/000000001234abcd      signo / sigev_value as a pointer in hex
 * notify: signal/tid.4242          sigev_notify without SIGEV_THREAD_ID / "tid" when it is set . target
 * ClockID: 1                       may be negative: a CPU clock of some pid or tid
 * </pre>
 * The time left, interval and overrun are not shown here; cryo asks the process itself.
 */
public record PosixTimers(List<Timer> timers) {
    public static final int SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD = 2, SIGEV_THREAD_ID = 4;

    /** {@code notify} is the kernel's sigev_notify (SIGEV_THREAD_ID included); {@code target} the pid or tid. */
    public record Timer(int id, int signal, long sigevValue, int sigevNotify, int target, int clockId) {
        public boolean toThread() {
            return (sigevNotify & SIGEV_THREAD_ID) != 0;
        }
    }

    private static final Pattern ID = Pattern.compile("ID: (-?\\d+)");
    private static final Pattern SIGNAL = Pattern.compile("signal: (\\d+)/([0-9a-f]{1,16})");
    private static final Pattern NOTIFY = Pattern.compile("notify: (signal|none|thread)/(pid|tid)\\.(\\d+)");
    private static final Pattern CLOCK = Pattern.compile("ClockID: (-?\\d+)");

    public PosixTimers {
        timers = List.copyOf(timers);
    }

    public static PosixTimers parse(String path, String text) {
        List<String> lines = Text.lines(text);
        if (lines.size() % 4 != 0) {
            throw ProcFormatException.of(path, lines.size() + " lines: expected four per timer");
        }
        List<Timer> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i += 4) {
            Matcher id = match(path, i + 1, ID, lines.get(i));
            Matcher sig = match(path, i + 2, SIGNAL, lines.get(i + 1));
            Matcher notify = match(path, i + 3, NOTIFY, lines.get(i + 2));
            Matcher clock = match(path, i + 4, CLOCK, lines.get(i + 3));
            int how = switch (notify.group(1)) {
                case "signal" -> SIGEV_SIGNAL;
                case "none" -> SIGEV_NONE;
                default -> SIGEV_THREAD;
            };
            if (notify.group(2).equals("tid")) {
                how |= SIGEV_THREAD_ID;
            }
            out.add(new Timer(Integer.parseInt(id.group(1)), Integer.parseInt(sig.group(1)),
                    Long.parseUnsignedLong(sig.group(2), 16), how, Integer.parseInt(notify.group(3)),
                    Integer.parseInt(clock.group(1))));
        }
        return new PosixTimers(out);
    }

    private static Matcher match(String path, int line, Pattern p, String text) {
        Matcher m = p.matcher(text.strip());
        if (!m.matches()) {
            throw ProcFormatException.at(path, line, "expected '" + p.pattern().replaceAll("[(\\\\].*", "")
                    + "...', found '" + text + "'");
        }
        return m;
    }
}
