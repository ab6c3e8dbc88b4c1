package dev.cryo.cli;

import dev.cryo.engine.files.PrivateModes;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import org.slf4j.LoggerFactory;

import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * Logging like CRIU's {@code -v4 -o FILE}: quiet (warnings on stderr) unless asked; {@code -v}
 * is info, {@code -vv} debug, {@code -vvv} trace; {@code --log-file} sends everything to a file.
 */
final class LogSetup {
    private LogSetup() {}

    static Level levelFor(int verbosity, String configured) {
        return switch (verbosity) {
            case 0 -> Level.toLevel(configured, Level.WARN);
            case 1 -> Level.INFO;
            case 2 -> Level.DEBUG;
            default -> Level.TRACE;
        };
    }

    private static volatile boolean toFile;

    /**
     * A command's failure, as the user sees it on stderr and, with {@code -o FILE}, in the log file
     * too (with its cause's stack trace at debug), so the file alone tells what happened.
     */
    static void failure(PrintWriter err, String message, Throwable cause) {
        err.println("cryo: " + message);
        err.flush();
        ensure();
        org.slf4j.Logger log = LoggerFactory.getLogger("cryo");
        if (toFile) {
            log.error(message + (cause != null && cause.getCause() != null ? " (cause: " + cause.getCause() + ")" : ""));
        }
        if (cause != null) {
            log.debug("failure", cause);
        }
    }

    private static volatile Level pendingLevel;
    private static volatile Path pendingFile;

    /**
     * As {@link #configure(Level, Path)}, or, with {@code lazily} at the default quiet level, the
     * first time {@link #ensure} is called: logback's start costs a cold JVM a noticeable share of
     * a command that ends up logging nothing (a dump handed to the local agent).
     */
    static void configure(Level level, Path logFile, boolean lazily) {
        if (lazily && logFile == null && level.toInt() >= Level.WARN.toInt()) {
            pendingLevel = level;
            pendingFile = null;
        } else {
            configure(level, logFile);
        }
    }

    /** Applies a deferred configuration; call before anything may log. */
    static synchronized void ensure() {
        Level level = pendingLevel;
        if (level != null) {
            pendingLevel = null;
            configure(level, pendingFile);
        }
    }

    static void configure(Level level, Path logFile) {
        pendingLevel = null;
        toFile = logFile != null;
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(level);
        PatternLayoutEncoder enc = new PatternLayoutEncoder();
        enc.setContext(ctx);
        // "pid N" where the line is about one task (the actors' MDC), nothing otherwise
        String pid = "%replace(pid %X{pid} ){'^pid  $', ''}";
        enc.setPattern(logFile == null ? "%-5level " + pid + "%logger{0}: %msg%n"
                : "%d{HH:mm:ss.SSS} %-5level " + pid + "[%thread] %logger{0}: %msg%n");
        enc.start();
        if (logFile != null) {
            FileAppender<ch.qos.logback.classic.spi.ILoggingEvent> file = new FileAppender<>();
            file.setContext(ctx);
            privateFile(logFile);
            file.setFile(logFile.toString());
            file.setEncoder(enc);
            file.setAppend(true);
            file.start();
            root.addAppender(file);
        } else {
            ConsoleAppender<ch.qos.logback.classic.spi.ILoggingEvent> console = new ConsoleAppender<>();
            console.setContext(ctx);
            console.setTarget("System.err");
            console.setEncoder(enc);
            console.start();
            root.addAppender(console);
        }
    }

    /**
     * A new log file is made 0600 and its missing directory 0700, as an image's are (a relative log
     * file goes into the images directory, CRIU's habit, before the dump makes it); logback would
     * make both world-readable.
     */
    private static void privateFile(Path logFile) {
        Path dir = logFile.toAbsolutePath().getParent();
        try {
            if (dir != null && !java.nio.file.Files.exists(dir)) {
                java.nio.file.Files.createDirectories(dir, PrivateModes.DIR_ATTRIBUTE);
            }
            if (!java.nio.file.Files.exists(logFile)) {
                java.nio.file.Files.createFile(logFile, PrivateModes.FILE_ATTRIBUTE);
            }
        } catch (java.io.IOException e) {
            // logback reports the file it cannot open
        }
    }

    /** Lets one logger (the agent's membership log) through at info even when the rest logs warnings only. */
    static void atLeastInfo(String loggerName) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        if (!root.isInfoEnabled()) {
            ctx.getLogger(loggerName).setLevel(Level.INFO);
        }
    }
}
