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
        long inside = InsideUid.of(t.pid().toString(), want, "its login uid"); // read in the writer's user namespace
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
}
