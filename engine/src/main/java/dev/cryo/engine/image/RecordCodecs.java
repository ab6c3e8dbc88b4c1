package dev.cryo.engine.image;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The registry of persisted record types: one codec per type, each with its own fixed id.
 * Built once (typically a static constant next to the record definitions):
 * <pre>
 * static final RecordCodecs CODECS = RecordCodecs.builder()
 *         .retire(103)                 // was FooRecord, removed; id must never come back
 *         .add(new ProcessCodec())     // 100
 *         .add(new VmaCodec())         // 101
 *         .build();
 * </pre>
 */
public final class RecordCodecs {
    /** Ids below this are Kryo's built-in registrations (0..9) plus headroom. */
    public static final int MIN_ID = 100;

    private final List<RecordCodec<?>> codecs;
    private final Map<Class<?>, RecordCodec<?>> byType;

    private RecordCodecs(List<RecordCodec<?>> codecs, Map<Class<?>, RecordCodec<?>> byType) {
        this.codecs = Collections.unmodifiableList(codecs);
        this.byType = byType;
    }

    public static Builder builder() {
        return new Builder();
    }

    public List<RecordCodec<?>> all() {
        return codecs;
    }

    public boolean handles(Class<?> type) {
        return byType.containsKey(type);
    }

    public static final class Builder {
        private final List<RecordCodec<?>> codecs = new ArrayList<>();
        private final Map<Class<?>, RecordCodec<?>> byType = new HashMap<>();
        private final Map<Integer, RecordCodec<?>> byId = new HashMap<>();
        private final Set<Integer> retired = new TreeSet<>();

        /** Marks an id that was used by a removed type, so it can never be handed out again. */
        public Builder retire(int id) {
            retired.add(id);
            return this;
        }

        public Builder add(RecordCodec<?> codec) {
            codecs.add(codec);
            return this;
        }

        public RecordCodecs build() {
            for (RecordCodec<?> c : codecs) {
                String name = c.getClass().getName() + " for " + c.type().getName();
                if (c.id() < MIN_ID) {
                    throw new IllegalArgumentException(name + ": id " + c.id() + " is below " + MIN_ID);
                }
                if (retired.contains(c.id())) {
                    throw new IllegalArgumentException(name + ": id " + c.id() + " is retired and may not be reused");
                }
                if (c.version() < 1) {
                    throw new IllegalArgumentException(name + ": version must be at least 1");
                }
                RecordCodec<?> clash = byId.put(c.id(), c);
                if (clash != null) {
                    throw new IllegalArgumentException(name + ": id " + c.id() + " already used by " + clash.type().getName());
                }
                if (byType.put(c.type(), c) != null) {
                    throw new IllegalArgumentException(name + ": type registered twice");
                }
            }
            return new RecordCodecs(new ArrayList<>(codecs), new HashMap<>(byType));
        }
    }
}
