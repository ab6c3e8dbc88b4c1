package dev.cryo.engine.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The namespaces a thread entered or made for itself alone (setns or unshare in that thread, as Go programs do on a
 * locked OS thread) that a restore makes again: a uts namespace of its own, with its host and domain names
 * ({@code hostname} null: its process's); a net namespace bound on the host ({@code ip netns add}'s, Go's netns
 * libraries' handles), joined again by its path ({@code netBoundAt} null: its process's); or a net namespace it made
 * and bound nowhere ({@code netOwn}, Go's {@code netns.New()}), holding nothing but its loopback, up or not
 * ({@code loUp}), made again by the thread; a cgroup namespace it made alone ({@code cgroupOwn}) rooted where its
 * process is, and it still is, made again there; an ipc namespace it made alone, empty ({@code ipcOwn}), made again.
 */
public record ThreadNs(String hostname, String domainname, String netBoundAt, boolean netOwn, boolean loUp,
                       boolean cgroupOwn, boolean ipcOwn) {
    public ThreadNs {
        if ((hostname == null) != (domainname == null)) {
            throw new IllegalArgumentException("ThreadNs: a host name without a domain name, or the reverse");
        }
        if (hostname == null && netBoundAt == null && !netOwn && !cgroupOwn && !ipcOwn) {
            throw new IllegalArgumentException("ThreadNs: no namespace of the thread's own");
        }
        if (netOwn && netBoundAt != null || !netOwn && loUp) {
            throw new IllegalArgumentException("ThreadNs: a net namespace of its own and one bound at " + netBoundAt
                    + ", or a loopback without a net namespace of its own");
        }
    }

    /** A uts namespace and a net namespace bound on the host, or its process's. */
    public ThreadNs(String hostname, String domainname, String netBoundAt) {
        this(hostname, domainname, netBoundAt, false, false, false, false);
    }

    public Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        if (hostname != null) {
            m.put("hostname", hostname);
            m.put("domainname", domainname);
        }
        if (netBoundAt != null) {
            m.put("netBoundAt", netBoundAt);
        }
        if (netOwn) {
            m.put("netOwn", loUp ? "lo up" : "lo down");
        }
        if (cgroupOwn) {
            m.put("cgroupOwn", true);
        }
        if (ipcOwn) {
            m.put("ipcOwn", "empty");
        }
        return m;
    }
}
