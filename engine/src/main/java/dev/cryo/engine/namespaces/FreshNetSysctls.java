package dev.cryo.engine.namespaces;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A new net namespace's sysctls on this host, read while a migration's rounds run, so that its restore's first
 * sysctl pass ({@link NetNamespaceRestore}) need not read each file of the namespace it has just made: an entry
 * the image holds with the value a new namespace starts with is left alone until the pass first writes one (a write
 * may change others: conf/all/forwarding, disable_ipv6). conf/all and conf/default alone are ~220 files a container's
 * image always holds, each opened and read inside the downtime.
 * A new namespace's values are this host's (IPv4's conf inherited from the host's, the rest the kernel's defaults),
 * so a read is used once, by the next restore, and only within {@code validFor} of its start.
 */
public final class FreshNetSysctls {
    private FreshNetSysctls() {}

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(FreshNetSysctls.class);

    private record Ahead(CompletableFuture<Map<String, String>> values, long until) {}

    private static Ahead ahead;

    /** Starts reading a new namespace's sysctls on a thread of its own (the read, for a caller that waits); a read not taken yet is replaced. */
    public static CompletableFuture<?> readAhead(Duration validFor) {
        long t0 = System.nanoTime(), until = t0 + validFor.toNanos();
        Ahead a = new Ahead(CompletableFuture.supplyAsync(() -> {
            Map<String, String> values = NetSysctls.fresh();
            log.debug("a new net namespace's {} sysctls read ahead in {} µs", values.size(), (System.nanoTime() - t0) / 1000);
            return values;
        }, r -> {
            Thread t = new Thread(r, "cryo-fresh-net-sysctls");
            t.setDaemon(true);
            t.start();
        }), until);
        synchronized (FreshNetSysctls.class) {
            ahead = a;
        }
        return a.values();
    }

    /** The values read ahead if that read has ended and is still valid, else null (the pass reads each file); taken once. */
    static synchronized Map<String, String> take() {
        Ahead a = ahead;
        ahead = null;
        return a == null || System.nanoTime() - a.until() > 0 || !a.values().isDone()
                || a.values().isCompletedExceptionally() ? null : a.values().join();
    }
}
