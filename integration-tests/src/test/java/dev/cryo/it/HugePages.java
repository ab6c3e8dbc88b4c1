package dev.cryo.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The host's pool of 2 MiB huge pages, grown for a test that maps hugetlb memory and set back when
 * it closes (a pool shrinks only by its free pages: one still in use is given back once freed).
 */
final class HugePages implements AutoCloseable {
    private static final Path NR = Path.of("/proc/sys/vm/nr_hugepages");
    private final long before;

    private HugePages(long before) {
        this.before = before;
    }

    /** Grows the pool until it has {@code pages} free pages, if it has fewer. */
    static HugePages atLeastFree(int pages) throws IOException {
        long before = Long.parseLong(Files.readString(NR).trim());
        long free = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("HugePages_Free:"))
                .mapToLong(l -> Long.parseLong(l.split("\\s+")[1])).findFirst().orElse(0);
        if (free < pages) {
            Files.writeString(NR, Long.toString(before + pages - free));
        }
        return new HugePages(before);
    }

    @Override
    public void close() throws IOException {
        Files.writeString(NR, Long.toString(before));
    }
}
