package dev.cryo.engine.restore;

/**
 * What every task's FILES stage draws from, made once per restore: cryo's ends of the dumped
 * pipes, the sockets' pairs and queues, shared memory and ghost files, the pseudo-terminals, and
 * the fds the user hands over in place of dumped objects ({@code --inherit-fd}), the stand-ins of
 * the reaped tasks pidfds refer to, and the session keyrings the tasks make and join in these passes.
 */
public record FileHubs(PipeHub pipes, SocketHub sockets, SharedMemoryHub objects, PtyHub ptys,
                       InheritedFds inherited, dev.cryo.engine.files.DeadTaskHub deadTasks,
                       dev.cryo.engine.keyrings.KeyringHub keyrings) {}
