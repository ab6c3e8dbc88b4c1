package dev.cryo.engine.restore;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.model.VmaKind;
import dev.cryo.kernel.SharedMemoryFile;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One shared memory object per shared memory object of the image (keyed by its dumped shmem
 * inode), exactly as large as it was (a mapping may reach past the end, after mremap: touching
 * that part raises SIGBUS, as it did). Tasks map it during the MEMORY stage; each task writes the pages it carried through its
 * own mapping, so every task sees them. Closed once mapped: the mappings keep the memory alive.
 */
public final class SharedMemoryHub implements AutoCloseable {
    private static final String MEMFD = "/memfd:", DELETED = " (deleted)";

    private final Map<Long, SharedMemoryFile> objects = new LinkedHashMap<>();

    public static SharedMemoryHub of(List<TaskImage> tasks) {
        Map<Long, Long> sizes = new LinkedHashMap<>();
        Map<Long, String> paths = new LinkedHashMap<>();
        for (TaskImage t : tasks) {
            for (VmaImage v : t.vmas()) {
                if (v.kind() == VmaKind.SHARED_ANON && v.file() != null) {
                    sizes.merge(v.file().ino(), v.file().size(), Math::max);
                    paths.putIfAbsent(v.file().ino(), v.file().path());
                }
            }
        }
        SharedMemoryHub hub = new SharedMemoryHub();
        try {
            sizes.forEach((ino, size) -> hub.objects.put(ino, create(paths.get(ino), size)));
        } catch (RuntimeException e) {
            hub.close();
            throw e;
        }
        return hub;
    }

    /** A memfd comes back as a memfd of the same name; any other shared memory as MAP_SHARED|MAP_ANONYMOUS memory. */
    private static SharedMemoryFile create(String path, long size) {
        if (path.startsWith(MEMFD)) {
            String name = path.substring(MEMFD.length());
            if (name.endsWith(DELETED)) {
                name = name.substring(0, name.length() - DELETED.length());
            }
            return SharedMemoryFile.memfd(name, size, 0);
        }
        return SharedMemoryFile.anonymous(size);
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
