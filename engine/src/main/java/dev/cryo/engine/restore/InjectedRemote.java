package dev.cryo.engine.restore;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.ptrace.Injector;

/**
 * A task cryo traces, as the socket hub calls into it: calls go through its injector, buffers
 * through a scratch area of its own ({@code scratch}, mapped in it). A zombie-to-be and a peer's
 * stand-in are such tasks; a task being restored has its own ({@code TaskContext.remote}).
 */
record InjectedRemote(Pid proc, Injector inj, long scratch) implements SocketHub.Remote {
    @Override
    public long call(String name, int nr, long... args) {
        return inj.call(name, nr, args);
    }

    @Override
    public long put(long offset, byte[] data) {
        Sys.write(proc, scratch + offset, data);
        return scratch + offset;
    }

    @Override
    public byte[] read(long address, int len) {
        return Sys.read(proc, address, len);
    }

    @Override
    public int pid() {
        return proc.value();
    }
}
