package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

/**
 * A TPACKET_V3 receive ring of a packet socket, mapped in cryo's own process (the same pages the
 * program maps). Each block starts with struct tpacket_block_desc: its status (TP_STATUS_KERNEL 0:
 * the kernel's; TP_STATUS_USER 1: handed to the program, which gives it back by writing 0), its
 * packet count and the sequence number the kernel gave it when it opened it. The kernel opens the
 * blocks in ring order and numbers them one up each time, so the block it writes into now is the one
 * with the highest number; which one that is is kept nowhere else user space can read.
 */
public final class PacketRing implements AutoCloseable {
    public static final int TPACKET_V3 = 2, TP_STATUS_KERNEL = 0, TP_STATUS_USER = 1;
    private static final int STATUS = 8, NUM_PKTS = 12, SEQ = 24;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;

    private final long at;
    private final long bytes;
    private final int blockSize, blocks;

    private PacketRing(long at, long mapped, int blockSize, int blocks) {
        this.at = at;
        this.blockSize = blockSize;
        this.blocks = blocks;
        this.bytes = mapped;
    }

    /**
     * Maps the socket's receive ring ({@code blocks} of {@code blockSize} bytes); {@code mapped}: the bytes
     * the kernel lets map, the receive ring's and the transmit ring's after it (it maps both or none).
     */
    public static PacketRing map(Fd s, int blockSize, int blocks, long mapped, boolean writable) {
        long at = Sys.call(() -> "mmap(packet rings of " + s + ", " + mapped + " bytes)", SyscallNr.MMAP, 0, mapped,
                PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, s.value(), 0);
        return new PacketRing(at, mapped, blockSize, blocks);
    }

    /** PACKET_RX_RING with struct tpacket_req3. */
    public static void setUp(Fd s, int blockSize, int blockNr, int frameSize, int frameNr, int retireTmo, int sizeofPriv,
                             int features) {
        setUp(s, PacketSockets.PACKET_RX_RING, blockSize, blockNr, frameSize, frameNr, retireTmo, sizeofPriv, features);
    }

    /**
     * PACKET_RX_RING or PACKET_TX_RING ({@code which}) with struct tpacket_req3: a TPACKET_V1/V2 ring
     * takes its first four fields (struct tpacket_req) and ignores the rest.
     */
    public static void setUp(Fd s, int which, int blockSize, int blockNr, int frameSize, int frameNr, int retireTmo,
                             int sizeofPriv, int features) {
        Memory m = new Memory(28);
        m.setInt(0, blockSize);
        m.setInt(4, blockNr);
        m.setInt(8, frameSize);
        m.setInt(12, frameNr);
        m.setInt(16, retireTmo);
        m.setInt(20, sizeofPriv);
        m.setInt(24, features);
        Sys.call(() -> "setsockopt(" + s + ", " + (which == PacketSockets.PACKET_TX_RING ? "PACKET_TX_RING, " : "PACKET_RX_RING, ")
                        + blockNr + " blocks of " + blockSize + ")",
                SyscallNr.SETSOCKOPT, s.value(), PacketSockets.SOL_PACKET, which, Sys.address(m), 28, 0);
    }

    /**
     * Whether every byte of the socket's rings from offset {@code from} on ({@code bytes}: the receive
     * ring's and the transmit ring's, mapped together as the kernel requires; from the receive ring's
     * size: the transmit ring) is still zero: a TPACKET_V1/V2 ring and any transmit ring start zeroed,
     * so neither the kernel (a frame caught, a frame sent and given back) nor the program has written to it.
     */
    public static boolean untouched(Fd s, long bytes, long from) {
        long at = Sys.call(() -> "mmap(packet rings of " + s + ", " + bytes + " bytes)", SyscallNr.MMAP, 0, bytes,
                PROT_READ, MAP_SHARED, s.value(), 0);
        try {
            Pointer p = new Pointer(at);
            java.nio.ByteBuffer b = p.getByteBuffer(from, bytes - from);
            while (b.remaining() >= 8) {
                if (b.getLong() != 0) {
                    return false;
                }
            }
            return true;
        } finally {
            Sys.call(() -> "munmap(packet rings)", SyscallNr.MUNMAP, at, bytes, 0, 0);
        }
    }

    public int blocks() {
        return blocks;
    }

    private Pointer block(int i) {
        return new Pointer(at + (long) i * blockSize);
    }

    public int status(int i) {
        return block(i).getInt(STATUS);
    }

    public void setStatus(int i, int status) {
        block(i).setInt(STATUS, status);
    }

    public int packets(int i) {
        return block(i).getInt(NUM_PKTS);
    }

    public long seq(int i) {
        return block(i).getLong(SEQ);
    }

    public void setSeq(int i, long seq) {
        block(i).setLong(SEQ, seq);
    }

    /** The block the kernel writes into now: the last it opened, with the highest sequence number. */
    public int current() {
        int best = 0;
        for (int i = 1; i < blocks; i++) {
            if (Long.compareUnsigned(seq(i), seq(best)) > 0) {
                best = i;
            }
        }
        return best;
    }

    public byte[] read(int i) {
        return block(i).getByteArray(0, blockSize);
    }

    public void write(int i, byte[] data) {
        block(i).write(0, data, 0, Math.min(data.length, blockSize));
    }

    @Override
    public void close() {
        Sys.call(() -> "munmap(packet ring)", SyscallNr.MUNMAP, at, bytes, 0, 0);
    }
}
