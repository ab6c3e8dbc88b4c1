package dev.cryo.engine.namespaces;

import dev.cryo.kernel.KernelException;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Reads of a frozen tree's net namespace run at once, each on a thread of its own: most are an ip or nft
 * process (fork, exec, netlink, 130-230 ms each at load 20-30 here), and one after the other they were 0.4-0.6 s
 * of a container's frozen window (a migration's downtime). Nothing read here changes while the tree is frozen.
 */
final class NetReads implements AutoCloseable {
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "net namespace read");
        t.setDaemon(true);
        return t;
    });

    <T> Future<T> start(Callable<T> read) {
        return threads.submit(read);
    }

    /** What a read gave, or what it threw. */
    static <T> T done(Future<T> read) {
        try {
            return read.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new KernelException("reading a net namespace failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelException("interrupted while reading a net namespace", e);
        }
    }

    @Override
    public void close() {
        threads.shutdownNow();
    }
}
