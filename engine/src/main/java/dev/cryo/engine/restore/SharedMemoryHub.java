package dev.cryo.engine.restore;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.model.VmaKind;
import dev.cryo.kernel.SharedMemoryFile;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memfd per shared anonymous memory object of the image (keyed by its dumped shmem inode),
 * as large as the furthest offset any task mapped. Tasks map it during the MEMORY stage; the task
 * that carried the pages writes them through its own mapping, so every task sees them. Closed
 * once mapped: the mappings keep the memory alive.
 */
public final class SharedMemoryHub implements AutoCloseable {
    private final Map<Long, SharedMemoryFile> objects = new LinkedHashMap<>();

    public static SharedMemoryHub of(List<TaskImage> tasks) {
        Map<Long, Long> sizes = new LinkedHashMap<>();
        for (TaskImage t : tasks) {
            for (VmaImage v : t.vmas()) {
                if (v.kind() == VmaKind.SHARED_ANON && v.file() != null) {
                    long end = v.offset() + (v.end() - v.start());
                    sizes.merge(v.file().ino(), end, Math::max);
                }
            }
        }
        SharedMemoryHub hub = new SharedMemoryHub();
        try {
            sizes.forEach((ino, size) -> hub.objects.put(ino, SharedMemoryFile.create("cryo-shm-" + ino, size)));
        } catch (RuntimeException e) {
            hub.close();
            throw e;
        }
        return hub;
    }

    public String path(long ino) {
        SharedMemoryFile f = objects.get(ino);
        if (f == null) {
            throw new IllegalStateException("shared memory " + ino + " was not prepared");
        }
        return f.procPath();
    }

    @Override
    public void close() {
        objects.values().forEach(SharedMemoryFile::close);
        objects.clear();
    }
}
