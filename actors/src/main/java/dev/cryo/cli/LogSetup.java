package dev.cryo.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import org.slf4j.LoggerFactory;

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

    static void configure(Level level, Path logFile) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(level);
        PatternLayoutEncoder enc = new PatternLayoutEncoder();
        enc.setContext(ctx);
        enc.setPattern(logFile == null ? "%-5level %logger{0}: %msg%n"
                : "%d{HH:mm:ss.SSS} %-5level [%thread] %logger{0}: %msg%n");
        enc.start();
        if (logFile != null) {
            FileAppender<ch.qos.logback.classic.spi.ILoggingEvent> file = new FileAppender<>();
            file.setContext(ctx);
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
}
