package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.model.codec.ModelFields;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The SysV IPC objects of an ipc namespace the tree made (a container's), which would die with
 * it: shared memory segments with their bytes ({@code pages}: the segment's pages that are not all
 * zeros, by page index), semaphore sets with their values, message queues with their messages
 * and byte limit, each with its id, key, owner and mode; and the namespace's limits
 * ({@code sysctls}: names → values, see {@link #sysctlFile}). Times, creator ids and last-operation pids
 * are the kernel's and come back as the restore's. A segment of huge pages (SHM_HUGETLB) has their
 * size ({@code hugePageKb}, else 0); one marked for removal (IPC_RMID) while attached, as a JVM
 * with {@code -XX:+UseSHM} does, is {@code removed}: made again, then removed once the tasks hold it.
 */
public record IpcImage(List<Segment> segments, List<SemSet> semaphores, List<Queue> queues, Map<String, String> sysctls,
                       List<PosixQueue> posixQueues) {
    public static final IpcImage EMPTY = new IpcImage(List.of(), List.of(), List.of(), Map.of());

    public IpcImage(List<Segment> segments, List<SemSet> semaphores, List<Queue> queues, Map<String, String> sysctls) {
        this(segments, semaphores, queues, sysctls, List.of());
    }

    /**
     * A POSIX message queue of the namespace (its own mqueue file system), "/NAME", made again with its
     * mode, owner, limits and messages in their order.
     */
    public record PosixQueue(String name, dev.cryo.engine.files.MessageQueueHandler.Removed contents) {
        @Override
        public boolean equals(Object o) {
            if (!(o instanceof PosixQueue q) || !name.equals(q.name)) {
                return false;
            }
            var a = contents;
            var b = q.contents;
            return a.mode() == b.mode() && a.uid() == b.uid() && a.gid() == b.gid() && a.maxMsg() == b.maxMsg()
                    && a.msgSize() == b.msgSize() && a.priorities().equals(b.priorities())
                    && a.messages().size() == b.messages().size() && java.util.stream.IntStream.range(0, a.messages().size())
                    .allMatch(i -> java.util.Arrays.equals(a.messages().get(i), b.messages().get(i)));
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + contents.priorities().hashCode();
        }
    }

    public IpcImage withPosixQueues(List<PosixQueue> q) {
        return new IpcImage(segments, semaphores, queues, sysctls, q);
    }
    /** Most bytes of segments and messages carried (they go in one record). */
    public static final long MAX_BYTES = 32L << 20;
    /** The ipc namespace's limits a restore sets again (CRIU's ipc_var set). */
    public static final List<String> SYSCTLS = List.of("shmmax", "shmall", "shmmni", "shm_rmid_forced", "msgmax",
            "msgmnb", "msgmni", "sem", "auto_msgmni", "fs/mqueue/queues_max", "fs/mqueue/msg_max",
            "fs/mqueue/msgsize_max", "fs/mqueue/msg_default", "fs/mqueue/msgsize_default", "msg_next_id",
            "sem_next_id", "shm_next_id");

    /**
     * A limit that is the id the namespace's next object of a kind gets: set once the objects are made
     * (making one resets it to -1, the value of a new namespace's, which is not carried).
     */
    public static boolean nextId(String name) {
        return name.endsWith("_next_id");
    }

    /**
     * The file of limit {@code name} (each reads the namespace of the task reading it): below
     * /proc/sys/kernel by its bare name, as images before the POSIX queue limits have them, else
     * below /proc/sys (fs/mqueue's: zdtm's ipc_namespace found them back at a new namespace's).
     */
    public static java.nio.file.Path sysctlFile(String name) {
        return java.nio.file.Path.of(name.contains("/") ? "/proc/sys/" + name : "/proc/sys/kernel/" + name);
    }

    public record Owner(int id, int key, int mode, int uid, int gid) {}

    public record Segment(Owner owner, long size, Map<Integer, byte[]> pages, long hugePageKb, boolean removed) {
        public Segment {
            pages = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(pages));
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Segment s) || !owner.equals(s.owner) || size != s.size || hugePageKb != s.hugePageKb
                    || removed != s.removed || !pages.keySet().equals(s.pages.keySet())) {
                return false;
            }
            return pages.entrySet().stream().allMatch(e -> java.util.Arrays.equals(e.getValue(), s.pages.get(e.getKey())));
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(owner, size, pages.keySet());
        }
    }

    public record SemSet(Owner owner, int[] values) {
        @Override
        public boolean equals(Object o) {
            return o instanceof SemSet s && owner.equals(s.owner) && java.util.Arrays.equals(values, s.values);
        }

        @Override
        public int hashCode() {
            return owner.hashCode() * 31 + java.util.Arrays.hashCode(values);
        }
    }

    public record Message(long type, byte[] data) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Message m && type == m.type && java.util.Arrays.equals(data, m.data);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(type) * 31 + java.util.Arrays.hashCode(data);
        }
    }

    public record Queue(Owner owner, long qbytes, List<Message> messages) {
        public Queue {
            messages = List.copyOf(messages);
        }
    }

    public IpcImage {
        segments = List.copyOf(segments);
        semaphores = List.copyOf(semaphores);
        queues = List.copyOf(queues);
        sysctls = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(sysctls));
        posixQueues = List.copyOf(posixQueues);
    }

    public boolean isEmpty() {
        return segments.isEmpty() && semaphores.isEmpty() && queues.isEmpty() && posixQueues.isEmpty();
    }

    /** "2 shared memory segments, 1 semaphore set" for messages and {@code cryo show}. */
    public Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("shm", segments.stream().map(s -> describe(s.owner()) + ", " + s.size() + " bytes"
                + (s.hugePageKb() != 0 ? " in huge pages of " + s.hugePageKb() + " kB" : "")
                + (s.removed() ? ", marked for removal" : "") + ", " + s.pages().size() + " pages carried").toList());
        m.put("sem", semaphores.stream().map(s -> describe(s.owner()) + ", " + s.values().length + " semaphores").toList());
        m.put("msg", queues.stream().map(q -> describe(q.owner()) + ", " + q.messages().size() + " messages").toList());
        m.put("sysctls", sysctls);
        m.put("mqueue", posixQueues.stream().map(q -> q.name() + " mode 0" + Integer.toOctalString(q.contents().mode())
                + " owner " + q.contents().uid() + ":" + q.contents().gid() + ", " + q.contents().messages().size()
                + " messages").toList());
        return m;
    }

    private static String describe(Owner o) {
        return "id " + o.id() + " key 0x" + Integer.toHexString(o.key()) + " mode 0" + Integer.toOctalString(o.mode())
                + " owner " + o.uid() + ":" + o.gid();
    }

    private static final int MAX_OBJECTS = 32768, PAGE = 4096, MAX_MESSAGE = 1 << 24, SYSCTL = 128, NAME = 256;

    static void write(Output out, IpcImage ipc) {
        out.writeVarInt(ipc.segments().size(), true);
        for (Segment s : ipc.segments()) {
            writeOwner(out, s.owner());
            out.writeVarLong(s.size(), true);
            out.writeVarLong(s.hugePageKb(), true);
            out.writeBoolean(s.removed());
            out.writeVarInt(s.pages().size(), true);
            s.pages().forEach((index, bytes) -> {
                out.writeVarInt(index, true);
                out.writeBytes(bytes);
            });
        }
        out.writeVarInt(ipc.semaphores().size(), true);
        for (SemSet s : ipc.semaphores()) {
            writeOwner(out, s.owner());
            out.writeVarInt(s.values().length, true);
            for (int v : s.values()) {
                out.writeVarInt(v, true);
            }
        }
        out.writeVarInt(ipc.queues().size(), true);
        for (Queue q : ipc.queues()) {
            writeOwner(out, q.owner());
            out.writeVarLong(q.qbytes(), true);
            out.writeVarInt(q.messages().size(), true);
            for (Message m : q.messages()) {
                out.writeLong(m.type());
                ModelFields.writeBytes(out, m.data(), MAX_MESSAGE, "IpcImage.message");
            }
        }
        out.writeVarInt(ipc.sysctls().size(), true);
        ipc.sysctls().forEach((k, v) -> {
            ModelFields.writeText(out, k, SYSCTL, "IpcImage.sysctl");
            ModelFields.writeText(out, v, SYSCTL, "IpcImage.sysctl");
        });
        out.writeVarInt(ipc.posixQueues().size(), true);
        for (PosixQueue q : ipc.posixQueues()) {
            ModelFields.writeText(out, q.name(), NAME, "IpcImage.posixQueue");
            dev.cryo.engine.files.MessageQueueHandler.writeContents(out, q.contents());
        }
    }

    /**
     * {@code version}: NamespaceImage's; from 7 a segment has its huge page size and removal mark, from 8
     * the namespace's POSIX message queues follow.
     */
    static IpcImage read(Input in, int version) {
        long bytes = 0;
        List<Segment> segments = new ArrayList<>();
        for (int i = 0, n = ModelFields.readCount(in, "IpcImage", MAX_OBJECTS, "segments"); i < n; i++) {
            Owner o = readOwner(in);
            long size = in.readVarLong(true);
            if (size <= 0 || size > (1L << 40)) {
                throw new KryoException("IpcImage: segment of " + size + " bytes");
            }
            long hugePageKb = version >= 7 ? in.readVarLong(true) : 0;
            boolean removed = version >= 7 && in.readBoolean();
            if (hugePageKb != 0 && (Long.bitCount(hugePageKb) != 1 || hugePageKb < 64 || hugePageKb > (16L << 20))) {
                throw new KryoException("IpcImage: huge pages of " + hugePageKb + " kB");
            }
            Map<Integer, byte[]> pages = new LinkedHashMap<>();
            for (int j = 0, k = ModelFields.readCount(in, "IpcImage", (int) Math.min(MAX_BYTES / PAGE, (size + PAGE - 1) / PAGE), "pages"); j < k; j++) {
                int index = in.readVarInt(true);
                if (index < 0 || (long) index * PAGE >= size || pages.containsKey(index)) {
                    throw new KryoException("IpcImage: page " + index + " of a segment of " + size + " bytes");
                }
                pages.put(index, in.readBytes(PAGE));
                bytes += PAGE;
            }
            segments.add(new Segment(o, size, pages, hugePageKb, removed));
        }
        List<SemSet> sems = new ArrayList<>();
        for (int i = 0, n = ModelFields.readCount(in, "IpcImage", MAX_OBJECTS, "semaphore sets"); i < n; i++) {
            Owner o = readOwner(in);
            int[] values = new int[ModelFields.readCount(in, "IpcImage", 65536, "semaphores")];
            for (int j = 0; j < values.length; j++) {
                values[j] = in.readVarInt(true);
                if (values[j] < 0 || values[j] > 32767) {
                    throw new KryoException("IpcImage: semaphore value " + values[j]);
                }
            }
            sems.add(new SemSet(o, values));
        }
        List<Queue> queues = new ArrayList<>();
        for (int i = 0, n = ModelFields.readCount(in, "IpcImage", MAX_OBJECTS, "queues"); i < n; i++) {
            Owner o = readOwner(in);
            long qbytes = in.readVarLong(true);
            List<Message> messages = new ArrayList<>();
            for (int j = 0, k = ModelFields.readCount(in, "IpcImage", 1 << 20, "messages"); j < k; j++) {
                long type = in.readLong();
                byte[] data = ModelFields.readBytes(in, MAX_MESSAGE, "IpcImage.message");
                if (type <= 0 || data == null) {
                    throw new KryoException("IpcImage: message of type " + type);
                }
                bytes += data.length;
                messages.add(new Message(type, data));
            }
            queues.add(new Queue(o, qbytes, messages));
        }
        if (bytes > MAX_BYTES) {
            throw new KryoException("IpcImage: " + bytes + " bytes of SysV objects (at most " + MAX_BYTES + ")");
        }
        Map<String, String> sysctls = new LinkedHashMap<>();
        for (int i = 0, n = ModelFields.readCount(in, "IpcImage", SYSCTLS.size(), "sysctls"); i < n; i++) {
            String k = ModelFields.readText(in, SYSCTL, "IpcImage.sysctl");
            String v = ModelFields.readText(in, SYSCTL, "IpcImage.sysctl");
            if (!SYSCTLS.contains(k) || v == null || !v.matches("[0-9\t ]+")) {
                throw new KryoException("IpcImage: sysctl " + k + " = " + v);
            }
            sysctls.put(k, v);
        }
        List<PosixQueue> posix = new ArrayList<>();
        for (int i = 0, n = version >= 8 ? ModelFields.readCount(in, "IpcImage", 256, "posixQueues") : 0; i < n; i++) {
            String name = ModelFields.readText(in, NAME, "IpcImage.posixQueue");
            if (name == null || !name.matches("/[^/]+")) {
                throw new KryoException("IpcImage: POSIX message queue " + name);
            }
            posix.add(new PosixQueue(name, dev.cryo.engine.files.MessageQueueHandler.readContents(in)));
        }
        return new IpcImage(segments, sems, queues, sysctls, posix);
    }

    private static void writeOwner(Output out, Owner o) {
        out.writeVarInt(o.id(), true);
        out.writeInt(o.key());
        out.writeVarInt(o.mode(), true);
        out.writeVarInt(o.uid(), true);
        out.writeVarInt(o.gid(), true);
    }

    private static Owner readOwner(Input in) {
        Owner o = new Owner(in.readVarInt(true), in.readInt(), in.readVarInt(true), in.readVarInt(true), in.readVarInt(true));
        if (o.id() < 0 || (o.mode() & ~0777) != 0) {
            throw new KryoException("IpcImage: object id " + o.id() + " mode 0" + Integer.toOctalString(o.mode()));
        }
        return o;
    }
}
