package dev.cryo.engine.files;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.PacketFrameRing;
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
 * the program's blocks are written back, numbered on from the kernel's new count. A TPACKET_V2
 * ring (Suricata's, Snort 3's) is carried by frames instead ({@link #framed}): the frame the kernel
 * fills next, told by the frames' capture times, every frame's header and the frames the program
 * holds.
 */
public record PacketRingState(int blockSize, int blockNr, int frameSize, int frameNr, int retireTmo, int sizeofPriv,
                              int features, int current, List<Block> userBlocks, List<Mapping> mappedAt, int version,
                              byte[] headers) {
    public PacketRingState {
        userBlocks = List.copyOf(userBlocks);
        mappedAt = List.copyOf(mappedAt);
    }

    /** A TPACKET_V3 ring. */
    public PacketRingState(int blockSize, int blockNr, int frameSize, int frameNr, int retireTmo, int sizeofPriv,
                           int features, int current, List<Block> userBlocks, List<Mapping> mappedAt) {
        this(blockSize, blockNr, frameSize, frameNr, retireTmo, sizeofPriv, features, current, userBlocks, mappedAt,
                PacketRing.TPACKET_V3, new byte[0]);
    }

    /** A TPACKET_V2 ring: frames, not blocks; {@code current} and {@code userBlocks} are frames then. */
    public boolean framed() {
        return version == PacketFrameRing.TPACKET_V2;
    }

    /**
     * Where the program maps the socket's rings (the receive ring, then the transmit ring, whole), with
     * which protection and {@code flags} MAP_SHARED or MAP_PRIVATE (zdtm's packet_sock_mmap maps both
     * rings privately).
     */
    public record Mapping(long start, int prot, int flags) {
        public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02;

        public Mapping(long start, int prot) {
            this(start, prot, MAP_SHARED);
        }
    }

    /** One block handed to the program ({@code TP_STATUS_USER}), whole. */
    public record Block(int index, byte[] bytes) {}

    /** An ethertype of the local experimental range: cryo's own frames that move a restored ring on. */
    private static final int FILLER = 0x88b5;
    private static final int MAX_BLOCKS = 1 << 16, MAX_BLOCK = 1 << 28, MAX_FRAMES = 1 << 20;

    long bytes() {
        return (long) blockSize * blockNr;
    }

    /**
     * A TPACKET_V1/V2 ring neither the kernel nor the program has written to (every byte zero): its
     * parameters only, set up again as they were. The kernel's position in such a ring is its first
     * frame, so nothing is moved (a ring on a socket that receives no protocol, zdtm's packet_sock; a
     * transmit ring never sent from).
     */
    static PacketRingState untouched(SockDiag.PacketRing r, int version, List<Mapping> mappedAt) {
        return new PacketRingState(r.blockSize(), r.blockNr(), r.frameSize(), r.frameNr(), r.retireTmo(), r.sizeofPriv(),
                r.features(), 0, List.of(), mappedAt, version, new byte[0]);
    }

    /** Whether this ring was carried by its parameters only ({@link #untouched}): a V2 ring's headers are never empty. */
    public boolean pristine() {
        return version != PacketRing.TPACKET_V3 && headers.length == 0;
    }

    static PacketRingState dump(SocketProbe p, SockDiag.PacketSocket d, java.util.function.Supplier<List<Mapping>> mappings,
                                boolean untouched) {
        SockDiag.PacketRing r = d.rx();
        if (untouched) {
            return untouched(r, d.version(), mappings.get());
        }
        String what = "packet socket " + p.ino + "'s receive ring (" + r.blockNr() + " blocks of " + r.blockSize() + " bytes)";
        if (d.version() != PacketRing.TPACKET_V3 && d.version() != PacketFrameRing.TPACKET_V2) {
            throw p.refuse(what + " is a TPACKET_V" + (d.version() + 1) + " ring, whose frames carry a capture time in"
                    + " microseconds only: where the kernel writes next cannot be told for sure; only TPACKET_V2 and V3 rings"
                    + " are carried");
        }
        if (r.blockNr() > MAX_BLOCKS || r.blockSize() > MAX_BLOCK || r.frameNr() > MAX_FRAMES) {
            throw p.refuse(what + " is larger than cryo carries");
        }
        if (d.protocol() == 0) { // the restore moves the ring on over lo, then binds it to its protocol
            throw p.refuse(what + " is on a socket that receives no protocol yet; not supported");
        }
        List<Mapping> mappedAt = mappings.get();
        long mapped = r.bytes() + (d.tx() == null ? 0 : d.tx().bytes()); // a transmit ring beside it is mapped too
        if (d.version() == PacketFrameRing.TPACKET_V2) {
            return dumpFrames(p, r, mapped, mappedAt);
        }
        long limit = System.nanoTime() + (r.retireTmo() + 500L) * 1_000_000;
        try (PacketRing ring = PacketRing.map(p.sock, r.blockSize(), r.blockNr(), mapped, false)) {
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
     * A TPACKET_V2 ring, read in one pass in ring order while the kernel may still fill frames: every
     * frame's header, and the frames handed to the program, whole. The frame the kernel fills next
     * is the one after the latest of those read ({@link PacketFrameRing#next}): a frame filled after
     * the pass went by is a packet lost with the killed socket, one filled before it comes is read,
     * so the frames the program holds end where the kernel goes on. A full ring (the kernel drops
     * until the program gives a frame back) is carried as it is.
     */
    private static PacketRingState dumpFrames(SocketProbe p, SockDiag.PacketRing r, long mapped, List<Mapping> mappedAt) {
        try (PacketFrameRing ring = PacketFrameRing.map(p.sock, r.blockSize(), r.blockNr(), r.frameSize(), r.frameNr(),
                mapped, false)) {
            byte[] headers = new byte[ring.frames() * PacketFrameRing.HEADER];
            List<Block> user = new ArrayList<>();
            for (int i = 0; i < ring.frames(); i++) {
                byte[] h = ring.header(i);
                if ((java.nio.ByteBuffer.wrap(h).order(java.nio.ByteOrder.nativeOrder()).getInt(0) & PacketRing.TP_STATUS_USER) != 0) {
                    byte[] whole = ring.read(i); // the program's: the kernel leaves it alone
                    user.add(new Block(i, whole));
                    h = java.util.Arrays.copyOf(whole, PacketFrameRing.HEADER);
                }
                System.arraycopy(h, 0, headers, i * PacketFrameRing.HEADER, PacketFrameRing.HEADER);
            }
            return new PacketRingState(r.blockSize(), r.blockNr(), r.frameSize(), r.frameNr(), 0, 0, 0,
                    PacketFrameRing.next(headers), user, mappedAt, PacketFrameRing.TPACKET_V2, headers);
        }
    }

    /**
     * Sets the ring up on the new socket (its TPACKET version already set), moves the kernel to the
     * dumped block (or frame) and writes the program's blocks (frames) back; the socket is then bound
     * by the caller.
     */
    void restore(Fd s) {
        PacketRing.setUp(s, blockSize, blockNr, frameSize, frameNr, retireTmo, sizeofPriv, features);
        if (pristine()) {
            return;
        }
        if (framed()) {
            restoreFrames(s);
            return;
        }
        try (PacketRing ring = PacketRing.map(s, blockSize, blockNr, bytes(), true)) { // no transmit ring yet
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
     * A TPACKET_V2 ring: the kernel is moved to the dumped frame by as many small frames of cryo's,
     * each given back as it is filled; then every frame's header (its capture time: the frame
     * filled last stays the latest) and the program's frames, whole, are written back.
     */
    private void restoreFrames(Fd s) {
        try (PacketFrameRing ring = PacketFrameRing.map(s, blockSize, blockNr, frameSize, frameNr, bytes(), true)) {
            overLo(s, send -> {
                for (int i = 0; i < current; i++) {
                    send.accept(64);
                    for (int t = 0; t < 2000 && (ring.status(i) & PacketRing.TP_STATUS_USER) == 0; t++) {
                        sleep(1);
                    }
                    if ((ring.status(i) & PacketRing.TP_STATUS_USER) == 0) {
                        throw new RestoreException("packet socket: its new ring did not reach frame " + current + " ("
                                + i + " frames filled)");
                    }
                    ring.setStatus(i, PacketRing.TP_STATUS_KERNEL);
                }
            });
            for (int i = 0; i < ring.frames() && (i + 1) * PacketFrameRing.HEADER <= headers.length; i++) {
                ring.write(i, java.util.Arrays.copyOfRange(headers, i * PacketFrameRing.HEADER, (i + 1) * PacketFrameRing.HEADER));
            }
            for (Block b : userBlocks) {
                ring.write(b.index(), b.bytes());
            }
        }
    }

    /**
     * Makes the kernel hand over {@code retirements} blocks, each given back at once: large frames
     * of cryo's over lo fill them, and the last one is handed over by its timeout, so the block
     * then opened is empty.
     */
    private void advance(Fd s, PacketRing ring, int retirements) {
        overLo(s, send -> {
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
                    send.accept(last ? 64 : big);
                    awaitChange(ring, b, before);
                } else {
                    sleep(5); // the timeout hands it over
                }
            }
        });
    }

    /**
     * Runs {@code moves} with the new socket bound to cryo's own frames on lo (up for that time if
     * a namespace of the tree's keeps it down); {@code moves} sends such frames of a length.
     */
    private static void overLo(Fd s, java.util.function.Consumer<java.util.function.IntConsumer> moves) {
        int lo = PacketSockets.ifIndex(s, "lo");
        PacketSockets.bind(s, FILLER, lo);
        boolean down = !PacketSockets.isUp(s, "lo");
        if (down) {
            PacketSockets.setUp(s, "lo", true);
        }
        try (Fd tx = Sockets.socket(dev.cryo.kernel.net.SockAddr.AF_PACKET, Sockets.SOCK_RAW, 0)) {
            moves.accept(length -> send(tx, lo, length));
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
            out.writeVarInt(m.flags(), true); // PacketSocket v4
        }
        out.writeVarInt(r.version, true); // PacketSocket v3
        ModelFields.writeBytes(out, r.headers, MAX_FRAMES * PacketFrameRing.HEADER, "PacketRingState.headers");
    }

    /**
     * {@code v}: the PacketSocket record's version (3 added the TPACKET version and the frames' headers,
     * 4 the mappings' flags).
     */
    static PacketRingState read(Input in, int v) {
        int[] f = new int[8];
        for (int i = 0; i < f.length; i++) {
            f[i] = in.readInt();
        }
        int n = ModelFields.readCount(in, "PacketRingState", MAX_BLOCKS, "blocks");
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            blocks.add(new Block(in.readVarInt(true), ModelFields.readBytes(in, MAX_BLOCK, "PacketRingState.block")));
        }
        int m = ModelFields.readCount(in, "PacketRingState", 1024, "mappings");
        List<Mapping> at = new ArrayList<>();
        for (int i = 0; i < m; i++) {
            long start = in.readLong();
            int prot = in.readVarInt(true);
            at.add(new Mapping(start, prot, v >= 4 ? in.readVarInt(true) : Mapping.MAP_SHARED));
        }
        if (v < 3) {
            return new PacketRingState(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], blocks, at);
        }
        int version = in.readVarInt(true);
        return new PacketRingState(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], blocks, at, version,
                ModelFields.readBytes(in, MAX_FRAMES * PacketFrameRing.HEADER, "PacketRingState.headers"));
    }
}
