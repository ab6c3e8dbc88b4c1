package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.model.ThreadNs;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

import java.nio.charset.StandardCharsets;

/**
 * The restore half of the namespaces a thread made or entered alone ({@link ThreadNs}): the thread, made in its
 * process's, unshares a uts namespace and names it, and joins the net namespace bound on the host at its path
 * (cryo opens it, the task takes the fd), or unshares a net namespace of its own and brings its lo up as it was,
 * a cgroup namespace and an empty ipc namespace of its own, while still privileged.
 */
public final class ThreadNsRestore implements StateStage {
    @Override
    public String name() {
        return "thread namespaces";
    }

    @Override
    public void run(TaskContext t) {
        for (ThreadImage th : t.task().threads()) {
            ThreadNs ns = th.ns();
            if (ns == null || th.tid() == t.pid().value()) {
                continue;
            }
            Injector inj = t.injector(th.tid());
            if (ns.netBoundAt() != null) {
                dev.cryo.engine.namespaces.NamespaceRestore.joinNet(t, ns.netBoundAt(), inj);
            }
            if (ns.netOwn()) {
                inj.call("unshare(CLONE_NEWNET) in thread " + th.tid(), SyscallNr.UNSHARE, Clone.NEWNET);
                if (ns.loUp()) {
                    dev.cryo.engine.namespaces.NamespaceRestore.loopbackUp(t, inj);
                }
            }
            if (ns.ipcOwn()) { // empty, as it was
                inj.call("unshare(CLONE_NEWIPC) in thread " + th.tid(), SyscallNr.UNSHARE, Clone.NEWIPC);
            }
            if (ns.cgroupOwn()) { // where its process was placed before adoption, where it made it
                inj.call("unshare(CLONE_NEWCGROUP) in thread " + th.tid(), SyscallNr.UNSHARE, Clone.NEWCGROUP);
            }
            if (ns.hostname() != null) {
                inj.call("unshare(CLONE_NEWUTS) in thread " + th.tid(), SyscallNr.UNSHARE, Clone.NEWUTS);
                byte[] host = ns.hostname().getBytes(StandardCharsets.UTF_8);
                inj.call("sethostname(" + ns.hostname() + ") in thread " + th.tid(), SyscallNr.SETHOSTNAME, t.put(host),
                        host.length);
                byte[] domain = ns.domainname().getBytes(StandardCharsets.UTF_8);
                inj.call("setdomainname(" + ns.domainname() + ") in thread " + th.tid(), SyscallNr.SETDOMAINNAME,
                        t.put(domain), domain.length);
            }
        }
    }
}
