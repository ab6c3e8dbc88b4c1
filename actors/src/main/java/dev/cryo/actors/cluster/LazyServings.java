package dev.cryo.actors.cluster;

import dev.cryo.engine.restore.LazyPages;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The lazy restores an agent serves ({@code restore -d --lazy-pages} through it), from the tree running to its
 * last page in: what {@code cryo agents} lists. Filled by the local socket's thread, read by the agent actor.
 */
public final class LazyServings {
    private record Serving(int rootPid, Path imageDir, LazyPages pages, long sinceMillis) {}

    private final Map<Integer, Serving> byRoot = new ConcurrentHashMap<>();

    /** The tree rooted at {@code rootPid} runs and its pages come from {@code pages}: listed until the last is in. */
    public void serving(int rootPid, Path imageDir, LazyPages pages) {
        Serving s = new Serving(rootPid, imageDir, pages, System.currentTimeMillis());
        byRoot.put(rootPid, s);
        pages.whenDone().whenComplete((summary, e) -> byRoot.remove(rootPid, s));
    }

    /** Those served now, as this agent {@code agent} lists them, oldest first. */
    public List<AgentProtocol.LazyServed> list(String agent) {
        List<AgentProtocol.LazyServed> out = new ArrayList<>();
        for (Serving s : byRoot.values()) {
            out.add(new AgentProtocol.LazyServed(agent, s.rootPid(), s.pages().pagesIn(), s.pages().pagesTotal(),
                    s.sinceMillis(), s.imageDir().toString()));
        }
        out.sort(java.util.Comparator.comparingLong(AgentProtocol.LazyServed::sinceMillis));
        return out;
    }
}
