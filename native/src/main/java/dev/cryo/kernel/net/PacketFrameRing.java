package dev.cryo.kernel.net;

import com.sun.jna.Pointer;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

/**
 * A TPACKET_V2 receive ring of a packet socket (Suricata's and Snort 3's AF_PACKET capture), mapped
 * in cryo's own process: frames of one size packed into blocks, each starting with struct
 * tpacket2_hdr (status, len, snaplen, mac, net, sec, nsec, vlan). The kernel fills the frames in
 * ring order, handing each to the program (TP_STATUS_USER) until it writes TP_STATUS_KERNEL back.
 * Which frame it fills next is kept nowhere user space reads and no frame is numbered, but a frame
 * keeps its capture time after it is given back: the frame filled last is the latest one.
 */
public final class PacketFrameRing implements AutoCloseable {
    public static final int TPACKET_V2 = 1, HEADER = 32;
    private static final int SEC = 16, NSEC = 20;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;

    private final long at, bytes;
    private final int blockSize, frameSize, frames, perBlock;

    private PacketFrameRing(long at, long bytes, int blockSize, int frameSize, int frames) {
        this.at = at;
        this.bytes = bytes;
        this.blockSize = blockSize;
        this.frameSize = frameSize;
        this.frames = frames;
        this.perBlock = blockSize / frameSize;
    }

    /**
     * Maps the socket's receive ring ({@code blockNr} blocks of {@code frameSize} frames); {@code mapped}: the
     * bytes the kernel lets map, the receive ring's and the transmit ring's after it (it maps both or none).
     */
    public static PacketFrameRing map(Fd s, int blockSize, int blockNr, int frameSize, int frameNr, long mapped,
                                      boolean writable) {
        if (frameSize <= HEADER || blockSize / frameSize <= 0 || (long) frameNr > (long) blockNr * (blockSize / frameSize)) {
            throw new IllegalArgumentException("packet ring of " + frameNr + " frames of " + frameSize + " bytes in "
                    + blockNr + " blocks of " + blockSize);
        }
        long at = Sys.call(() -> "mmap(packet rings of " + s + ", " + mapped + " bytes)", SyscallNr.MMAP, 0, mapped,
                PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, s.value(), 0);
        return new PacketFrameRing(at, mapped, blockSize, frameSize, frameNr);
    }

    public int frames() {
        return frames;
    }

    private Pointer frame(int i) {
        return new Pointer(at + (long) (i / perBlock) * blockSize + (long) (i % perBlock) * frameSize);
    }

    public int status(int i) {
        return frame(i).getInt(0);
    }

    public void setStatus(int i, int status) {
        frame(i).setInt(0, status);
    }

    /**
     * The frame the kernel fills next, from every frame's header in ring order ({@link #HEADER}
     * bytes each, as {@link #header} reads them): the one after the latest filled (ring order breaks
     * a tie); 0 when none was.
     */
    public static int next(byte[] headers) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(headers).order(java.nio.ByteOrder.nativeOrder());
        int frames = headers.length / HEADER, last = -1;
        long best = 0;
        for (int i = 0; i < frames; i++) {
            long s = Integer.toUnsignedLong(b.getInt(i * HEADER + SEC)) * 1_000_000_000L
                    + Integer.toUnsignedLong(b.getInt(i * HEADER + NSEC));
            if (s != 0 && (s > best || (s == best && i == last + 1))) {
                best = s;
                last = i;
            }
        }
        return frames == 0 ? 0 : (last + 1) % frames;
    }

    public byte[] header(int i) {
        return frame(i).getByteArray(0, HEADER);
    }

    public byte[] read(int i) {
        return frame(i).getByteArray(0, frameSize);
    }

    public void write(int i, byte[] data) {
        frame(i).write(0, data, 0, Math.min(data.length, frameSize));
    }

    @Override
    public void close() {
        Sys.call(() -> "munmap(packet ring)", SyscallNr.MUNMAP, at, bytes, 0, 0);
    }
}
