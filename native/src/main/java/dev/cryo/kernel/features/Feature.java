package dev.cryo.kernel.features;

/** One probed kernel feature: what it is, whether cryo needs it, and what the probe found. */
public record Feature(String name, boolean required, Status status, String detail) {
    public enum Status { SUPPORTED, MISSING, ERROR }

    public static Feature supported(String name, boolean required, String detail) {
        return new Feature(name, required, Status.SUPPORTED, detail);
    }

    public static Feature missing(String name, boolean required, String detail) {
        return new Feature(name, required, Status.MISSING, detail);
    }

    public static Feature error(String name, boolean required, Throwable cause) {
        String msg = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return new Feature(name, required, Status.ERROR, msg);
    }

    public boolean ok() {
        return status == Status.SUPPORTED;
    }

    /** A required feature that is not there stops cryo from working. */
    public boolean blocking() {
        return required && !ok();
    }
}
