package dev.cryo.actors.cluster;

import dev.cryo.actors.cluster.AgentProtocol.*;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializerWithStringManifest;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Hand-written binary format for {@link AgentProtocol}: the manifest names the message, fields
 * follow in order; strings and lists carry a length that is bounded before anything is allocated.
 */
public final class AgentSerializer extends SerializerWithStringManifest {
    private static final int MAX_STRING = 64 << 10, MAX_LIST = 1 << 16;

    private final ActorRefResolver resolver;

    public AgentSerializer(ExtendedActorSystem system) {
        this.resolver = ActorRefResolver.get(Adapter.toTyped(system));
    }

    @Override
    public int identifier() {
        return 0x63727930; // "cry0"
    }

    @Override
    public String manifest(Object o) {
        return o.getClass().getSimpleName();
    }

    @Override
    public byte[] toBinary(Object o) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            Out w = new Out(out);
            if (o instanceof Describe m) {
                w.ref(m.replyTo());
            } else if (o instanceof Description m) {
                w.str(m.name()).str(m.address()).str(m.dataHost()).i(m.dataPort()).lazy(m.lazy());
            } else if (o instanceof ListAgents m) {
                w.ref(m.replyTo());
            } else if (o instanceof AgentList m) {
                w.strs(m.names()).strs(m.addresses()).strs(m.statuses()).lazy(m.lazy());
            } else if (o instanceof Migrate m) {
                w.i(m.pid()).str(m.to()).b(m.preCopy()).b(m.tcpEstablished()).l(m.maxDowntimeMillis()).ref(m.replyTo());
            } else if (o instanceof MigrateResult m) {
                w.b(m.ok()).str(m.message()).longs(m.roundBytes()).l(m.downtimeMillis()).l(m.totalMillis())
                        .l(m.bytes()).ints(m.pids()).l(m.frozenSendMillis()).l(m.restoreMillis()).longs(m.roundZeroPages());
            } else if (o instanceof PrepareReceive m) {
                w.str(m.id()).ref(m.replyTo());
            } else if (o instanceof ReceiveStatus m) {
                w.str(m.id()).str(m.state()).str(m.message()).str(m.dataHost()).i(m.dataPort()).ints(m.pids())
                        .l(m.restoreMillis());
            } else if (o instanceof Abandon m) {
                w.str(m.id());
            } else {
                throw new IllegalArgumentException("cannot serialize " + o.getClass().getName());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    @Override
    public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            In r = new In(in);
            return switch (manifest) {
                case "Describe" -> new Describe(r.ref());
                case "Description" -> new Description(r.str(), r.str(), r.str(), r.i(), r.lazy());
                case "ListAgents" -> new ListAgents(r.ref());
                case "AgentList" -> new AgentList(r.strs(), r.strs(), r.strs(), r.lazy());
                case "Migrate" -> new Migrate(r.i(), r.str(), r.b(), r.b(), r.l(), r.ref());
                case "MigrateResult" -> new MigrateResult(r.b(), r.str(), r.longs(), r.l(), r.l(), r.l(), r.ints(),
                        r.l(), r.l(), r.longs());
                case "PrepareReceive" -> new PrepareReceive(r.str(), r.ref());
                case "ReceiveStatus" -> new ReceiveStatus(r.str(), r.str(), r.str(), r.str(), r.i(), r.ints(), r.l());
                case "Abandon" -> new Abandon(r.str());
                default -> throw new NotSerializableException("unknown agent message " + manifest);
            };
        } catch (IOException | RuntimeException e) {
            NotSerializableException n = new NotSerializableException("malformed " + manifest + ": " + e.getMessage());
            n.initCause(e);
            throw n;
        }
    }

    private final class Out {
        private final DataOutputStream out;

        Out(DataOutputStream out) {
            this.out = out;
        }

        Out i(int v) throws IOException {
            out.writeInt(v);
            return this;
        }

        Out l(long v) throws IOException {
            out.writeLong(v);
            return this;
        }

        Out b(boolean v) throws IOException {
            out.writeBoolean(v);
            return this;
        }

        Out str(String s) throws IOException {
            byte[] b = (s == null ? "" : s).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            out.writeInt(b.length);
            out.write(b);
            return this;
        }

        Out ref(ActorRef<?> ref) throws IOException {
            return str(resolver.toSerializationFormat(ref));
        }

        Out strs(List<String> l) throws IOException {
            out.writeInt(l.size());
            for (String s : l) str(s);
            return this;
        }

        Out longs(List<Long> l) throws IOException {
            out.writeInt(l.size());
            for (long v : l) out.writeLong(v);
            return this;
        }

        Out ints(List<Integer> l) throws IOException {
            out.writeInt(l.size());
            for (int v : l) out.writeInt(v);
            return this;
        }

        Out lazy(List<AgentProtocol.LazyServed> l) throws IOException {
            out.writeInt(l.size());
            for (AgentProtocol.LazyServed s : l) {
                str(s.agent()).i(s.rootPid()).l(s.pagesIn()).l(s.pagesTotal()).l(s.sinceMillis()).str(s.imageDir());
            }
            return this;
        }
    }

    private final class In {
        private final DataInputStream in;

        In(DataInputStream in) {
            this.in = in;
        }

        int i() throws IOException {
            return in.readInt();
        }

        long l() throws IOException {
            return in.readLong();
        }

        boolean b() throws IOException {
            return in.readBoolean();
        }

        String str() throws IOException {
            int n = bounded(MAX_STRING);
            return new String(in.readNBytes(n), java.nio.charset.StandardCharsets.UTF_8);
        }

        <T> ActorRef<T> ref() throws IOException {
            return resolver.resolveActorRef(str());
        }

        List<String> strs() throws IOException {
            int n = bounded(MAX_LIST);
            List<String> out = new ArrayList<>(n);
            for (int k = 0; k < n; k++) out.add(str());
            return out;
        }

        List<Long> longs() throws IOException {
            int n = bounded(MAX_LIST);
            List<Long> out = new ArrayList<>(n);
            for (int k = 0; k < n; k++) out.add(in.readLong());
            return out;
        }

        List<Integer> ints() throws IOException {
            int n = bounded(MAX_LIST);
            List<Integer> out = new ArrayList<>(n);
            for (int k = 0; k < n; k++) out.add(in.readInt());
            return out;
        }

        List<AgentProtocol.LazyServed> lazy() throws IOException {
            int n = bounded(MAX_LIST);
            List<AgentProtocol.LazyServed> out = new ArrayList<>(n);
            for (int k = 0; k < n; k++) out.add(new AgentProtocol.LazyServed(str(), i(), l(), l(), l(), str()));
            return out;
        }

        private int bounded(int max) throws IOException {
            int n = in.readInt();
            if (n < 0 || n > max) throw new IOException("declared length " + n + " is outside 0.." + max);
            return n;
        }
    }
}
