package dev.cryo.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A CRIU user's command lines mean the same to cryo. */
class CriuHabitsTest {
    private static void same(String expected, String given) {
        assertArrayEquals(expected.split(" "), CriuHabits.normalize(given.split(" ")), given);
    }

    @Test
    void loggingOptionsAfterTheVerbMoveBeforeIt() {
        same("-vv -o img/dump.log dump -t 7 -D img --shell-job", "dump -t 7 -D img -j -v4 -o dump.log");
        same("-v --log-file=img/x.log restore -D img -d", "restore -D img -v3 --log-file=x.log -d");
        same("-vv dump -t 7 -D img", "dump -vv -t 7 -D img");
        same("restore -D img", "restore -D img -v2"); // CRIU's default level is cryo's
        same("-vv check", "--verbosity=4 check");
    }

    @Test
    void aRelativeLogFileGoesToTheWorkDirectoryAsCriusDoes() {
        same("-o /var/w/r.log restore -D img", "restore -D img -W /var/w -o r.log");
        same("-o w/r.log restore -D img", "-o r.log restore --work-dir=w -D img");
        same("-o /tmp/abs.log dump -t 7 -D img", "dump -t 7 -D img -o /tmp/abs.log");
        same("-o d.log check", "check -o d.log"); // no work directory: the current one
    }

    @Test
    void whatCryoAlwaysDoesIsAcceptedWhenAskedFor() {
        same("dump -t 7 -D img", "dump -t 7 -D img --display-stats");
        same("dump -t 7 -D img", "dump -t 7 -D img --manage-cgroups"); // a dump always records them
        same("dump -t 7 -D img", "dump -t 7 -D img --manage-cgroups=full");
        same("restore -D img -d --manage-cgroups=soft", "restore -D img -d --manage-cgroups=soft"); // the restore's
        same("check", "check --all");
        same("check --json", "check --extra --json");
    }

    @Test
    void optionsWithNothingToActOnAreDropped() {
        same("dump -t 7 -D img", "dump -t 7 -D img --log-pid --auto-dedup");
        same("dump -t 7 -D img --ghost-limit 8M", "dump -t 7 -D img --ghost-limit 8M --no-ghost-fiemap"); // zdtm's ghost_multi_hole*
        same("dump -t 7 -D img", "dump --ghost-fiemap -t 7 -D img");
        // zdtm's unlink_multiple_largefiles gives --ghost-limit 1G to both: 'Unknown options' at the restore before
        same("restore -D img -d", "restore -D img -d --ghost-limit 1G");
        same("restore -D img -d", "restore --ghost-limit=1G -D img -d");
        // zdtm's unlink_regular00, mntns_ghost and five more stopped at 'cryo: --link-remap is CRIU's option ...' before
        same("-vv dump -t 7 -D img", "-v4 dump -t 7 -D img --link-remap");
        // zdtm's inotify_irmap stopped at 'cryo: --force-irmap is CRIU's option ...' (and picocli's bare
        // "Unknown options: '--irmap-scan-path', '/zdtm/static'" before that)
        same("dump -t 7 -D img", "dump -t 7 -D img --force-irmap --irmap-scan-path /zdtm/static");
        same("dump -t 7 -D img", "dump --irmap-scan-path=/z -t 7 -D img");
        same("restore -D img -d", "restore -D img -d --no-mntns-compat-mode"); // zdtm's mnt_ext_multiple, mnt_ext_sharing
        same("restore -D img -d", "restore --mntns-compat-mode -D img -d"); // zdtm's pty-console failed 'cryo: --mntns-compat-mode ...'
        // zdtm's socket-tcp-skip-in-flight gives its options to both: 'Unknown option' at the restore before
        same("restore -D img -d", "restore -D img -d --skip-in-flight");
        same("dump -t 7 -D img --skip-in-flight", "dump -t 7 -D img --skip-in-flight");
        same("restore -D img -d", "restore --auto-dedup -D img -d --log-pid");
    }

    @Test
    void criusIterativeDumpTracksTheTreesWritesBetweenItsTwoCommands() {
        same("-o 1/pre.log dump --leave-running --tcp-established -t 7 -D 1 --track-mem", "pre-dump -t 7 -D 1 --track-mem -o pre.log");
        same("dump --leave-running --track-mem --tcp-established -t 7 -D 1", "pre-dump -t 7 -D 1");
        // a server with clients: CRIU's pre-dump takes no TCP option, and one given is the user's
        same("dump --leave-running --track-mem -t 7 -D 1 --tcp-close", "pre-dump -t 7 -D 1 --tcp-close");
        same("dump --leave-running --track-mem -t 7 -D 1 --tcp-established", "pre-dump -t 7 -D 1 --tcp-established");
        same("dump -t 7 -D 2 --prev-images-dir ../1 --track-mem", "dump -t 7 -D 2 --prev-images-dir ../1 --track-mem");
        same("dump -t 7 --prev-images-dir=../1 -D 2", "dump -t 7 --prev-images-dir=../1 -D 2");
    }

    @Test
    void cryosOwnLinesAreLeftAlone() {
        same("-vv -Dcryo.parallelism.tasks=1 dump -t 7 -D img -R", "-vv -Dcryo.parallelism.tasks=1 dump -t 7 -D img -R");
        same("-D cryo.x=1 -o f show img ps", "-D cryo.x=1 -o f show img ps");
        same("--version", "--version");
    }

