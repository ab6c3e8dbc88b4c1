package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.DumpInfo;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.codec.ModelCodecs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An image read and checked for restore: every chunk's checksum verified, the dump record and one
 * task record per pid, parents before children, and each task's page chunks.
 */
public record ImageContents(Path dir, DumpInfo info, List<TaskImage> tasks, Map<Integer, List<IndexEntry>> pages) {
    public static ImageContents read(Path dir, long maxChunk) throws IOException {
        try (ImageReader reader = ImageReader.open(dir, ModelCodecs.ALL, maxChunk)) {
            reader.verify();
            DumpInfo info = null;
            Map<Integer, TaskImage> byPid = new LinkedHashMap<>();
            for (Object r : reader.records()) {
                if (r instanceof DumpInfo d) {
                    info = d;
                } else if (r instanceof TaskImage t) {
                    byPid.put(t.pid(), t);
                }
            }
            if (info == null) {
                throw new RestoreException(dir.resolve("image.cryo") + " holds no dump record");
            }
            List<TaskImage> tasks = new ArrayList<>();
            for (int pid : info.pids()) {
                TaskImage t = byPid.get(pid);
                if (t == null) {
                    throw new RestoreException(dir.resolve("image.cryo") + " lists pid " + pid + " but holds no record of it");
                }
                tasks.add(t);
            }
            Map<Integer, List<IndexEntry>> pages = new LinkedHashMap<>();
            for (IndexEntry e : reader.pageChunks()) {
                pages.computeIfAbsent(e.pid(), k -> new ArrayList<>()).add(e);
            }
            return new ImageContents(dir, info, tasks, pages);
        }
    }

    public TaskImage task(int pid) {
        return tasks.stream().filter(t -> t.pid() == pid).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task " + pid + " in the image"));
    }

    public List<IndexEntry> pagesOf(int pid) {
        return pages.getOrDefault(pid, List.of());
    }

    public int root() {
        return info.rootPid();
    }
}
