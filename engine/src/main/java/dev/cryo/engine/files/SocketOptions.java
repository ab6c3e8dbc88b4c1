package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static dev.cryo.kernel.net.Sockets.*;

/**
 * The socket options a program may have set (buffer sizes, keepalive, linger, timeouts, mark,
 * bound device, TOS, TCP_NODELAY, ...): only those whose value differs from a fresh socket of the
 * same kind are carried, so restore changes nothing the program left alone (an explicit buffer
 * size would switch off TCP's autotuning). Set on the new socket before it is bound.
 */
public record SocketOptions(List<Option> options) {
    public static final int RECORD_ID = 190;
    private static final int IPV6_TCLASS = 67;

    public SocketOptions {
        options = List.copyOf(options);
    }

    /** One option as getsockopt returned it. */
    public record Option(int level, int name, byte[] value) {}

    public static final SocketOptions NONE = new SocketOptions(List.of());

    private record Spec(int level, int name, int size, String label) {}

    private static final List<Spec> COMMON = List.of(
            new Spec(SOL_SOCKET, SO_REUSEADDR, 4, "SO_REUSEADDR"), new Spec(SOL_SOCKET, SO_REUSEPORT, 4, "SO_REUSEPORT"),
            new Spec(SOL_SOCKET, SO_KEEPALIVE, 4, "SO_KEEPALIVE"), new Spec(SOL_SOCKET, SO_BROADCAST, 4, "SO_BROADCAST"),
            new Spec(SOL_SOCKET, SO_OOBINLINE, 4, "SO_OOBINLINE"), new Spec(SOL_SOCKET, SO_PRIORITY, 4, "SO_PRIORITY"),
            new Spec(SOL_SOCKET, SO_LINGER, 8, "SO_LINGER"), new Spec(SOL_SOCKET, SO_RCVLOWAT, 4, "SO_RCVLOWAT"),
            new Spec(SOL_SOCKET, SO_RCVTIMEO, 16, "SO_RCVTIMEO"), new Spec(SOL_SOCKET, SO_SNDTIMEO, 16, "SO_SNDTIMEO"),
            new Spec(SOL_SOCKET, SO_MARK, 4, "SO_MARK"), new Spec(SOL_SOCKET, SO_TIMESTAMP, 4, "SO_TIMESTAMP"),
            new Spec(SOL_SOCKET, SO_BINDTODEVICE, 16, "SO_BINDTODEVICE"),
            new Spec(SOL_SOCKET, SO_DONTROUTE, 4, "SO_DONTROUTE"), new Spec(SOL_SOCKET, SO_NO_CHECK, 4, "SO_NO_CHECK"),
            new Spec(SOL_SOCKET, SO_LOCK_FILTER, 4, "SO_LOCK_FILTER"));
    /** The largest option value: a classic BPF filter of BPF_MAXINSNS (4096) instructions. */
    private static final int MAX_VALUE = 4096 * BPF_INSN;
    private static final List<Spec> BUFFERS = List.of(
            new Spec(SOL_SOCKET, SO_SNDBUF, 4, "SO_SNDBUF"), new Spec(SOL_SOCKET, SO_RCVBUF, 4, "SO_RCVBUF"));
    private static final List<Spec> UNIX = List.of(
            new Spec(SOL_SOCKET, SO_PASSCRED, 4, "SO_PASSCRED"), new Spec(SOL_SOCKET, SO_PASSSEC, 4, "SO_PASSSEC"),
            new Spec(SOL_SOCKET, SO_PEEK_OFF, 4, "SO_PEEK_OFF"));
    private static final List<Spec> IP4 = List.of(
            new Spec(SOL_IP, IP_TOS, 4, "IP_TOS"), new Spec(SOL_IP, IP_TTL, 4, "IP_TTL"),
            new Spec(SOL_IP, IP_FREEBIND, 4, "IP_FREEBIND"), new Spec(SOL_IP, IP_TRANSPARENT, 4, "IP_TRANSPARENT"));
    private static final List<Spec> IP6 = List.of(
            new Spec(SOL_IPV6, IPV6_V6ONLY, 4, "IPV6_V6ONLY"), new Spec(SOL_IPV6, IPV6_TCLASS, 4, "IPV6_TCLASS"),
            new Spec(SOL_IP, IP_FREEBIND, 4, "IP_FREEBIND"), new Spec(SOL_IP, IP_TRANSPARENT, 4, "IP_TRANSPARENT"));
    private static final List<Spec> TCP = List.of(
            new Spec(SOL_TCP, TCP_NODELAY, 4, "TCP_NODELAY"), new Spec(SOL_TCP, TCP_CORK, 4, "TCP_CORK"),
            new Spec(SOL_TCP, TCP_KEEPIDLE, 4, "TCP_KEEPIDLE"), new Spec(SOL_TCP, TCP_KEEPINTVL, 4, "TCP_KEEPINTVL"),
            new Spec(SOL_TCP, TCP_KEEPCNT, 4, "TCP_KEEPCNT"), new Spec(SOL_TCP, TCP_USER_TIMEOUT, 4, "TCP_USER_TIMEOUT"));

    private static final Map<String, Map<Spec, byte[]>> DEFAULTS = new ConcurrentHashMap<>();

