/*
 * A loopback TCP connection whose client end runs kernel TLS (TCP_ULP "tls" with a TLS 1.2
 * AES-GCM-128 transmit key), as nginx's `ssl_conf_command Options KTLS` or OpenSSL's
 * SSL_OP_ENABLE_KTLS set it up: the dump must refuse it by name (the key and record state cannot be
 * read back) and the tree run on. Prints "no kernel TLS" when the kernel has no tls ULP, then
 * "ready". On SIGUSR2: the connection still carries a record; prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) < 0)
        fail("listen");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) < 0) fail("connect");
    int s = accept(l, NULL, NULL);
    if (s < 0) fail("accept");
    if (setsockopt(c, SOL_TCP, TCP_ULP, "tls", sizeof "tls") < 0) {
        printf("no kernel TLS\nready\n");
        while (!check) pause();
        printf("PASS\n");
        return 0;
    }
    struct tls12_crypto_info_aes_gcm_128 key;
    memset(&key, 0, sizeof key);
    key.info.version = TLS_1_2_VERSION;
    key.info.cipher_type = TLS_CIPHER_AES_GCM_128;
    if (setsockopt(c, SOL_TLS, TLS_TX, &key, sizeof key) < 0) fail("TLS_TX");
    printf("ready\n");
    while (!check) pause();
    char buf[64];
    if (write(c, "x", 1) != 1) fail("write through kernel TLS");
    ssize_t n = read(s, buf, sizeof buf); /* a record: 5-byte header, 8-byte nonce, 1 byte, 16-byte tag */
    if (n < 5 || buf[0] != 23) fail("no TLS record came out");
    printf("PASS\n");
    return 0;
}
