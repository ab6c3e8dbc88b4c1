package dev.cryo.actors.cluster;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The arriving image's tee: every byte read lands both in the reader's buffer and in the staging
 * file, and a read leaves no garbage (the reader reads each of a GiB's ~130,000 chunks in two reads;
 * garbage per read filled the destination agent's young generation). Bytes counted, not time.
 */
class ImageArrivalTeeTest {
    @TempDir
    Path tmp;

    @Test
    void eachReadGoesToTheBufferAndTheFileAndAllocatesNothing() throws Exception {
        int piece = 100, reads = 30_000;
        byte[] image = new byte[piece * reads * 3];
        for (int i = 0; i < image.length; i++) {
            image[i] = (byte) (i * 31 + (i >> 9));
        }
        Path file = tmp.resolve("image");
        ByteBuffer dst = ByteBuffer.allocateDirect(piece + 8);
        byte[] read = new byte[image.length];
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long perRead = 0;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ImageArrival.Tee tee = new ImageArrival.Tee(new ByteArrayInputStream(image), out, image.length, taken -> { },
                    () -> true);
            int got = 0;
            for (int round = 0; round < 3; round++) { // the last round runs compiled code
                long before = threads.getThreadAllocatedBytes(tid);
                for (int i = 0; i < reads; i++) {
                    dst.clear().position(3).limit(3 + piece); // the reader asks for the rest of a chunk
                    assertEquals(piece, tee.read(dst));
                    assertEquals(3 + piece, dst.position());
                    assertEquals(3 + piece, dst.limit());
                    dst.get(3, read, got, piece);
                    got += piece;
                }
                perRead = (threads.getThreadAllocatedBytes(tid) - before) / reads;
            }
        }
        assertArrayEquals(image, read);
        assertArrayEquals(image, Files.readAllBytes(file));
        // a duplicate of the reader's buffer per read was 48-64 bytes
        assertTrue(perRead < 24, perRead + " bytes allocated per read");
    }
}
