package dev.cryo.it;

import dev.cryo.kernel.net.NetworkLock;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Removes the network locks (nftables tables {@code cryo_PID_...} of the host) that the tests' killing
 * dumps left and no restore lifted by the end of a test. A lock outlives its killed tree until the
 * restore, and a failed restore keeps it for the next try: a test failing between its dump and its
 * restore, or whose restore failed, left it on the host for good, dropping its flows and the SYNs to
 * its listeners' ports, which later tests' servers and clients may be given (net13's routed-peer test
 * of NetNamespaceTest left {@code cryo_53252_*} so while it was shown to fail without its fix).
 * {@link DumpRestore#dump} records what each dump left; the test classes that dump connections
 * with --tcp-established register this extension.
 */
public final class NetworkLocksLeft implements AfterEachCallback {
    private static final Set<String> LEFT = ConcurrentHashMap.newKeySet();

    /** After a dump of the tree of {@code pid}: the lock tables it left installed, to remove if no restore does. */
    static void dumped(int pid) {
        for (String t : tables()) {
            if (t.startsWith("cryo_" + pid + "_")) {
                LEFT.add(t);
            }
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        Set<String> still = tables();
        for (String t : LEFT) {
            if (still.contains(t)) {
                System.err.println("NetworkLocksLeft: " + context.getDisplayName() + " left network lock " + t
                        + " (no restore lifted it); removed");
                NetworkLock.unlock(t);
            }
        }
        LEFT.clear();
    }

    private static Set<String> tables() {
        if (!NetworkLock.available()) {
            return Set.of();
        }
        Set<String> names = ConcurrentHashMap.newKeySet();
        NetworkLock.tables().stream().filter(t -> t.startsWith("cryo_")).forEach(names::add);
        return names;
    }
}
