package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.kernel.Sys;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The time namespaces one task made (unshare(CLONE_NEWTIME)): {@code own}, the one it is in, entered
 * through its time_for_children (null: its parent's); {@code forChildren}, one its children get and it
 * did not enter (null: its own). Each carries its CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets from the
 * host's clocks. {@code hostMonotonic}/{@code hostBoottime}: the host's clocks at the dump (ns), so a
 * restore on a host whose clocks are behind moves the offsets up by the difference: the clocks inside
 * never go back. On the host of the dump the offsets come back as they were.
 */
public record TimeNsImage(Offsets own, Offsets forChildren, long hostMonotonic, long hostBoottime) {
    /** CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets as /proc/PID/timens_offsets gives them (nsec in [0, 1e9)). */
    public record Offsets(long monotonicSec, long monotonicNsec, long boottimeSec, long boottimeNsec) {
        public Offsets {
            if (monotonicNsec < 0 || monotonicNsec >= NS || boottimeNsec < 0 || boottimeNsec >= NS) {
                throw new IllegalArgumentException("time namespace offsets: nanoseconds out of [0, 1e9)");
            }
        }

        /** Parses /proc/PID/timens_offsets ("monotonic S N" and "boottime S N" lines). */
        public static Offsets parse(String path, String text) {
            long[] v = new long[4];
            boolean mono = false, boot = false;
            for (String line : text.split("\n")) {
                String[] f = line.strip().split("\\s+");
                if (f.length != 3) {
                    continue;
                }
                int at = switch (f[0]) {
                    case "monotonic" -> 0;
                    case "boottime" -> 2;
                    default -> -1;
                };
                if (at < 0) {
                    continue;
                }
                try {
                    v[at] = Long.parseLong(f[1]);
                    v[at + 1] = Long.parseLong(f[2]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(path + ": unreadable line '" + line + "'");
                }
                mono |= at == 0;
                boot |= at == 2;
            }
            if (!mono || !boot) {
                throw new IllegalArgumentException(path + ": no monotonic or boottime line in '" + text.strip() + "'");
            }
            return new Offsets(v[0], v[1], v[2], v[3]);
        }

        /** These offsets, each moved up by what the clock went back since the dump ({@code behind*}, ns, >= 0). */
        Offsets later(long behindMonotonic, long behindBoottime) {
            long m = monotonicSec * NS + monotonicNsec + behindMonotonic, b = boottimeSec * NS + boottimeNsec + behindBoottime;
            return new Offsets(Math.floorDiv(m, NS), Math.floorMod(m, NS), Math.floorDiv(b, NS), Math.floorMod(b, NS));
        }

        /** What /proc/PID/timens_offsets takes: "clockid sec nsec" lines. */
        String text() {
            return MONOTONIC + " " + monotonicSec + " " + monotonicNsec + "\n" + BOOTTIME + " " + boottimeSec + " "
                    + boottimeNsec + "\n";
        }

        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("monotonic", monotonicSec + "." + String.format("%09d", monotonicNsec));
            m.put("boottime", boottimeSec + "." + String.format("%09d", boottimeNsec));
            return m;
        }
    }

    static final int MONOTONIC = 1, BOOTTIME = 7;
    private static final long NS = 1_000_000_000L;

    public TimeNsImage {
        if (own == null && forChildren == null) {
            throw new IllegalArgumentException("a time namespace image needs one namespace");
        }
    }

    /** {@code o} as this host must take it now: moved up by what the host's clocks are behind the dump's. */
    Offsets now(Offsets o) {
        long m = Sys.clockNanos(MONOTONIC), b = Sys.clockNanos(BOOTTIME);
        return o.later(Math.max(0, hostMonotonic - m), Math.max(0, hostBoottime - b));
    }

    /** Clock {@code clock} (MONOTONIC or BOOTTIME, ns) as the task in {@code own} read it at the dump. */
    long treeClockAtDump(int clock) {
        return clock == MONOTONIC ? hostMonotonic + own.monotonicSec() * NS + own.monotonicNsec()
                : hostBoottime + own.boottimeSec() * NS + own.boottimeNsec();
    }

    Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        if (own != null) {
            m.put("own", own.json());
        }
        if (forChildren != null) {
            m.put("forChildren", forChildren.json());
        }
        return m;
    }

    static void write(Output out, TimeNsImage t) {
        out.writeBoolean(t != null);
        if (t == null) {
            return;
        }
        writeOffsets(out, t.own());
        writeOffsets(out, t.forChildren());
        out.writeLong(t.hostMonotonic());
        out.writeLong(t.hostBoottime());
    }

    static TimeNsImage read(Input in) {
        if (!in.readBoolean()) {
            return null;
        }
        try {
            return new TimeNsImage(readOffsets(in), readOffsets(in), in.readLong(), in.readLong());
        } catch (IllegalArgumentException e) {
            throw new KryoException("NamespaceImage.time: " + e.getMessage());
        }
    }

    private static void writeOffsets(Output out, Offsets o) {
        out.writeBoolean(o != null);
        if (o != null) {
            out.writeLong(o.monotonicSec());
            out.writeLong(o.monotonicNsec());
            out.writeLong(o.boottimeSec());
            out.writeLong(o.boottimeNsec());
        }
    }

    private static Offsets readOffsets(Input in) {
        return in.readBoolean() ? new Offsets(in.readLong(), in.readLong(), in.readLong(), in.readLong()) : null;
    }
}
