package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;

import java.nio.charset.StandardCharsets;

/**
 * The audit login uid (/proc/PID/loginuid), which a restored task would otherwise inherit from
 * cryo: a daemon would come back as the login of whoever ran the restore, and audit records would
 * name that user. Only a task may write its own, so the write is injected; set before the
 * threads are made, which inherit it. The session id the kernel gives with it is new (CRIU's too).
 */
public final class AuditLoginUid implements StateStage {
    @Override
    public String name() {
        return "audit login uid";
    }

    @Override
    public void run(TaskContext t) {
        long want = t.task().security().loginuid();
        String path = "/proc/" + t.pid() + "/loginuid";
        long now;
        try {
            now = Long.parseLong(ProcFs.text(path).trim());
        } catch (RuntimeException noAudit) { // no audit support: nothing to carry, nothing inherited
            if (want == SecurityImage.LOGINUID_UNSET) {
                return;
            }
            throw new RestoreException("pid " + t.pid() + " had login uid " + want + ", and this kernel has no " + path);
        }
        if (now == want) {
            return;
        }
        long inside = inside(t.pid().toString(), want);
        long fd = t.open("/proc/self/loginuid", Fcntl.O_WRONLY | Fcntl.O_CLOEXEC);
        try {
            byte[] value = Long.toString(inside).getBytes(StandardCharsets.US_ASCII);
            t.call("write(/proc/self/loginuid, " + inside + ")", SyscallNr.WRITE, fd, t.put(value), value.length);
        } catch (SyscallException e) {
            throw new RestoreException("pid " + t.pid() + ": cannot set its login uid back to " + want + " (the restore"
                    + " inherits " + now + " from cryo): " + e.getMessage() + "; the audit login uid is immutable"
                    + " (audit --loginuid-immutable) or cryo lacks CAP_AUDIT_CONTROL");
        } finally {
            t.call("close", SyscallNr.CLOSE, fd);
        }
    }

    /**
     * Login uid {@code uid} (as cryo reads it) as the task names it: the kernel reads a value written to
     * /proc/self/loginuid in the writer's user namespace (zdtm's loginuid in its uns flavor).
     */
    static long inside(String pid, long uid) {
        String path = "/proc/" + pid + "/uid_map";
        for (String line : ProcFs.text(path).strip().split("\n")) {
            String[] f = line.trim().split("\\s+");
            long in = Long.parseLong(f[0]), out = Long.parseLong(f[1]), count = Long.parseLong(f[2]);
            if (uid >= out && uid - out < count) {
                return in + uid - out;
            }
        }
        throw new RestoreException("pid " + pid + ": its login uid " + uid + " is not in the uid map of its user"
                + " namespace (" + path + ")");
    }
}
