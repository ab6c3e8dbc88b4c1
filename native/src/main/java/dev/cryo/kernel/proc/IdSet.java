package dev.cryo.kernel.proc;

/** The four ids of a Uid:/Gid: line of /proc/PID/status, in the kernel's order. */
public record IdSet(int real, int effective, int saved, int filesystem) {
    public int[] toArray() {
        return new int[] {real, effective, saved, filesystem};
    }

    public java.util.List<Integer> asList() {
        return java.util.List.of(real, effective, saved, filesystem);
    }
}
