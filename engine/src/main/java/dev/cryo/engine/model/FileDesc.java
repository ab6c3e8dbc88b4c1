package dev.cryo.engine.model;

/**
 * What an fd refers to. Each kind of kernel object has its own record, declared with its handler
 * in {@code dev.cryo.engine.files} (with its codec, kind tag and {@code cryo show} rendering) and
 * listed in the handler table {@code FdHandlers}.
 */
public interface FileDesc {}
