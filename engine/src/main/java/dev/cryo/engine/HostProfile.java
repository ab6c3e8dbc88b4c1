package dev.cryo.engine;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.Auxv;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a host must share with another for a tree dumped on one to run on the other, compared
 * before a migration freezes anything: the size of the signal frame the kernel gives (it grows
 * with the XSAVE features the CPU and kernel enable, whose registers every thread's image holds),
 * the CPU's instruction-set extensions (a program picks its code paths by them once, at start: on
 * a CPU without one it dies of SIGILL), and the vDSO (a thread may be stopped inside it, and the
 * restore moves the dumped one into place: another kernel build has other code there).
 *
 * <p>Encoded as one line for the agents' wire ({@link #encode}, {@link #decode}).
 */
public record HostProfile(long sigFrame, Set<String> isa, String vdso) {
    /** AT_MINSIGSTKSZ (Linux 5.14+ on x86): the signal frame, XSAVE area included. */
    private static final long AT_MINSIGSTKSZ = 51;

    public HostProfile {
        isa = java.util.Collections.unmodifiableSet(new TreeSet<>(isa));
    }

    private static volatile HostProfile local;

    /** This host's, read once (the CPU and kernel do not change under a running agent). */
    public static HostProfile local() {
        HostProfile p = local;
        if (p == null) {
            p = read();
            local = p;
        }
        return p;
    }

    private static HostProfile read() {
        long frame = 0;
        try {
            frame = Auxv.parse(Files.readAllBytes(Path.of("/proc/self/auxv"))).value(AT_MINSIGSTKSZ).orElse(0);
        } catch (IOException | RuntimeException e) {
            // unknown: compared as 0, which only matches another unknown
        }
        return new HostProfile(frame, isaFlags(), readVdso());
    }

    /** The user-visible instruction-set extensions among /proc/cpuinfo's flags. */
    private static Set<String> isaFlags() {
        Set<String> out = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    for (String f : line.substring(line.indexOf(':') + 1).trim().split("\\s+")) {
                        if (isIsa(f)) {
                            out.add(f);
                        }
                    }
                    break;
                }
            }
        } catch (IOException e) {
            // none known: nothing to require of the other host
        }
        return out;
    }

    private static final Set<String> ISA = Set.of("mmx", "fxsr", "cx8", "cmov", "cx16", "popcnt", "abm", "movbe",
            "aes", "pclmulqdq", "vpclmulqdq", "vaes", "gfni", "fma", "f16c", "bmi1", "bmi2", "adx", "rdrand", "rdseed",
            "sha_ni", "xsave", "xsaveopt", "xsavec", "xsaves", "fsgsbase", "erms", "fsrm", "clflushopt", "clwb",
            "rdpid", "rdtscp", "lm", "lahf_lm", "movdiri", "movdir64b", "serialize", "pku", "ospke", "waitpkg",
            "cldemote", "rtm", "hle", "pconfig", "wbnoinvd", "avx_vnni", "avx_vnni_int8", "avx_ifma", "cmpccxadd",
            "prefetchw", "3dnowprefetch", "sse4a", "xop", "fma4", "tbm", "clzero", "mwaitx", "sme", "lam", "user_shstk");

    private static boolean isIsa(String f) {
        return ISA.contains(f) || f.startsWith("sse") || f.startsWith("ssse") || f.startsWith("avx")
                || f.startsWith("amx") || f.startsWith("pni");
    }

    /** "[vvar] 4, [vvar_vclock] 2, [vdso] 2, sha256 …" of cryo's own vDSO (every process gets the same). */
    private static String readVdso() {
        List<String> parts = new ArrayList<>();
        String hash = "";
        try {
            Pid self = Pid.of((int) ProcessHandle.current().pid());
            for (MapsEntry m : ProcFs.maps(self)) {
                if (m.isVvar() || m.isVdso()) {
                    parts.add(m.path() + " " + m.pages());
                }
                if (m.isVdso()) {
                    byte[] code = Sys.read(self, m.start(), (int) (m.end() - m.start()));
                    hash = java.util.HexFormat.of().formatHex(
                            java.security.MessageDigest.getInstance("SHA-256").digest(code), 0, 8);
                }
            }
        } catch (RuntimeException | java.security.NoSuchAlgorithmException e) {
            return "unknown";
        }
        return String.join(", ", parts) + ", code " + hash;
    }

    /**
     * Why a tree dumped here cannot run on {@code there} (named {@code name} in the messages); empty
     * when it can.
     */
    public List<String> mismatches(HostProfile there, String name) {
        List<String> out = new ArrayList<>();
        Set<String> missing = new TreeSet<>(isa);
        missing.removeAll(there.isa());
        if (!missing.isEmpty()) {
            out.add(name + "'s CPU lacks " + String.join(", ", missing) + ", which this one has (a program may use"
                    + " them and would die of SIGILL there)");
        }
        if (sigFrame != there.sigFrame()) {
            out.add(name + "'s CPU and kernel save other registers (XSAVE area: a signal frame of " + there.sigFrame()
                    + " bytes there, " + sigFrame + " here)");
        }
        if (!vdso.equals(there.vdso())) {
            out.add(name + " runs another kernel build (its vDSO is " + there.vdso() + ", here " + vdso + ")");
        }
        return out;
    }

    /** One line: "sigframe=N;isa=a,b;vdso=…". */
    public String encode() {
        return "sigframe=" + sigFrame + ";isa=" + String.join(",", isa) + ";vdso=" + vdso;
    }

    /** The profile an agent sent; null when {@code s} is not one (an older agent sent nothing). */
    public static HostProfile decode(String s) {
        if (s == null || !s.startsWith("sigframe=")) {
            return null;
        }
        String[] f = s.split(";", 3);
        if (f.length != 3 || !f[1].startsWith("isa=") || !f[2].startsWith("vdso=")) {
            return null;
        }
        try {
            Set<String> isa = new TreeSet<>();
            for (String x : f[1].substring(4).split(",")) {
                if (!x.isEmpty()) {
                    isa.add(x);
                }
            }
            return new HostProfile(Long.parseLong(f[0].substring(9)), isa, f[2].substring(5));
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
