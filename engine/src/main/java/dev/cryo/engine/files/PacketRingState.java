package dev.cryo.engine.files;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.PacketRing;
import dev.cryo.kernel.net.PacketSockets;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;

import java.util.ArrayList;
import java.util.List;

/**
 * A packet socket's TPACKET_V3 receive ring, as libpcap sets it up for tcpdump: its parameters,
 * the block the kernel writes into ({@code current}), the blocks handed to the program and not
 * given back yet (whole, with their frames) and where the program maps it. At the dump, frames
 * the kernel has caught but not handed over yet (in the current block until it is full or its
 * timeout retires it) are waited for up to that timeout, then refused; a full ring (the kernel
 * waiting for the program) is refused. At the restore the new ring's kernel is moved to the same
 * block by frames of cryo's own sent to it over lo (up for that time if it was down) and given back
 * as they are handed over, then
 * the program's blocks are written back, numbered on from the kernel's new count.
 */
public record PacketRingState(int blockSize, int blockNr, int frameSize, int frameNr, int retireTmo, int sizeofPriv,
                              int features, int current, List<Block> userBlocks, List<Mapping> mappedAt) {
    public PacketRingState {
        userBlocks = List.copyOf(userBlocks);
        mappedAt = List.copyOf(mappedAt);
    }

    /** Where the program maps the whole ring, and with which protection. */
    public record Mapping(long start, int prot) {}

    /** One block handed to the program ({@code TP_STATUS_USER}), whole. */
    public record Block(int index, byte[] bytes) {}

    /** An ethertype of the local experimental range: cryo's own frames that move a restored ring on. */
    private static final int FILLER = 0x88b5;
    private static final int MAX_BLOCKS = 1 << 16, MAX_BLOCK = 1 << 28;

    long bytes() {
        return (long) blockSize * blockNr;
    }

    static PacketRingState dump(SocketProbe p, SockDiag.PacketSocket d, java.util.function.Supplier<List<Mapping>> mappings) {
        SockDiag.PacketRing r = d.rx();
        String what = "packet socket " + p.ino + "'s receive ring (" + r.blockNr() + " blocks of " + r.blockSize() + " bytes)";
        if (d.version() != PacketRing.TPACKET_V3) {
            throw p.refuse(what + " is a TPACKET_V" + (d.version() + 1) + " ring, whose frames carry no sequence number:"
                    + " where the kernel writes next cannot be found; only TPACKET_V3 rings are carried");
        }
        if (r.blockNr() > MAX_BLOCKS || r.blockSize() > MAX_BLOCK) {
            throw p.refuse(what + " is larger than cryo carries");
        }
        if (d.protocol() == 0) { // the restore moves the ring on over lo, then binds it to its protocol
            throw p.refuse(what + " is on a socket that receives no protocol yet; not supported");
        }
        List<Mapping> mappedAt = mappings.get();
        long limit = System.nanoTime() + (r.retireTmo() + 500L) * 1_000_000;
        try (PacketRing ring = PacketRing.map(p.sock, r.blockSize(), r.blockNr(), false)) {
            while (true) {
                int c = ring.current();
                if (ring.status(c) != PacketRing.TP_STATUS_KERNEL) {
                    throw p.refuse(what + " is full: the kernel waits for the program to give block " + c
                            + " back; a full ring is not supported");
                }
                if (ring.packets(c) == 0) {
                    List<Block> user = new ArrayList<>();
                    for (int i = 0; i < ring.blocks(); i++) {
                        if (ring.status(i) != PacketRing.TP_STATUS_KERNEL) {
                            user.add(new Block(i, ring.read(i)));
                        }
                    }
                    return new PacketRingState(r.blockSize(), r.blockNr(), r.frameSize(), r.frameNr(), r.retireTmo(),
                            r.sizeofPriv(), r.features(), c, user, mappedAt);
                }
                if (System.nanoTime() - limit > 0) { // frames keep coming: the block never settles
                    throw p.refuse(what + ": block " + c + " holds " + ring.packets(c) + " frames the kernel caught and"
                            + " has not handed to the program yet (and still did after its " + r.retireTmo() + " ms"
                            + " timeout); they cannot be carried");
                }
                sleep(10);
            }
        }
    }

    /**
     * Sets the ring up on the new socket (its TPACKET version already set), moves the kernel to the
     * dumped block and writes the program's blocks back; the socket is then bound by the caller.
     */
    void restore(Fd s) {
        PacketRing.setUp(s, blockSize, blockNr, frameSize, frameNr, retireTmo, sizeofPriv, features);
        try (PacketRing ring = PacketRing.map(s, blockSize, blockNr, true)) {
            // one lap more than needed, so every block the program holds can be numbered below the current one
            advance(s, ring, current + blockNr);
            long seq = ring.seq(current);
            for (Block b : userBlocks) {
                ring.write(b.index(), b.bytes());
                ring.setSeq(b.index(), seq - Math.floorMod(current - b.index(), blockNr));
            }
        }
    }

    /**
     * Makes the kernel hand over {@code retirements} blocks, each given back at once: large frames
     * of cryo's over lo fill them, and the last one is handed over by its timeout, so the block
     * then opened is empty.
     */
    private void advance(Fd s, PacketRing ring, int retirements) {
        int lo = PacketSockets.ifIndex(s, "lo");
        PacketSockets.bind(s, FILLER, lo);
        boolean down = !PacketSockets.isUp(s, "lo"); // a namespace of the tree's may keep it down: up for this only
        if (down) {
            PacketSockets.setUp(s, "lo", true);
        }
        try (Fd tx = Sockets.socket(dev.cryo.kernel.net.SockAddr.AF_PACKET, Sockets.SOCK_RAW, 0)) {
            int big = Math.min(blockSize, 60000);
            int done = 0;
            long limit = System.nanoTime() + (retireTmo + 5000L) * 1_000_000;
            while (done < retirements) {
                int b = done % blockNr;
                if (ring.status(b) != PacketRing.TP_STATUS_KERNEL) {
                    ring.setStatus(b, PacketRing.TP_STATUS_KERNEL);
                    done++;
                    continue;
                }
                if (System.nanoTime() - limit > 0) {
                    throw new RestoreException("packet socket: its new ring did not reach block " + current
                            + " (" + done + " of " + retirements + " blocks handed over)");
                }
                boolean last = done == retirements - 1;
                if (!last || ring.packets(b) == 0) {
                    int before = ring.packets(b);
                    send(tx, lo, last ? 64 : big);
                    awaitChange(ring, b, before);
                } else {
                    sleep(5); // the timeout hands it over
                }
            }
        } finally {
            if (down) {
                PacketSockets.setUp(s, "lo", false);
            }
        }
    }

    private static void send(Fd tx, int lo, int length) {
        byte[] frame = new byte[length];
        frame[12] = (byte) (FILLER >> 8);
        frame[13] = (byte) FILLER;
        PacketSockets.sendTo(tx, frame, lo);
    }

    /** Until the frame just sent is in block {@code b} or has made the kernel hand it over. */
    private static void awaitChange(PacketRing ring, int b, int before) {
        for (int i = 0; i < 2000 && ring.packets(b) == before && ring.status(b) == PacketRing.TP_STATUS_KERNEL; i++) {
            sleep(1);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting on a packet ring", e);
        }
    }

    static void write(Output out, PacketRingState r) {
        for (int v : new int[] {r.blockSize, r.blockNr, r.frameSize, r.frameNr, r.retireTmo, r.sizeofPriv, r.features,
                r.current}) {
            out.writeInt(v);
        }
        out.writeVarInt(r.userBlocks.size(), true);
        for (Block b : r.userBlocks) {
            out.writeVarInt(b.index(), true);
            ModelFields.writeBytes(out, b.bytes(), MAX_BLOCK, "PacketRingState.block");
        }
        out.writeVarInt(r.mappedAt.size(), true);
        for (Mapping m : r.mappedAt) {
            out.writeLong(m.start());
            out.writeVarInt(m.prot(), true);
        }
    }

    static PacketRingState read(Input in) {
        int[] v = new int[8];
        for (int i = 0; i < v.length; i++) {
            v[i] = in.readInt();
        }
        int n = ModelFields.readCount(in, "PacketRingState", MAX_BLOCKS, "blocks");
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            blocks.add(new Block(in.readVarInt(true), ModelFields.readBytes(in, MAX_BLOCK, "PacketRingState.block")));
        }
        int m = ModelFields.readCount(in, "PacketRingState", 1024, "mappings");
        List<Mapping> at = new ArrayList<>();
        for (int i = 0; i < m; i++) {
            at.add(new Mapping(in.readLong(), in.readVarInt(true)));
        }
        return new PacketRingState(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], blocks, at);
    }
}
