package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.ImageContents;

import java.util.Map;
import java.util.function.Consumer;

/**
 * What CRIU's {@code restore --external} gives: host paths bound at the mounts the dump named (name → path,
 * {@link ExternalMounts}), the devices of cryo's net namespace macvlans whose lower device was outside the tree
 * are made on (name → device), the outer ends of veth pairs to cryo's namespace (name → OUTER[@BRIDGE]) and the
 * devices of cryo's net namespace moved in as the tree's veth ends whose peers were outside (name → device,
 * {@link ExternalNetDevices}).
 */
public record RestoreExternals(Map<String, String> mounts, Map<String, String> macvlans, Map<String, String> netdevs,
                               Map<String, String> veths) {
    public static final RestoreExternals NONE = new RestoreExternals(Map.of(), Map.of(), Map.of(), Map.of());

    public RestoreExternals {
        mounts = mounts == null ? Map.of() : Map.copyOf(mounts);
        macvlans = macvlans == null ? Map.of() : Map.copyOf(macvlans);
        netdevs = netdevs == null ? Map.of() : Map.copyOf(netdevs);
        veths = veths == null ? Map.of() : Map.copyOf(veths);
    }

    public RestoreExternals(Map<String, String> mounts, Map<String, String> macvlans, Map<String, String> netdevs) {
        this(mounts, macvlans, netdevs, Map.of());
    }

    public boolean isEmpty() {
        return mounts.isEmpty() && macvlans.isEmpty() && netdevs.isEmpty() && veths.isEmpty();
    }

    /** {@code image} as these make it, checked before any task is made; {@code notes} hears what is left out as asked. */
    public ImageContents apply(ImageContents image, Consumer<String> notes) {
        return ExternalNetDevices.apply(ExternalMounts.bind(image, mounts, notes), macvlans, veths, netdevs);
    }
}
