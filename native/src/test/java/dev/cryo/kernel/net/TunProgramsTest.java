package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The eBPF programs of a tun device of this process's, read by cryo's BPF iterator. */
class TunProgramsTest {
    private static final long TUNSETSTEERINGEBPF = 0x800454e0L, TUNSETFILTEREBPF = 0x800454e1L;

    /** A socket filter program that returns 0 ("r0 = 0; exit"): the kind both ioctls take. */
    private static Fd socketFilter() {
        Memory insns = new Memory(16);
        insns.clear();
        insns.setByte(0, (byte) 0xb7);
        insns.setByte(8, (byte) 0x95);
        Memory license = new Memory(4);
        license.setString(0, "GPL");
        Memory attr = new Memory(128);
        attr.clear();
        attr.setInt(0, 1); // BPF_PROG_TYPE_SOCKET_FILTER
        attr.setInt(4, 2);
        attr.setLong(8, Sys.address(insns));
        attr.setLong(16, Sys.address(license));
        return new Fd((int) Sys.call(() -> "bpf(BPF_PROG_LOAD)", SyscallNr.BPF, 5, Sys.address(attr), 128, 0));
    }

    private static void set(Fd tun, long request, Fd prog) {
        Memory fd = new Memory(4);
        fd.setInt(0, prog.value());
        Sys.call(() -> "ioctl(TUNSET*EBPF)", SyscallNr.IOCTL, tun.value(), request, Sys.address(fd), 0);
    }

    @Test
    void aTunDevicesSteeringAndFilterProgramsAreSeenFromItsFile() {
        int pid = (int) ProcessHandle.current().pid();
        String name = "cryotp" + pid % 100000;
        try (Fd tun = Sys.open("/dev/net/tun", Fcntl.O_RDWR); Fd plain = Sys.open("/dev/null", Fcntl.O_RDWR)) {
            TunDevices.attach(tun, name, TunDevices.IFF_TUN | 0x1000); // IFF_NO_PI; made, gone with the file
            assertFalse(TunPrograms.of(pid).containsKey(tun.value()), "no program yet");
            try (Fd steering = socketFilter(); Fd filter = socketFilter()) {
                set(tun, TUNSETSTEERINGEBPF, steering);
                TunPrograms.Attached a = TunPrograms.of(pid).get(tun.value());
                assertNotNull(a);
                assertTrue(a.steeringId() > 0 && a.filterId() == 0, a.toString());
                set(tun, TUNSETFILTEREBPF, filter);
                TunPrograms.Attached b = TunPrograms.of(pid).get(tun.value());
                assertEquals(a.steeringId(), b.steeringId());
                assertTrue(b.filterId() > 0 && b.filterId() != b.steeringId(), b.toString());
                assertFalse(TunPrograms.of(pid).containsKey(plain.value()));
            }
        }
    }
}
