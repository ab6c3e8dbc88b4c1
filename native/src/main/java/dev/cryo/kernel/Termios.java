package dev.cryo.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Fields of a struct termios2 image (as TCGETS2 gives it): the four flag words, then c_line and
 * the control characters. The kernel's own constants (asm-generic/termbits.h), in one place.
 */
public final class Termios {
    private Termios() {}

    private static final int IFLAG = 0, OFLAG = 4, LFLAG = 12, CC = 17;

    // c_iflag
    public static final int ISTRIP = 040, INLCR = 0100, IGNCR = 0200, ICRNL = 0400, IUCLC = 01000, IXON = 02000,
            IXANY = 04000, IXOFF = 010000, PARMRK = 010;
    // c_lflag
    public static final int ISIG = 01, ICANON = 02, XCASE = 04, ECHO = 010, ECHOE = 020, ECHOK = 040, ECHONL = 0100,
            ECHOCTL = 01000, ECHOPRT = 02000, ECHOKE = 04000, IEXTEN = 0100000, EXTPROC = 0200000;
    // c_cc indexes
    public static final int VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6, VSTART = 8,
            VSTOP = 9, VSUSP = 10, VEOL = 11, VREPRINT = 12, VDISCARD = 13, VWERASE = 14, VLNEXT = 15, VEOL2 = 16,
            NCCS = 19;

    public static int iflag(byte[] t) {
        return word(t, IFLAG);
    }

    public static int lflag(byte[] t) {
        return word(t, LFLAG);
    }

    public static byte cc(byte[] t, int index) {
        return t[CC + index];
    }

    /** A copy of {@code t} with these flag words. */
    public static byte[] withFlags(byte[] t, int iflag, int oflag, int lflag) {
        byte[] c = t.clone();
        ByteBuffer b = ByteBuffer.wrap(c).order(ByteOrder.nativeOrder());
        b.putInt(IFLAG, iflag).putInt(OFLAG, oflag).putInt(LFLAG, lflag);
        return c;
    }

    public static int oflag(byte[] t) {
        return word(t, OFLAG);
    }

    /** Sets control character {@code index} of {@code t} in place. */
    public static void cc(byte[] t, int index, byte value) {
        t[CC + index] = value;
    }

    private static int word(byte[] t, int at) {
        return ByteBuffer.wrap(t).order(ByteOrder.nativeOrder()).getInt(at);
    }
}
