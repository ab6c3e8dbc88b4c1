package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class UserNsImageTest {
    /** /proc/PID/uid_map of a rootless container as cryo's namespace reads it (blank-padded columns). */
    static final String ROOTLESS = "         0       1000          1\n         1     100000      65536\n";

    @Test
    void aMapIsParsedAndNamesIdsInsideBothWays() {
        List<UserNsImage.IdRange> map = UserNsImage.parse("uid_map", ROOTLESS);
        assertEquals(List.of(new UserNsImage.IdRange(0, 1000, 1), new UserNsImage.IdRange(1, 100000, 65536)), map);
        assertEquals(0, UserNsImage.inside(map, 1000));
        assertEquals(34, UserNsImage.inside(map, 100033));
        assertEquals(-1, UserNsImage.inside(map, 0), "cryo's root is nobody in there");
        assertEquals("0 1000 1\n1 100000 65536\n", UserNsImage.text(map));
        assertEquals("size=4096k,mode=755,uid=0,gid=34", UserNamespaceRestore.insideOptions(
                new UserNsImage(7, map, map, false, List.of(7)), "size=4096k,mode=755,uid=1000,gid=100033", "tmpfs"));
    }

    @Test
    void theRecordRoundTripsAndABadRangeIsRefused() {
        UserNsImage u = new UserNsImage(4242, UserNsImage.parse("uid_map", ROOTLESS),
                List.of(new UserNsImage.IdRange(0, 1000, 1)), false, List.of(4242, 4243), 1000);
        Output out = new Output(1024);
        UserNsImage.CODEC.write(out, u);
        assertEquals(u, UserNsImage.CODEC.read(new Input(out.toBytes()), 2));
        // a version 1 record ends before the owner: unknown
        assertEquals(new UserNsImage(u.pid(), u.uidMap(), u.gidMap(), false, u.members()),
                UserNsImage.CODEC.read(new Input(out.toBytes()), 1));

        Output bad = new Output(64);
        bad.writeVarInt(1, true);
        bad.writeVarInt(1, true);
        bad.writeVarLong(0, true);
        bad.writeVarLong(0, true);
        bad.writeVarLong(0, true); // a range of no ids
        KryoException e = assertThrows(KryoException.class, () -> UserNsImage.CODEC.read(new Input(bad.toBytes()), 1));
        assertTrue(e.getMessage().contains("out of bounds"), e.getMessage());
    }
}
