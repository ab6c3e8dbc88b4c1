package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.ImageContents;

import java.util.Map;
import java.util.function.Consumer;

/**
 * What CRIU's {@code restore --external} gives: host paths bound at the mounts the dump named (name → path,
 * {@link ExternalMounts}) and the devices of cryo's net namespace macvlans whose lower device was outside the tree
 * are made on (name → device, {@link ExternalMacvlans}).
 */
public record RestoreExternals(Map<String, String> mounts, Map<String, String> macvlans) {
    public static final RestoreExternals NONE = new RestoreExternals(Map.of(), Map.of());

    public RestoreExternals {
        mounts = mounts == null ? Map.of() : Map.copyOf(mounts);
        macvlans = macvlans == null ? Map.of() : Map.copyOf(macvlans);
    }

    public boolean isEmpty() {
        return mounts.isEmpty() && macvlans.isEmpty();
    }

    /** {@code image} as these make it, checked before any task is made; {@code notes} hears what is left out as asked. */
    public ImageContents apply(ImageContents image, Consumer<String> notes) {
        return ExternalMacvlans.lower(ExternalMounts.bind(image, mounts, notes), macvlans);
    }
}
