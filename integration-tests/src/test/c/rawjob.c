/* A shell's foreground job that takes the terminal into raw mode (no canonical lines, no echo),
 * as an editor, a pager or a REPL's line editor does, then answers each key at once.
 * Prints "ready PID", then "got-C" for every byte C it reads from its terminal. */
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

int main(void) {
    struct termios t;
    if (tcgetattr(0, &t) != 0) {
        perror("tcgetattr");
        return 1;
    }
    t.c_lflag &= ~(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSANOW, &t) != 0) {
        perror("tcsetattr");
        return 1;
    }
    printf("ready %d\n", (int) getpid());
    fflush(stdout);
    char c;
    while (read(0, &c, 1) == 1) {
        printf("got-%c\n", c);
        fflush(stdout);
    }
    return 0;
}
