package dev.cryo.engine.files;

import java.util.Map;
import java.util.function.IntFunction;

/**
 * What a reader of a task's whole fd table (a BPF iterator over its files) gave, read once per dump and thread: the
 * dump asks for each fd in turn, and the tree is frozen meanwhile.
 */
final class TaskFileReads<T> {
    private final Map<FdHandler.DumpContext, Map<Integer, T>> read =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());
    private final IntFunction<T> reader;

    TaskFileReads(IntFunction<T> reader) {
        this.reader = reader;
    }

    /** What the reader gives for thread {@code tid}'s table, read the first time this dump asks. */
    T of(FdHandler.DumpContext ctx, int tid) {
        return read.computeIfAbsent(ctx, c -> new java.util.concurrent.ConcurrentHashMap<>()).computeIfAbsent(tid, reader::apply);
    }
}
