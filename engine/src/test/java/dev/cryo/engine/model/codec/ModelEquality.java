package dev.cryo.engine.model.codec;

import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Deep equality for the model: several records hold arrays (regs, xstate, auxv, siginfos, pipe
 * data), whose record equals() compares identity only.
 */
final class ModelEquality {
    private ModelEquality() {}

    static void assertModelEquals(Object expected, Object actual) {
        compare(expected, actual, expected == null ? "null" : expected.getClass().getSimpleName());
    }

    private static void compare(Object a, Object b, String path) {
        if (a == null || b == null) {
            if (a != b) fail(path + ": " + a + " != " + b);
        } else if (a instanceof byte[] x) {
            if (!(b instanceof byte[] y) || !Arrays.equals(x, y)) fail(path + ": byte arrays differ");
        } else if (a instanceof long[] x) {
            if (!(b instanceof long[] y) || !Arrays.equals(x, y)) fail(path + ": long arrays differ");
        } else if (a instanceof List<?> x) {
            if (!(b instanceof List<?> y) || x.size() != y.size()) fail(path + ": lists differ in size");
            List<?> y = (List<?>) b;
            for (int i = 0; i < x.size(); i++) compare(x.get(i), y.get(i), path + "[" + i + "]");
        } else if (a.getClass().isRecord()) {
            if (a.getClass() != b.getClass()) fail(path + ": " + a.getClass() + " != " + b.getClass());
            for (RecordComponent c : a.getClass().getRecordComponents()) {
                try {
                    compare(c.getAccessor().invoke(a), c.getAccessor().invoke(b), path + "." + c.getName());
                } catch (ReflectiveOperationException e) {
                    throw new AssertionError(e);
                }
            }
        } else if (!Objects.equals(a, b)) {
            fail(path + ": " + a + " != " + b);
        }
    }
}
