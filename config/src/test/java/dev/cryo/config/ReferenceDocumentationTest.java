package dev.cryo.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Keeps reference.conf documented: every leaf key under cryo needs a comment line right above
 * it. The walker only understands the simple layout used there (one key or block per line),
 * so it also checks that it found exactly the keys Typesafe parses.
 */
class ReferenceDocumentationTest {
  private static final Pattern BLOCK = Pattern.compile("^([A-Za-z0-9-]+)\\s*\\{\\s*$");
  private static final Pattern LEAF = Pattern.compile("^([A-Za-z0-9-]+)\\s*[=:]\\s*\\S.*$");

  private static List<String> lines() throws IOException {
    try (InputStream in =
        ReferenceDocumentationTest.class.getClassLoader().getResourceAsStream("reference.conf")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
  }

  private static boolean isComment(String trimmed) {
    return trimmed.startsWith("#") || trimmed.startsWith("//");
  }

  @Test
  void everyLeafKeyHasACommentRightAboveIt() throws IOException {
    List<String> lines = lines();
    Deque<String> path = new ArrayDeque<>();
    Set<String> found = new TreeSet<>();
    List<String> undocumented = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).trim();
      if (line.isEmpty() || isComment(line)) {
        continue;
      }
      Matcher block = BLOCK.matcher(line);
      Matcher leaf = LEAF.matcher(line);
      if (block.matches()) {
        path.addLast(block.group(1));
      } else if (line.equals("}")) {
        path.removeLast();
      } else if (leaf.matches()) {
        String key = String.join(".", path) + (path.isEmpty() ? "" : ".") + leaf.group(1);
        found.add(key);
        boolean commented = i > 0 && isComment(lines.get(i - 1).trim());
        if (key.startsWith("cryo.") && !commented) {
          undocumented.add(key + " (line " + (i + 1) + ")");
        }
      } else {
        throw new AssertionError("reference.conf line " + (i + 1) + " not understood: " + line);
      }
    }
    assertTrue(path.isEmpty(), "unbalanced braces in reference.conf");
    assertEquals(List.of(), undocumented, "keys without a comment right above them");

    Set<String> parsed = new TreeSet<>();
    ConfigFactory.parseResources("reference.conf")
        .getConfig("cryo")
        .entrySet()
        .forEach(e -> parsed.add("cryo." + e.getKey()));
    Set<String> foundCryo = new TreeSet<>(found);
    foundCryo.removeIf(k -> !k.startsWith("cryo."));
    assertEquals(parsed, foundCryo, "the text walk must see every key Typesafe parses");
  }
}
