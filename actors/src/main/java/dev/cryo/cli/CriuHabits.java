package dev.cryo.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * CRIU's command-line habits, rewritten to cryo's before anything parses the line, so a user's
 * {@code criu dump -t PID -D DIR -j -v4 -o dump.log} works as {@code cryo dump ...}: CRIU's
 * options are all global and may follow the verb, cryo's logging options precede it; CRIU counts
 * verbosity as {@code -vN} (4 = debug), cryo as repeated {@code -v}; {@code -j} is
 * {@code --shell-job}, {@code -l} {@code --file-locks}, {@code -V} {@code --version};
 * {@code --no-default-config} has no CRIU configuration to skip; a dump always records the cgroups ({@code --manage-cgroups} is the restore's); a relative log file is written in the work directory (-W, else the images
 * directory); {@code --display-stats} and check's {@code --all} ask for what cryo always does;
 * {@code --log-pid} (one log per task), {@code --auto-dedup} (holes punched in parent images) and
 * {@code --[no-]ghost-fiemap} (how a deleted file's holes are found: cryo's lseek(SEEK_DATA)) have nothing to act on,
 * nor restore's {@code --ghost-limit} (the dump's: zdtm passes its options to both),
 * nor {@code --[no-]mntns-compat-mode} (which of CRIU's two mount restores it runs: cryo has one, and either gives the
 * same mounts), nor {@code --link-remap}
 * (CRIU's leave to link a deleted file back into its file system: cryo carries its bytes up to --ghost-limit and
 * refuses a larger one by name, so the restored tree is the same either way), nor {@code --force-irmap} and
 * {@code --irmap-scan-path PATH} (how and where CRIU looks for the paths of inotify watches: cryo finds a watched
 * file by its handle, or refuses the watch by name, so the restored watches are the same either way);
 * {@code --ext-mount-map KEY:VALUE} is {@code --external mnt[KEY]:VALUE} ({@code auto}: {@code mnt[]},
 * {@link CriuExternals}), {@code --veth-pair IN=OUT[@BRIDGE]} {@code --external veth[IN]:OUT[@BRIDGE]}, and
 * {@code --enable-external-masters}/{@code -sharing} let CRIU carry the slave and shared
 * mounts its auto-detection finds, which cryo always does;
 * {@code pre-dump} is a dump leaving the tree running with its writes tracked ({@code --track-mem}) and its
 * TCP connections read as {@code --tcp-established} reads them (CRIU's asks for no TCP option), and
 * the dump after it ({@code --prev-images-dir}) freezes the tree only for the pages written since.
 * CRIU's options cryo does not take are {@link CriuOptionsNotTaken}'s; anything else is left
 * alone for picocli to judge.
 */
final class CriuHabits {
    private CriuHabits() {}

    static String[] normalize(String[] args) {
        int verb = CryoCli.subcommandIndex(args);
        String workDir = workDir(args, verb);
        String verbName = verb >= 0 ? args[verb] : "";
        List<String> global = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            boolean afterVerb = verb >= 0 && i > verb;
            if (a.equals("--")) { // everything after it is not ours to rewrite
                for (; i < args.length; i++) rest.add(args[i]);
                break;
            }
            if (a.matches("-v[0-9]")) {
                global.addAll(verbosity(a.charAt(2) - '0'));
            } else if (a.startsWith("--verbosity=") && a.substring(12).matches("[0-9]")) {
                global.addAll(verbosity(a.charAt(12) - '0'));
            } else if (afterVerb && a.matches("-v+")) {
                global.add(a);
            } else if ((a.equals("-o") || a.equals("--log-file")) && i + 1 < args.length && (afterVerb || i < verb)) {
                global.add(a);
                global.add(inWorkDir(workDir, args[++i]));
            } else if (a.startsWith("--log-file=") && (afterVerb || i < verb)) {
                global.add("--log-file=" + inWorkDir(workDir, a.substring(11)));
            } else if (afterVerb && (a.equals("-W") || a.equals("--work-dir")) && i + 1 < args.length) {
                i++; // taken by workDir
            } else if (afterVerb && a.startsWith("--work-dir=")) {
                continue;
            } else if (afterVerb && a.equals("-j")) {
                rest.add("--shell-job");
            } else if (afterVerb && a.equals("-l")) {
                rest.add("--file-locks");
            } else if (verb < 0 && a.equals("-V")) {
                global.add("--version");
            } else if (a.equals("--no-default-config")) {
                continue; // cryo never reads CRIU's configuration files
            } else if (afterVerb && a.equals("--display-stats")) {
                continue; // cryo prints its figures always
            } else if (afterVerb && a.equals("--log-pid")) {
                continue; // cryo writes one log for the whole tree
            } else if (afterVerb && a.equals("--auto-dedup")) {
                continue; // it punches holes in parent images: a cryo image has none, and a restore leaves it whole
            } else if (afterVerb && (a.equals("--no-ghost-fiemap") || a.equals("--ghost-fiemap"))) {
                continue; // CRIU's choice of FIEMAP or SEEK_DATA for a deleted file's holes: cryo's is SEEK_DATA
            } else if (afterVerb && verbName.equals("restore")
                    && (a.equals("--skip-in-flight") || a.equals("--tcp-skip-in-flight"))) {
                continue; // the dump's choice (CRIU's options are global): the image holds no such connection
            } else if (afterVerb && verbName.equals("restore") && a.equals("--ghost-limit") && i + 1 < args.length) {
                i++; // the dump's limit (CRIU's options are global): the image holds what it carried
            } else if (afterVerb && verbName.equals("restore") && a.startsWith("--ghost-limit=")) {
                continue;
            } else if (afterVerb && a.equals("--link-remap")) {
                continue; // a leave, not a demand: cryo's deleted files travel in the image (or the dump refuses them)
            } else if (afterVerb && a.equals("--force-irmap")) {
                continue; // how CRIU names inotify watches: cryo's are found by their file handle (or refused by name)
            } else if (afterVerb && a.equals("--irmap-scan-path") && i + 1 < args.length) {
                i++; // where --force-irmap looks: nothing for cryo to look through
            } else if (afterVerb && a.startsWith("--irmap-scan-path=")) {
                continue;
            } else if (afterVerb && (a.equals("--ext-mount-map") || a.equals("-M")) && i + 1 < args.length) {
                rest.add("--external"); // CRIU's older spelling of --external mnt[KEY]:VALUE ("auto": mnt[])
                rest.add(extMountMap(args[++i]));
            } else if (afterVerb && a.startsWith("--ext-mount-map=")) {
                rest.add("--external");
                rest.add(extMountMap(a.substring(16)));
            } else if (afterVerb && a.equals("--veth-pair") && i + 1 < args.length && args[i + 1].contains("=")) {
                rest.add("--external"); // CRIU's older spelling of --external veth[IN]:OUT[@BRIDGE]
                String pair = args[++i];
                rest.add("veth[" + pair.substring(0, pair.indexOf('=')) + "]:" + pair.substring(pair.indexOf('=') + 1));
            } else if (afterVerb && (a.equals("--enable-external-masters") || a.equals("--enable-external-sharing"))) {
                continue; // lets CRIU's auto-detected external mounts be slaves or shared: cryo carries their propagation
            } else if (afterVerb && (a.equals("--no-mntns-compat-mode") || a.equals("--mntns-compat-mode"))) {
                continue; // which of CRIU's two mount restores runs: cryo's one makes the same mounts
            } else if (afterVerb && !verbName.equals("restore") && a.startsWith("--manage-cgroups")) {
                continue; // a dump always records the cgroups; the mode is the restore's
            } else if (i == verb && a.equals("pre-dump")) {
                // a dump that leaves the tree running with its writes tracked; the dump after it
                // (--prev-images-dir) freezes it only for what was written since, and is whole too
                rest.add("dump");
                rest.add("--leave-running");
                if (!List.of(args).contains("--track-mem")) {
                    rest.add("--track-mem");
                }
                // CRIU's pre-dump reads memory only and needs no TCP option; cryo's image is whole: its
                // connections are read as --tcp-established reads them, and the tree keeps them
                if (!List.of(args).contains("--tcp-established") && !List.of(args).contains("--tcp-close")) {
                    rest.add("--tcp-established");
                }
            } else if (afterVerb && verbName.equals("check") && CHECK_SCOPES.contains(a)) {
                continue; // cryo's check always checks every feature it knows
            } else {
                (i < verb || verb < 0 ? global : rest).add(a);
            }
        }
        global.addAll(rest);
        return global.toArray(String[]::new);
    }

    /** {@code --ext-mount-map KEY:VALUE} as {@code --external mnt[KEY]:VALUE}; {@code auto} as {@code mnt[]}. */
    private static String extMountMap(String v) {
        int colon = v.indexOf(':');
        return v.equals("auto") ? "mnt[]" : colon < 0 ? "mnt[" + v + "]" : "mnt[" + v.substring(0, colon) + "]:"
                + v.substring(colon + 1);
    }

    private static final java.util.Set<String> CHECK_SCOPES = java.util.Set.of("--all", "--extra", "--experimental");

    /**
     * CRIU's work directory, where a relative log file goes: -W/--work-dir, else the images
     * directory (-D after the verb; before it, -D is cryo's setting override). Null for neither.
     */
    private static String workDir(String[] args, int verb) {
        String images = null;
        for (int i = verb + 1; verb >= 0 && i < args.length && !args[i].equals("--"); i++) {
            String a = args[i];
            if ((a.equals("-W") || a.equals("--work-dir")) && i + 1 < args.length) {
                return args[i + 1];
            } else if (a.startsWith("--work-dir=")) {
                return a.substring(11);
            } else if ((a.equals("-D") || a.equals("--images-dir")) && i + 1 < args.length) {
                images = args[++i];
            } else if (a.startsWith("--images-dir=")) {
                images = a.substring(13);
            }
        }
        return images;
    }

    /** A relative log file is CRIU's work directory's, as {@code criu -o dump.log} writes it. */
    private static String inWorkDir(String workDir, String file) {
        if (workDir == null || file.isEmpty() || file.startsWith("/") || file.equals("-")) {
            return file;
        }
        return java.nio.file.Path.of(workDir).resolve(file).toString();
    }

    /** CRIU's levels: 0-2 errors and warnings (cryo's default), 3 info, 4 and up debug. */
    private static List<String> verbosity(int level) {
        return level <= 2 ? List.of() : List.of(level == 3 ? "-v" : "-vv");
    }
}
