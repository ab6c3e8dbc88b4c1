package dev.cryo.engine.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The namespaces a thread entered or made for itself alone (setns or unshare in that thread, as Go programs do on a
 * locked OS thread) that a restore makes again: a uts namespace of its own, with its host and domain names
 * ({@code hostname} null: its process's), and a net namespace bound on the host ({@code ip netns add}'s, Go's netns
 * libraries' handles), joined again by its path ({@code netBoundAt} null: its process's).
 */
public record ThreadNs(String hostname, String domainname, String netBoundAt) {
    public ThreadNs {
        if ((hostname == null) != (domainname == null)) {
            throw new IllegalArgumentException("ThreadNs: a host name without a domain name, or the reverse");
        }
        if (hostname == null && netBoundAt == null) {
            throw new IllegalArgumentException("ThreadNs: no namespace of the thread's own");
        }
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
        return m;
    }
}
