package dev.cryo.it;

import dev.cryo.cli.CryoCli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the cryo CLI in-process, as a user would type it, capturing its output and exit code. */
record Cli(int code, String out, String err) {
    static Cli run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CryoCli.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Cli(code, out.toString(), err.toString());
    }

    @Override
    public String toString() {
        return "exit " + code + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
}
