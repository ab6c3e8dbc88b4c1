import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A plain Java program run with default JVM flags (compiled by the test with javac): 20 threads
 * count, allocate and share a lock. It prints "ready" once every thread runs. When a file named
 * "check" appears in its working directory (SIGUSR2 belongs to the JVM itself), it checks its own
 * state: every thread still advances, each thread's private history is intact, the shared total
 * equals the sum of the threads' counts, monotonic time never went backwards; then prints
 * "PASS threads=20 counts=..." or "FAIL: why" and exits.
 */
public class Main {
    static final int THREADS = 20;
    static final ReentrantLock lock = new ReentrantLock();
    static long sharedTotal;                       // guarded by lock
    static final AtomicLong[] counts = new AtomicLong[THREADS];
    static volatile String failure;

    public static void main(String[] args) throws Exception {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) {
            counts[i] = new AtomicLong();
            int id = i;
            Thread t = new Thread(() -> run(id), "counter-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        while (minCount() == 0) {
            Thread.sleep(5);
        }
        System.out.println("ready");
        Path check = Path.of("check");
        long lastNanos = System.nanoTime();
        while (!Files.exists(check)) {
            Thread.sleep(10);
            long now = System.nanoTime();
            if (now < lastNanos) {
                failure = "System.nanoTime went backwards by " + (lastNanos - now) + " ns";
            }
            lastNanos = now;
        }
        long[] before = snapshot();
        Thread.sleep(500);
        long[] after = snapshot();
        for (int i = 0; i < THREADS && failure == null; i++) {
            if (after[i] <= before[i]) {
                failure = "thread " + i + " stopped counting at " + after[i];
            }
        }
        for (Thread t : threads) {
            if (!t.isAlive() && failure == null) {
                failure = t.getName() + " died";
            }
        }
        stopped = true;
        for (Thread t : threads) {
            t.join(5000);
        }
        long sum = 0;
        for (AtomicLong c : counts) {
            sum += c.get();
        }
        lock.lock();
        try {
            if (failure == null && sum != sharedTotal) {
                failure = "shared total " + sharedTotal + " != sum of counts " + sum;
            }
        } finally {
            lock.unlock();
        }
        System.out.println(failure == null ? "PASS threads=" + THREADS + " counts=" + sum : "FAIL: " + failure);
        System.exit(failure == null ? 0 : 1);
    }

    static volatile boolean stopped;

    static void run(int id) {
        long[] history = new long[256];             // history[n % 256] == n * 31 + id, checked every round
        long n = 0;
        List<byte[]> garbage = new ArrayList<>();
        try {
            while (!stopped) {
                history[(int) (n % history.length)] = n * 31 + id;
                if (n >= history.length) {
                    for (int k = 1; k <= history.length; k++) {
                        long m = n - history.length + k;
                        if (history[(int) (m % history.length)] != m * 31 + id) {
                            failure = "thread " + id + " history corrupted at " + m;
                        }
                    }
                }
                garbage.add(new byte[1024 + (int) (n % 4096)]);  // keep the GC busy
                if (garbage.size() > 64) {
                    garbage.clear();
                }
                lock.lock();
                try {
                    sharedTotal++;
                    counts[id].incrementAndGet();   // inside the lock: the sums match exactly
                } finally {
                    lock.unlock();
                }
                n++;
                Thread.sleep(2);
            }
        } catch (InterruptedException e) {
            failure = "thread " + id + " interrupted";
        }
    }

    static long minCount() {
        long min = Long.MAX_VALUE;
        for (AtomicLong c : counts) {
            min = Math.min(min, c.get());
        }
        return min;
    }

    static long[] snapshot() {
        long[] s = new long[THREADS];
        for (int i = 0; i < THREADS; i++) {
            s[i] = counts[i].get();
        }
        return s;
    }
}
