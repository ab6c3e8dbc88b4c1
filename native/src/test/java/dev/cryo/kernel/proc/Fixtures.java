package dev.cryo.kernel.proc;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real /proc files captured on the development machine, kept under src/test/resources/proc. */
final class Fixtures {
    private Fixtures() {}

    static byte[] bytes(String name) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/proc/" + name)) {
            if (in == null) {
                throw new IllegalStateException("no fixture /proc/" + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String text(String name) {
        return new String(bytes(name), StandardCharsets.UTF_8);
    }

    /** Asserts the parse fails and the message names the path and the line. */
    static ProcFormatException assertBad(String pathAndLine, Runnable parse) {
        ProcFormatException e = assertThrows(ProcFormatException.class, parse::run);
        assertTrue(e.getMessage().contains(pathAndLine), () -> "message '" + e.getMessage() + "' lacks '" + pathAndLine + "'");
        return e;
    }
}
