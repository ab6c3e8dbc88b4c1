package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Terminals;
import dev.cryo.kernel.Termios;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The bytes sitting in a pty pair, which no ioctl shows without taking them: what was typed into the
 * master and the slave has not read (its input queue: complete lines, and in canonical mode a line
 * still being typed, which FIONREAD does not count), and what the slave wrote and the master has not
 * read. {@link #take} reads them out of the frozen pair; {@link #refill} puts them back, on a restored
 * pair or on the live one when the tree runs on.
 *
 * <p>Kernel facts this relies on (n_tty, checked on this kernel): a canonical read returns one line
 * (its terminator included, an EOF character left out; a lone EOF reads as 0 bytes), and poll says
 * readable while a line is queued, after pushing through what the peer wrote. Turning ICANON off
 * makes the unfinished line readable; turning it on again with the queue empty changes nothing,
 * while a TCSETS that keeps ICANON keeps the line being typed. TIOCSTI hands a byte to the line
 * discipline at once (a write to the peer arrives later, from a work queue), so the bytes go in under
 * a quiet termios — no echo, no signals, no erase or kill characters, LNEXT escaping what would end
 * a line — and the pair's own termios is set back before anyone reads.
 */
public final class PtyQueues {
    private PtyQueues() {}

    /** N_TTY_BUF_SIZE: a line discipline holds at most this many bytes. */
    public static final int TTY_BUFFER = 4096;
    private static final byte NEWLINE = '\n', EOF_CHAR = 4, LNEXT_CHAR = 0x16;

    /**
     * {@code lines}: complete lines of the slave's input queue, each as a canonical read returns it;
     * {@code pending}: the line still being typed (or, in non-canonical mode, every queued byte);
     * {@code output}: what the master has not read, without packet-mode headers.
     */
    public record Queued(List<byte[]> lines, byte[] pending, byte[] output) {
        public static final Queued NONE = new Queued(List.of(), new byte[0], new byte[0]);

        public boolean isEmpty() {
            return lines.isEmpty() && pending.length == 0 && output.length == 0;
        }

        public boolean hasInput() {
            return !lines.isEmpty() || pending.length > 0;
        }
    }

    /**
     * Takes every queued byte out of the frozen pair. {@code slave}: an open file of the slave (the
     * tree's), or null when none is open — then nothing can be queued for it to read. Refusals come
     * before anything is taken; a failure while reading puts back what was taken.
     */
    public static Queued take(Fd master, Fd slave, byte[] termios, boolean packet, String where) {
        if (packet && (Terminals.poll(master, Terminals.POLLPRI) & Terminals.POLLPRI) != 0) {
            throw new DumpException(where + " holds a packet-mode status its master has not read (a flow"
                    + " control or flush notice); it cannot be made again: dump again once it is read");
        }
        if ((Termios.lflag(termios) & Termios.EXTPROC) != 0) {
            int in = slave == null ? 0 : Terminals.unread(slave);
            int out = (Terminals.poll(master, Terminals.POLLIN) & Terminals.POLLIN) != 0 ? Terminals.unread(master) : 0;
            if (in + out > 0) {
                throw new DumpException(where + " holds " + (in + out) + " unread bytes in external-processing mode"
                        + " (EXTPROC), whose lines cannot be told apart from outside: dump again once they are read");
            }
            return Queued.NONE;
        }
        List<byte[]> lines = new ArrayList<>();
        byte[][] pending = {new byte[0]};
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        try {
            if (slave != null) {
                withoutLock(master, () -> takeInput(master, slave, termios, lines, pending));
            }
            takeOutput(master, packet, output, where);
        } catch (RuntimeException e) {
            try {
                refill(master, slave, termios, new Queued(lines, pending[0], output.toByteArray()));
            } catch (RuntimeException again) {
                e.addSuppressed(again);
            }
            throw e;
        }
        return new Queued(List.copyOf(lines), pending[0], output.toByteArray());
    }

    private static void takeInput(Fd master, Fd slave, byte[] termios, List<byte[]> lines, byte[][] pending) {
        boolean canonical = (Termios.lflag(termios) & Termios.ICANON) != 0;
        if (canonical) {
            while (readable(slave)) {
                if (lines.size() > TTY_BUFFER) {
                    throw new DumpException("pty slave " + slave + ": more lines than its buffer holds");
                }
                lines.add(Terminals.read(slave, TTY_BUFFER));
            }
        }
        // the rest — the line being typed, or a raw queue — reads without waiting when VMIN = VTIME = 0
        byte[] raw = Termios.withFlags(termios, Termios.iflag(termios), Termios.oflag(termios),
                Termios.lflag(termios) & ~Termios.ICANON);
        Termios.cc(raw, Termios.VMIN, (byte) 0);
        Termios.cc(raw, Termios.VTIME, (byte) 0);
        Terminals.termios(master, raw);
        try {
            ByteArrayOutputStream rest = new ByteArrayOutputStream();
            for (int i = 0; i <= TTY_BUFFER; i++) {
                byte[] b = Terminals.read(slave, TTY_BUFFER);
                if (b.length == 0) {
                    break;
                }
                rest.writeBytes(b);
            }
            pending[0] = rest.toByteArray();
        } finally {
            Terminals.termios(master, termios); // ICANON on with an empty queue: no line is made
        }
    }

    private static void takeOutput(Fd master, boolean packet, ByteArrayOutputStream output, String where) {
        for (int i = 0; i <= TTY_BUFFER && readable(master); i++) {
            byte[] b = Terminals.read(master, TTY_BUFFER + 1);
            if (packet) {
                if (b.length == 0 || b[0] != Terminals.TIOCPKT_DATA) {
                    throw new DumpException(where + ": a packet-mode status arrived while cryo read the master");
                }
                b = Arrays.copyOfRange(b, 1, b.length);
            }
            output.writeBytes(b);
        }
    }

    private static boolean readable(Fd fd) {
        return (Terminals.poll(fd, Terminals.POLLIN) & Terminals.POLLIN) != 0;
    }

    /**
     * Puts {@code q} back into a pair whose termios is {@code termios}: the input through {@code slave}
     * (null only when there is none) under a quiet termios, then {@code termios} again; the output into
     * the master. The locked termios, if any, is lifted meanwhile.
     */
    public static void refill(Fd master, Fd slave, byte[] termios, Queued q) {
        if (q.hasInput()) {
            if (slave == null) {
                throw new IllegalStateException("no slave to put " + q.lines().size() + " lines back through");
            }
            withoutLock(master, () -> {
                Terminals.termios(master, quiet(termios));
                try {
                    boolean canonical = (Termios.lflag(termios) & Termios.ICANON) != 0;
                    for (byte[] line : q.lines()) {
                        boolean newline = line.length > 0 && line[line.length - 1] == NEWLINE;
                        inject(slave, newline ? Arrays.copyOf(line, line.length - 1) : line, termios, canonical);
                        Terminals.inject(slave, newline ? NEWLINE : EOF_CHAR);
                    }
                    inject(slave, q.pending(), termios, canonical);
                } finally {
                    Terminals.termios(master, termios);
                }
            });
        }
        for (byte b : q.output()) {
            Terminals.inject(master, b); // the master's discipline is raw: bytes stay as they are
        }
    }

    /**
     * Whether the slave's output is stopped (^S, tcflow): with nothing left unread in the master, a
     * slave that cannot be written to is stopped.
     */
    public static boolean outputStopped(Fd slave) {
        return slave != null && (Terminals.poll(slave, Terminals.POLLOUT) & Terminals.POLLOUT) == 0;
    }

    /**
     * Stops the slave's output again: by its STOP character when IXON is on (as ^S did, so ^Q starts
     * it), else as tcflow(TCOOFF). Before packet mode is set: stopping posts a status to the master.
     */
    public static void stopOutput(Fd master, Fd slave, byte[] termios) {
        byte stop = Termios.cc(termios, Termios.VSTOP);
        if ((Termios.iflag(termios) & Termios.IXON) != 0 && stop != 0) {
            Terminals.termios(master, quiet(termios));
            try {
                Terminals.inject(slave, stop);
            } finally {
                Terminals.termios(master, termios);
            }
        } else {
            Terminals.stopOutput(slave);
        }
    }

    /** Data bytes; in canonical mode those that would end a line or stop output are preceded by LNEXT. */
    private static void inject(Fd slave, byte[] data, byte[] termios, boolean canonical) {
        boolean flow = (Termios.iflag(termios) & Termios.IXON) != 0;
        byte start = Termios.cc(termios, Termios.VSTART), stop = Termios.cc(termios, Termios.VSTOP);
        for (byte b : data) {
            if (canonical && (b == NEWLINE || b == EOF_CHAR || b == LNEXT_CHAR
                    || flow && b != 0 && (b == start || b == stop))) {
                Terminals.inject(slave, LNEXT_CHAR);
            }
            Terminals.inject(slave, b);
        }
    }

    /**
     * The pair's termios with nothing that acts on input: no echo, no signal characters, no erase,
     * kill or end-of-line characters, no CR/NL mapping; EOF is ^D and LNEXT ^V. ICANON stays as it is
     * (changing it would end or drop the line being typed), and so do IXON and the START/STOP
     * characters (changing them would post a packet-mode status to the master).
     */
    static byte[] quiet(byte[] termios) {
        int iflag = Termios.iflag(termios) & ~(Termios.ICRNL | Termios.INLCR | Termios.IGNCR | Termios.ISTRIP
                | Termios.IUCLC | Termios.IXANY | Termios.IXOFF | Termios.PARMRK);
        int lflag = (Termios.lflag(termios) & ~(Termios.ECHO | Termios.ECHOE | Termios.ECHOK | Termios.ECHONL
                | Termios.ECHOCTL | Termios.ECHOPRT | Termios.ECHOKE | Termios.ISIG | Termios.XCASE)) | Termios.IEXTEN;
        byte[] q = Termios.withFlags(termios, iflag, Termios.oflag(termios), lflag);
        for (int c : new int[] {Termios.VINTR, Termios.VQUIT, Termios.VERASE, Termios.VKILL, Termios.VSUSP, Termios.VEOL,
                Termios.VREPRINT, Termios.VDISCARD, Termios.VWERASE, Termios.VEOL2}) {
            Termios.cc(q, c, (byte) 0);
        }
        Termios.cc(q, Termios.VEOF, EOF_CHAR);
        Termios.cc(q, Termios.VLNEXT, LNEXT_CHAR);
        return q;
    }

    /** Runs {@code r} with the pair's locked termios lifted (a locked ICANON would ignore cryo's TCSETS). */
    private static void withoutLock(Fd master, Runnable r) {
        byte[] locked = Terminals.lockedTermios(master);
        boolean any = false;
        for (byte b : locked) {
            any |= b != 0;
        }
        if (!any) {
            r.run();
            return;
        }
        Terminals.lockedTermios(master, new byte[Terminals.TERMIOS_SIZE]);
        try {
            r.run();
        } finally {
            Terminals.lockedTermios(master, locked);
        }
    }
}
