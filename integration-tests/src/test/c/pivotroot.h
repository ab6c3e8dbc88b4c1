/*
 * A container's root as zdtm's ns flavor and container runtimes make one: the caller's new mount
 * namespace made a slave of the host's, its root pivoted to ROOT (a directory of the host) and the
 * old root detached, with a proc of its own. The includer defines fail(const char *) first.
 */
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void pivot_root_to(const char *root) {
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) fail("slave /");
    if (mount(root, root, NULL, MS_BIND | MS_REC, NULL)) fail("bind root");
    if (chdir(root) || (mkdir("old", 0777) && errno != EEXIST)) fail("mkdir old");
    if (syscall(SYS_pivot_root, ".", "old")) fail("pivot_root");
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL)) fail("mount proc");
    if (umount2("/old", MNT_DETACH) || rmdir("/old")) fail("umount old");
}
