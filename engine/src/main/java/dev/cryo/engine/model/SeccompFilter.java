package dev.cryo.engine.model;

/**
 * One seccomp BPF filter: its classic-BPF program (the little-endian sock_filter array the kernel
 * hands out), the filter it was stacked on (-1 for the first) and its SECCOMP_FILTER_FLAG_* flags
 * (only LOG is observable and carried).
 */
public record SeccompFilter(int parent, int flags, byte[] program) {
    public SeccompFilter {
        program = program.clone();
    }

    @Override
    public byte[] program() {
        return program.clone();
    }

    public int instructions() {
        return program.length / 8;
    }
}
