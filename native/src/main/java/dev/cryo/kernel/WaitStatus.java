package dev.cryo.kernel;


/** A decoded wait status of a traced thread. */
public record WaitStatus(int tid, int raw) {
    public static final int SYSCALL_TRAP = Signals.SIGTRAP | 0x80;
    /** PTRACE_EVENT_STOP. */
    public static final int EVENT_STOP = 128;

    public boolean exited() {
        return (raw & 0x7f) == 0;
    }

    public int exitCode() {
        return (raw >> 8) & 0xff;
    }

    public boolean killed() {
        return (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f;
    }

    public int termSignal() {
        return raw & 0x7f;
    }

    public boolean stopped() {
        return (raw & 0xff) == 0x7f;
    }

    public int stopSignal() {
        return (raw >> 8) & 0xff;
    }

    /** The PTRACE_EVENT_* number of an event stop, 0 otherwise. */
    public int event() {
        return stopped() ? (raw >>> 16) & 0xff : 0;
    }

    public boolean isSyscallStop() {
        return stopped() && stopSignal() == SYSCALL_TRAP;
    }

    /** PTRACE_EVENT_STOP: after PTRACE_INTERRUPT or a group-stop of a seized task. */
    public boolean isEventStop() {
        return event() == EVENT_STOP;
    }

    public boolean gone() {
        return exited() || killed();
    }

    @Override
    public String toString() {
        if (exited()) {
            return "exited with status " + exitCode();
        }
        if (killed()) {
            return "killed by " + Signals.name(termSignal());
        }
        if (isSyscallStop()) {
            return "syscall stop";
        }
        if (event() != 0) {
            return "event stop " + event() + " (" + Signals.name(stopSignal()) + ")";
        }
        return "stopped by " + Signals.name(stopSignal());
    }
}
