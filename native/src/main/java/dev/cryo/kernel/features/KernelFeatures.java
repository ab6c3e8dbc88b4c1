package dev.cryo.kernel.features;

import java.util.List;
import java.util.Optional;

/** The result of probing the kernel once: every feature cryo uses, in a fixed order. */
public record KernelFeatures(List<Feature> features) {
    public KernelFeatures {
        features = List.copyOf(features);
    }

    public static KernelFeatures probe() {
        return new KernelProbe().run();
    }

    public Optional<Feature> get(String name) {
        return features.stream().filter(f -> f.name().equals(name)).findFirst();
    }

    public boolean has(String name) {
        return get(name).map(Feature::ok).orElse(false);
    }

    public List<Feature> blocking() {
        return features.stream().filter(Feature::blocking).toList();
    }

    public boolean usable() {
        return blocking().isEmpty();
    }
}
