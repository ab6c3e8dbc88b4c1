package dev.cryo.engine.show;

import dev.cryo.engine.model.ItimerImage;
import dev.cryo.engine.model.PosixTimerImage;
import dev.cryo.engine.model.SchedImage;
import dev.cryo.engine.model.SleepImage;
import dev.cryo.engine.model.TimersImage;
import dev.cryo.kernel.Sched;

import java.util.LinkedHashMap;
import java.util.Map;

/** `cryo show` rendering of timers, scheduling state and interrupted sleeps. */
final class TimingJson {
    private TimingJson() {}

    static Map<String, Object> timers(TimersImage t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("itimers", t.itimers().stream().map(TimingJson::itimer).toList());
        m.put("posix", t.posixTimers().stream().map(TimingJson::posix).toList());
        return m;
    }

    private static Map<String, Object> itimer(ItimerImage i) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("which", ItimerImage.name(i.which()));
        m.put("value", i.valueSec() + "." + String.format("%06d", i.valueUsec()));
        m.put("interval", i.intervalSec() + "." + String.format("%06d", i.intervalUsec()));
        return m;
    }

    private static Map<String, Object> posix(PosixTimerImage p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", p.id());
        m.put("clockId", p.clockId());
        m.put("notify", notify(p.sigevNotify()));
        if ((p.sigevNotify() & PosixTimerImage.SIGEV_THREAD_ID) != 0) {
            m.put("tid", p.targetTid());
        }
        m.put("signal", p.signal());
        m.put("sigevValue", TaskJson.hex(p.sigevValue()));
        m.put("value", p.valueSec() + "." + String.format("%09d", p.valueNsec()));
        m.put("interval", p.intervalSec() + "." + String.format("%09d", p.intervalNsec()));
        m.put("overrun", p.overrun());
        if (p.signalPending()) {
            m.put("signalPendingWithOverrun", p.pendingOverrun());
        }
        return m;
    }

    private static String notify(int n) {
        String base = switch (n & ~PosixTimerImage.SIGEV_THREAD_ID) {
            case PosixTimerImage.SIGEV_SIGNAL -> "signal";
            case PosixTimerImage.SIGEV_NONE -> "none";
            default -> "notify " + n;
        };
        return (n & PosixTimerImage.SIGEV_THREAD_ID) != 0 ? base + "+thread_id" : base;
    }

    static Map<String, Object> sched(SchedImage s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("policy", Sched.Attr.policyName(s.policy()));
        m.put("resetOnFork", (s.flags() & Sched.FLAG_RESET_ON_FORK) != 0);
        m.put("flags", TaskJson.hex(s.flags()));
        m.put("nice", s.nice());
        m.put("priority", s.priority());
        if (s.policy() == Sched.SCHED_DEADLINE) {
            m.put("runtimeNs", s.runtime());
            m.put("deadlineNs", s.deadline());
            m.put("periodNs", s.period());
        }
        m.put("utilClamp", s.utilMin() + "-" + s.utilMax());
        m.put("affinity", Sched.cpuList(s.affinity()));
        m.put("timerSlackNs", s.timerSlackNs());
        m.put("ioprio", s.ioprio() == 0 ? "none" : ioprioClass(s.ioprio() >> 13) + "/" + (s.ioprio() & 0x1fff));
        return m;
    }

    private static String ioprioClass(int c) {
        return switch (c) {
            case 1 -> "realtime";
            case 2 -> "best-effort";
            case 3 -> "idle";
            default -> "class " + c;
        };
    }

    static Map<String, Object> sleep(SleepImage s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("syscall", s.syscall() == dev.cryo.kernel.SyscallNr.NANOSLEEP ? "nanosleep" : "clock_nanosleep");
        m.put("clockId", s.clockId());
        m.put("remaining", s.remainingNsec() < 0 ? "unknown"
                : s.remainingNsec() / 1_000_000_000L + "." + String.format("%09d", s.remainingNsec() % 1_000_000_000L));
        return m;
    }
}
