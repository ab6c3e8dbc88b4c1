package dev.cryo.engine.restore;

import dev.cryo.engine.files.Leftovers;
import dev.cryo.engine.files.PipeHandler;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.LocalPipe;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A FIFO whose node was deleted while tasks held it open (CRIU's zdtm fifo-ghost): its node is made
 * again at its path with its mode and owner, held open by cryo (read and write, so no open blocks)
 * with the bytes that sat in it, and unlinked at once. The tasks open it through cryo's fd, so their
 * fds read "PATH (deleted)" as before. When another file took the path since, it is kept under a
 * second link for that instant and put back; when the directory is gone, the node is made in the
 * temporary directory instead (the fds then name that path).
 */
final class DeletedFifo {
    private DeletedFifo() {}

    static LocalPipe open(PipeHandler.Pipe p) {
        Path original = Path.of(p.fifoPath());
        Path dir = original.getParent() != null && Files.isDirectory(original.getParent()) ? original.getParent()
                : Path.of(System.getProperty("java.io.tmpdir"));
        Path temp = dir.resolve(".cryo-fifo-" + p.pipeId() + "-" + System.nanoTime());
        PipeHandler.Node node = p.deleted();
        try {
            Sys.mkfifo(temp.toString(), 0600);
            Sys.chownChmod(temp.toString(), node.uid(), node.gid(), node.mode());
        } catch (KernelException e) {
            Leftovers.delete(temp);
            throw new RestoreException("cannot make the deleted FIFO " + p.fifoPath() + " again as " + temp + ": "
                    + e.getMessage());
        }
        Path at = temp;
        Path kept = null;
        try {
            if (dir.equals(original.getParent())) {
                if (Files.exists(original, LinkOption.NOFOLLOW_LINKS)) {
                    kept = dir.resolve(".cryo-kept-" + p.pipeId() + "-" + System.nanoTime());
                    Files.createLink(kept, original);
                }
                Files.move(temp, original, StandardCopyOption.ATOMIC_MOVE);
                at = original;
            }
        } catch (IOException | UnsupportedOperationException e) {
            Leftovers.delete(kept); // the path could not be taken: the node stays beside it
            kept = null;
        }
        try {
            return LocalPipe.fifo(at.toString(), p.data(), p.size(), p.packetLengths());
        } finally {
            if (kept != null) {
                try {
                    Files.move(kept, original, StandardCopyOption.ATOMIC_MOVE); // unlinks the node too
                } catch (IOException e) {
                    Leftovers.delete(at);
                }
            } else {
                Leftovers.delete(at);
            }
        }
    }

}
