package dev.cryo.cli;

import dev.cryo.engine.dump.DumpProgress;

import java.io.PrintWriter;

/**
 * A one-line progress bar on the terminal, shown only once an operation has lasted a while
 * ({@code cryo.dump.progress-delay}: short dumps print nothing) and only on a terminal.
 */
final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;
    private final Thread thread;
    private volatile boolean running = true;
    private boolean shown;

    ProgressBar(String label, DumpProgress progress, PrintWriter err, java.time.Duration delay) {
        thread = new Thread(() -> {
            try {
                Thread.sleep(delay.toMillis());
                while (running) {
                    draw(label, progress, err);
                    Thread.sleep(200);
                }
            } catch (InterruptedException e) {
                // closing
            }
        }, "cryo-progress");
        thread.setDaemon(true);
    }

    static ProgressBar startIfTerminal(boolean enabled, String label, DumpProgress progress, PrintWriter err,
                                       java.time.Duration delay) {
        ProgressBar bar = new ProgressBar(label, progress, err, delay);
        if (enabled && System.console() != null) {
            bar.thread.start();
        }
        return bar;
    }

    private synchronized void draw(String label, DumpProgress p, PrintWriter err) {
        long total = Math.max(p.total(), 1);
        double f = Math.min(1.0, p.done() / (double) total);
        int filled = (int) (f * WIDTH);
        err.printf("\r%s [%s%s] %3d%% %s / %s", label, "#".repeat(filled), " ".repeat(WIDTH - filled),
                (int) (f * 100), Sizes.human(p.done() * 4096), Sizes.human(p.total() * 4096));
        err.flush();
        shown = true;
    }

    @Override
    public synchronized void close() {
        running = false;
        thread.interrupt();
        if (shown) {
            System.err.print("\r" + " ".repeat(80) + "\r");
            System.err.flush();
        }
    }
}