    @Test
    void criusShortNamesAndConfigSwitch() {
        same("dump -t 7 -D img --file-locks", "dump -t 7 -D img -l");
        same("restore -D img --file-locks -d", "restore -D img -l -d");
        same("--version", "-V");
        same("restore -D img -d", "restore --no-default-config -D img -d");
    }

    private static String refused(String line) {
        StringWriter err = new StringWriter();
        int code = CryoCli.execute(line.split(" "), new PrintWriter(new StringWriter()), new PrintWriter(err, true));
        assertEquals(2, code, line + ": " + err);
        return err.toString();
    }

    /** CRIU's options cryo does not take stop the command, saying what CRIU does with them and what cryo does. */
    @Test
    void criusOptionsCryoDoesNotTakeAreNamedWithWhatCryoDoesInstead() {
        String sibling = refused("restore -D img --restore-sibling");
        assertTrue(sibling.startsWith("cryo: --restore-sibling is CRIU's option to make"), sibling);
        assertTrue(refused("restore -D img -d --restore-sibling").contains("a child of the restoring process"));
        assertTrue(refused("restore -D img -S -d").contains("-S is CRIU's option to make the restored root a sibling"));
        assertTrue(refused("restore -D img -r /newroot").contains("-r is CRIU's option to restore into another root"));
        assertTrue(refused("restore -D img --lsm-profile apparmor:p").contains("does not set LSM profiles"));
        assertTrue(refused("page-server --port 1234").contains("`page-server` is a CRIU command; cryo moves a tree"));
    }

    @Test
    void criusExtMountMapIsItsExternalMount() {
        same("dump -t 7 -D img --external mnt[/dev]:ZDTM_DEV", "dump -t 7 -D img --ext-mount-map /dev:ZDTM_DEV");
        same("restore -D img --external mnt[ZDTM_DEV]:/tmp/d -d", "restore -D img -M ZDTM_DEV:/tmp/d -d");
        // zdtm's mnt_ext_master: '--ext-mount-map auto --enable-external-masters' stopped at 'cryo: --ext-mount-map ...'
        same("dump -t 7 -D img --external mnt[]", "dump -t 7 -D img --ext-mount-map auto --enable-external-masters");
        same("restore -D img -d", "restore -D img -d --enable-external-sharing");
        same("restore -D img --external veth[eth0]:veth9@br0 -d", "restore -D img --veth-pair eth0=veth9@br0 -d");
    }

    /** CRIU's --external: mounts are named at the dump and bound from other paths at the restore; the rest is refused by name. */
    @Test
    void criusExternalMountsAreTakenAndOtherResourcesRefusedByName() {
        assertEquals(java.util.Map.of("/dev", "ZDTM_DEV", "/a/b", "B"),
                CriuExternals.dumpMounts(java.util.List.of("mnt[/dev]:ZDTM_DEV", "mnt[]:sm", "mnt[/a//b/]:B", "mnt[]")));
        var restore = CriuExternals.restore(java.util.List.of("mnt[ZDTM_DEV]:/tmp/d/", "mnt[]", "mnt[K]:rel",
                "macvlan[zdtmmvlan0]:zdtmbr0", "veth[zdtmvthc0]:zdtmvthh0@zdtmbr0"));
        assertEquals(java.util.Map.of("ZDTM_DEV", "/tmp/d", "K", "/rel"), restore.mounts()); // from /, as CRIU (mnt_root_ext)
        assertEquals(java.util.Map.of("zdtmmvlan0", "zdtmbr0"), restore.macvlans()); // zdtm's macvlan
        assertEquals(java.util.Map.of("zdtmvthc0", "zdtmvthh0@zdtmbr0"), restore.veths()); // zdtm's cr_veth
        String dev = refused("dump -t 7 -D img --external dev[8/1]:loop");
        assertTrue(dev.startsWith("cryo dump: --external dev[8/1]:loop: a block device mounted"), dev);
        assertTrue(refused("dump -t 7 -D img --external mnt[dev]:X").contains("dev is no absolute mount point"));
        assertTrue(refused("dump -t 7 -D img --external mnt[/dev]").contains("expected mnt[POINT]:NAME"));
        assertTrue(refused("dump -t 7 -D img --external mnt[]:x").contains("mnt[]'s flags are m"));
        assertTrue(refused("restore -D img -d --external unix[1234]").contains("--inherit-fd"));
        assertTrue(refused("dump -t 7 -D img --external macvlan[mv0]:eth0").contains("a restore's option"));
        assertTrue(refused("dump -t 7 -D img --external veth[eth0]:v0").contains("a restore's option"));
        assertTrue(refused("restore -D img -d --external macvlan[mv0]").contains("expected macvlan[NAME]:DEVICE"));
        assertTrue(refused("restore -D img -d --external foo").contains("expected TYPE[ID]:VALUE"));
    }

    @Test
    void restoreAcceptsCriusRestoreFlags() {
        StringWriter err = new StringWriter();
        // parsed, then refused for the missing image: not for an unknown option
        int code = CryoCli.execute("restore -D /nonexistent/img --tcp-established -j --ext-unix-sk --file-locks -v4 --no-agent"
                .split(" "), new PrintWriter(new StringWriter()), new PrintWriter(err, true));
        assertEquals(1, code, err.toString());
        assertTrue(!err.toString().contains("Unknown option"), err.toString());
    }
}