    /**
     * The options of {@code s} that differ from a fresh socket's. {@code withBuffers}: whether buffer
     * sizes count (not for established TCP, whose buffers the kernel tunes by itself).
     */
    public static SocketOptions dump(Fd s, int family, int type, int protocol, boolean withBuffers) {
        List<Spec> specs = specs(family, type, protocol, withBuffers);
        Map<Spec, byte[]> fresh = DEFAULTS.computeIfAbsent(family + "/" + type + "/" + protocol, k -> {
            try (Fd f = Sockets.socket(family, type, protocol)) {
                Map<Spec, byte[]> m = new ConcurrentHashMap<>();
                for (Spec sp : specs(family, type, protocol, true)) {
                    byte[] v = read(f, sp);
                    if (v != null) {
                        m.put(sp, v);
                    }
                }
                return m;
            }
        });
        List<Option> out = new ArrayList<>();
        for (Spec sp : specs) {
            byte[] v = read(s, sp);
            if (v != null && !Arrays.equals(v, fresh.get(sp))) {
                out.add(new Option(sp.level(), sp.name(), v));
            }
        }
        byte[] filter = Sockets.filter(s); // null (eBPF) is refused by SocketProbe
        if (filter != null && filter.length > 0) {
            out.add(new Option(SOL_SOCKET, SO_ATTACH_FILTER, filter));
        }
        return new SocketOptions(out);
    }

    private static byte[] read(Fd s, Spec sp) {
        try {
            return Sockets.getBytes(s, sp.level(), sp.name(), sp.size());
        } catch (SyscallException e) {
            return null; // not offered by this kind of socket
        }
    }

    private static List<Spec> specs(int family, int type, int protocol, boolean withBuffers) {
        List<Spec> l = new ArrayList<>(COMMON);
        if (withBuffers) {
            l.addAll(BUFFERS);
        }
        if (family == SockAddr.AF_UNIX) {
            l.addAll(UNIX);
        } else if (family == SockAddr.AF_INET) {
            l.addAll(IP4);
        } else if (family == SockAddr.AF_INET6) {
            l.addAll(IP6);
        }
        if ((family == SockAddr.AF_INET || family == SockAddr.AF_INET6) && type == SOCK_STREAM) {
            l.addAll(TCP);
        }
        return l;
    }

    /**
     * Sets every carried option on a new socket; buffer sizes exactly, as root may (the *FORCE
     * variants); the socket filter first, since SO_LOCK_FILTER forbids attaching one afterwards.
     */
    public void apply(Fd s) {
        byte[] filter = get(SOL_SOCKET, SO_ATTACH_FILTER);
        if (filter != null) {
            Sockets.attachFilter(s, filter);
        }
        for (Option o : options) {
            if (o.level() == SOL_SOCKET && o.name() == SO_ATTACH_FILTER) {
                continue;
            } else if (o.level() == SOL_SOCKET && (o.name() == SO_SNDBUF || o.name() == SO_RCVBUF)) {
                int doubled = java.nio.ByteBuffer.wrap(o.value()).order(java.nio.ByteOrder.nativeOrder()).getInt();
                Sockets.setInt(s, SOL_SOCKET, o.name() == SO_SNDBUF ? SO_SNDBUFFORCE : SO_RCVBUFFORCE, doubled / 2);
            } else {
                Sockets.setBytes(s, o.level(), o.name(), o.value());
            }
        }
    }

    /** The value of one carried option, or null. */
    public byte[] get(int level, int name) {
        for (Option o : options) {
            if (o.level() == level && o.name() == name) {
                return o.value();
            }
        }
        return null;
    }

    public Map<String, Object> show() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (Option o : options) {
            String label = o.level() == SOL_SOCKET && o.name() == SO_ATTACH_FILTER ? "SO_ATTACH_FILTER (instructions)"
                    : "level " + o.level() + " option " + o.name();
            for (List<Spec> l : List.of(COMMON, BUFFERS, UNIX, IP4, IP6, TCP)) {
                for (Spec sp : l) {
                    if (sp.level() == o.level() && sp.name() == o.name()) {
                        label = sp.label();
                    }
                }
            }
            m.put(label, o.level() == SOL_SOCKET && o.name() == SO_ATTACH_FILTER ? o.value().length / BPF_INSN
                    : o.value().length == 4
                    ? java.nio.ByteBuffer.wrap(o.value()).order(java.nio.ByteOrder.nativeOrder()).getInt()
                    : hex(o.value()));
        }
        return m;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x));
        }
        return s.toString();
    }

    public static final RecordCodec<SocketOptions> CODEC = RecordCodec.of(SocketOptions.class, RECORD_ID, 1, (out, o) -> {
        out.writeVarInt(o.options().size(), true);
        for (Option x : o.options()) {
            out.writeVarInt(x.level(), true);
            out.writeVarInt(x.name(), true);
            ModelFields.writeBytes(out, x.value(), MAX_VALUE, "SocketOptions.value");
        }
    }, (in, version) -> {
        int n = in.readVarInt(true);
        if (n < 0 || n > 64) {
            throw new com.esotericsoftware.kryo.KryoException("SocketOptions: " + n + " options");
        }
        List<Option> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(new Option(in.readVarInt(true), in.readVarInt(true), ModelFields.readBytes(in, MAX_VALUE, "SocketOptions.value")));
        }
        return new SocketOptions(l);
    });
}
