package dev.cryo.engine.files;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Images made before the ptys of a container's devpts were carried still read: their ptys are the host's. */
class PtyRecordVersionsTest {
    private static final byte[] TERMIOS = new byte[dev.cryo.kernel.Terminals.TERMIOS2_SIZE];

    @Test
    void aVersion1MasterIsAHostPtyWithNoSessionRecorded() {
        PtyMasterHandler.PtyMaster m = new PtyMasterHandler.PtyMaster(3, TERMIOS, new byte[8], true, false, false, false,
                false, new byte[dev.cryo.kernel.Terminals.TERMIOS_SIZE], 1000, 5, 0620,
                new PtyQueues.Queued(List.of("one\n".getBytes()), "ha".getBytes(), "out".getBytes()), false,
                0x2900000029L, 4242, "/dev/pts", 4243, "/dev/ptmx");
        Output out = new Output(4096);
        PtyMasterHandler.CODEC.write(out, m);
        PtyMasterHandler.PtyMaster v3 = PtyMasterHandler.CODEC.read(new Input(out.toBytes()), 3);
        assertEquals(List.of(0x2900000029L, 4242, "/dev/pts", 4243, "/dev/ptmx"), List.of(v3.instance(), v3.maker(),
                v3.mount(), v3.session(), v3.path()));
        // version 2 ends before the path
        PtyMasterHandler.PtyMaster v2 = PtyMasterHandler.CODEC.read(new Input(out.toBytes()), 2);
        assertEquals(List.of(0x2900000029L, 4242, "/dev/pts", 4243, ""), List.of(v2.instance(), v2.maker(), v2.mount(),
                v2.session(), v2.path()));
        // a version 1 record ends after outputStopped
        PtyMasterHandler.PtyMaster v1 = PtyMasterHandler.CODEC.read(new Input(out.toBytes()), 1);
        assertEquals(List.of(0L, 0, "", 0, ""), List.of(v1.instance(), v1.maker(), v1.mount(), v1.session(), v1.path()));
        assertEquals(3, v1.index());
        assertEquals("ha", new String(v1.queued().pending()));
    }

    @Test
    void aVersion1SlaveIsOfTheHostsDevpts() {
        PtySlaveHandler.PtySlave s = new PtySlaveHandler.PtySlave(2, "/dev/pts/2", false, new byte[0], 0x2900000029L);
        Output out = new Output(256);
        PtySlaveHandler.CODEC.write(out, s);
        assertEquals(0x2900000029L, PtySlaveHandler.CODEC.read(new Input(out.toBytes()), 2).instance());
        PtySlaveHandler.PtySlave v1 = PtySlaveHandler.CODEC.read(new Input(out.toBytes()), 1);
        assertEquals(0L, v1.instance());
        assertEquals("/dev/pts/2", v1.path());
    }

    @Test
    void aSlaveBeforeVersion3IsNotHungUp() {
        PtySlaveHandler.PtySlave s = new PtySlaveHandler.PtySlave(7, "/dev/pts/7 (deleted)", false, new byte[0], 0, true);
        Output out = new Output(256);
        PtySlaveHandler.CODEC.write(out, s);
        PtySlaveHandler.PtySlave v3 = PtySlaveHandler.CODEC.read(new Input(out.toBytes()), 3);
        assertEquals(true, v3.hungUp());
        assertEquals("/dev/pts/7 (deleted)", v3.path());
        // version 2 ends after the instance
        assertEquals(false, PtySlaveHandler.CODEC.read(new Input(out.toBytes()), 2).hungUp());
    }

    @Test
    void aHungUpSlaveBeforeVersion4NamesNoMountOfItsInstance() {
        PtySlaveHandler.PtySlave s = new PtySlaveHandler.PtySlave(0, "/dev/pts/0 (deleted)", false, new byte[0],
                0x2900000029L, true, 4242, "/dev/pts");
        Output out = new Output(256);
        PtySlaveHandler.CODEC.write(out, s);
        PtySlaveHandler.PtySlave v4 = PtySlaveHandler.CODEC.read(new Input(out.toBytes()), 4);
        assertEquals(List.of(4242, "/dev/pts"), List.of(v4.maker(), v4.mount()));
        PtySlaveHandler.PtySlave v3 = PtySlaveHandler.CODEC.read(new Input(out.toBytes()), 3);
        assertEquals(List.of(true, 0, ""), List.of(v3.hungUp(), v3.maker(), v3.mount()));
    }
}
