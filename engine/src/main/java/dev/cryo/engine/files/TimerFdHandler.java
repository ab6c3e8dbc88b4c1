package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Sys;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * timerfd: clock, time left, period, settime flags and unread expirations come from fdinfo; restore
 * arms a new timer with the time that was left and puts the unread expirations back with
 * TFD_IOC_SET_TICKS. A timer set with an absolute time keeps its flags (a program that asked for
 * {@code TFD_TIMER_CANCEL_ON_SET} learns of clock changes by them); on a realtime clock it keeps its
 * very deadline, a wall-clock time the program chose.
 */
public final class TimerFdHandler implements FdHandler<TimerFdHandler.TimerFd> {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TimerFdHandler.class);
    public static final int TAG = 5, RECORD_ID = 115;
    private static final long TFD_IOC_SET_TICKS = 0x40085400L;
    static final int TFD_TIMER_ABSTIME = 1, TFD_TIMER_CANCEL_ON_SET = 2;
    private static final int CANCEL_ON_SET_ABS = TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET;
    private static final int CLOCK_REALTIME = 0, CLOCK_REALTIME_ALARM = 8;
    private static final Pattern PAIR = Pattern.compile("\\(\\s*(\\d+),\\s*(\\d+)\\)");

    /**
     * A timerfd: its clock, expirations not read yet, the time left to the next expiry and the
     * period (relative, as /proc gives them; zero value = disarmed), the flags of its last
     * timerfd_settime, and for an absolute timer on a realtime clock its deadline on that clock
     * (0 otherwise).
     */
    public record TimerFd(int clockId, long ticks, long valueSec, long valueNsec, long intervalSec, long intervalNsec,
                          int settimeFlags, long deadlineNanos) implements FileDesc {}

    static final RecordCodec<TimerFd> CODEC = RecordCodec.of(TimerFd.class, RECORD_ID, 2, (out, t) -> {
        out.writeVarInt(t.clockId(), true);
        out.writeLong(t.ticks());
        out.writeLong(t.valueSec());
        out.writeLong(t.valueNsec());
        out.writeLong(t.intervalSec());
        out.writeLong(t.intervalNsec());
        out.writeVarInt(t.settimeFlags(), true);
        out.writeLong(t.deadlineNanos());
    }, (in, version) -> new TimerFd(in.readVarInt(true), in.readLong(), in.readLong(), in.readLong(), in.readLong(),
            in.readLong(), version >= 2 ? in.readVarInt(true) : 0, version >= 2 ? in.readLong() : 0));

    @Override
    public String kind() {
        return "timerfd";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<TimerFd> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[timerfd]");
    }

    @Override
    public TimerFd dump(FdProbe fd, DumpContext ctx) {
        ctx.requireUnshared(fd, kind());
        long[] value = pair(fd, "it_value");
        long[] interval = pair(fd, "it_interval");
        int clock = Integer.parseInt(field(fd, "clockid"));
        int flags = Integer.parseInt(field(fd, "settime flags"), 8);
        boolean armed = value[0] != 0 || value[1] != 0;
        long ticks = Long.parseUnsignedLong(field(fd, "ticks"));
        if ((armed ? ticks > 0 : ticks > 1) && realtime(clock) && (flags & CANCEL_ON_SET_ABS) == CANCEL_ON_SET_ABS) {
            // a clock set bumps the ticks of a cancel-on-set timer (an expiry gives one tick and
            // stops it) and makes its next read fail with ECANCELED; only another clock set makes a
            // new timerfd do that
            throw new dev.cryo.engine.DumpException(fd.where() + ": timerfd was cancelled by a set of the"
                    + " realtime clock and the program has not read it yet; a restore cannot make the kernel"
                    + " report that again: dump once the program has read it (it is woken for that)");
        }
        long deadline = (flags & TFD_TIMER_ABSTIME) != 0 && armed && realtime(clock)
                ? Sys.clockNanos(clock) + value[0] * 1_000_000_000L + value[1] : 0;
        return new TimerFd(clock, ticks, value[0], value[1], interval[0],
                interval[1], flags, deadline);
    }

    private static boolean realtime(int clock) {
        return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_ALARM;
    }

    private static String field(FdProbe fd, String key) {
        return fd.info().value(key).orElseThrow(() -> new IllegalStateException(
                fd.where() + ": fdinfo has no " + key)).trim();
    }

    private static long[] pair(FdProbe fd, String key) {
        Matcher m = PAIR.matcher(field(fd, key));
        if (!m.find()) {
            throw new IllegalStateException(fd.where() + ": cannot read " + key + " in fdinfo");
        }
        return new long[]{Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
    }

    @Override
    public long restore(FdImage fd, TimerFd t, RestoreContext ctx) {
        long tfd = ctx.call("timerfd_create", SyscallNr.TIMERFD_CREATE, t.clockId(),
                fd.flags() & (Fcntl.O_NONBLOCK | Fcntl.O_CLOEXEC));
        arm(tfd, t, ctx::put, ctx::call); // armed again at the end of the restore if a task holds it (rearm)
        return tfd;
    }

    /**
     * Arms each timerfd of the task's fd table again with the time it had left, at the very end of
     * the restore (TimerArming): armed at FILES, it would run during the rest of the restore and
     * fire up to the restore's length early as the program sees it (BEAM's scheduler timer). A
     * timerfd only in flight in a unix message keeps the arming {@link #restore} gave it.
     */
    public static void rearm(dev.cryo.engine.restore.stage.TaskContext t) {
        java.util.Set<Integer> done = new java.util.HashSet<>();
        for (FdImage f : t.task().fds()) {
            if (f.desc() instanceof TimerFd tf && done.add(f.fd())) {
                arm(f.fd(), tf, t::put, t::call);
            }
        }
    }

    private interface Call {
        long call(String name, int nr, long... args);
    }

    /**
     * timerfd_settime with the time left and the dumped flags (setting it clears the expirations),
     * then the unread expirations. An absolute timer gets its deadline again: the dumped one on a
     * realtime clock, otherwise the time left counted from now on its clock.
     */
    private static void arm(long tfd, TimerFd t, java.util.function.Function<byte[], Long> put, Call ctx) {
        // a periodic timer that has just expired shows no time left (its next expiry is set when
        // the program reads it): give it one period, since a zero value would disarm it
        boolean expired = t.valueSec() == 0 && t.valueNsec() == 0;
        long value = expired ? t.intervalSec() * 1_000_000_000L + t.intervalNsec()
                : t.valueSec() * 1_000_000_000L + t.valueNsec();
        if (value != 0) {
            boolean absolute = (t.settimeFlags() & TFD_TIMER_ABSTIME) != 0;
            if (absolute) {
                value = t.deadlineNanos() != 0 && !expired ? t.deadlineNanos() : Sys.clockNanos(t.clockId()) + value;
            }
            long spec = put.apply(ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN).putLong(t.intervalSec())
                    .putLong(t.intervalNsec()).putLong(value / 1_000_000_000L).putLong(value % 1_000_000_000L).array());
            try {
                ctx.call("timerfd_settime", SyscallNr.TIMERFD_SETTIME, tfd, t.settimeFlags(), spec, 0);
            } catch (dev.cryo.kernel.SyscallException e) {
                // the realtime clock was set since the restore armed this cancel-on-set timer at
                // FILES: the kernel arms it all the same and tells the caller (timerfd_create(2),
                // NOTES). The program was stopped then, as during the whole checkpoint: it learns
                // of clock sets from now on, its deadline stays the wall-clock time it chose
                if (!e.is(dev.cryo.kernel.Errno.ECANCELED)) {
                    throw e;
                }
                log.info(
                        "the realtime clock was set during the restore; timerfd {} armed again at its deadline", tfd);
            }
        }
        if (t.ticks() > 0) {
            long ticks = put.apply(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(t.ticks()).array());
            ctx.call("ioctl(TFD_IOC_SET_TICKS)", SyscallNr.IOCTL, tfd, TFD_IOC_SET_TICKS, ticks);
        }
    }

    @Override
    public void show(TimerFd t, Map<String, Object> m) {
        m.put("kind", "timerfd");
        m.put("clockId", t.clockId());
        m.put("ticks", t.ticks());
        m.put("value", t.valueSec() + "." + String.format("%09d", t.valueNsec()));
        m.put("interval", t.intervalSec() + "." + String.format("%09d", t.intervalNsec()));
        if (t.settimeFlags() != 0) {
            m.put("settimeFlags", t.settimeFlags());
        }
        if (t.deadlineNanos() != 0) {
            m.put("deadline", t.deadlineNanos() / 1_000_000_000L + "." + String.format("%09d", t.deadlineNanos() % 1_000_000_000L));
        }
    }
}
