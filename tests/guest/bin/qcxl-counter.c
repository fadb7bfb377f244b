/*
 * qcxl-counter: a TCP counter service for the HA tests.
 *
 *   qcxl-counter PORT [FILE]
 *
 * Listens on PORT.  For every line a client sends, the counter (one, in
 * this process's memory) goes up by one and the new value is the reply,
 * a line.  With FILE, the new value is first appended to FILE as a
 * record of RECORD_LEN bytes ("record", the value in 24 digits, a
 * newline) and fsync'ed: a reply N says records 1 to N are on the
 * disk.  Clients are served one at a time, and a new connection is
 * taken while the last one is open (a client that moved to another host
 * reconnects; the old connection may never close).
 *
 * Under HA, a reply leaves the VM only once the epoch that computed it
 * has committed, so after a takeover the counter is never below a value
 * a client was answered: every reply a client sees is larger than the
 * one before.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECORD_LEN 32

/* Record @value in @fd and make it durable; 0, or -1 */
static int record(int fd, uint64_t value)
{
    char rec[RECORD_LEN + 1];

    snprintf(rec, sizeof(rec), "record %024" PRIu64 "\n", value);
    if (write(fd, rec, RECORD_LEN) != RECORD_LEN || fsync(fd)) {
        perror("qcxl-counter: record");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    uint64_t counter = 0;
    int one = 1, ls, conn = -1, fd = -1;
    char buf[256];

    if (argc < 2 || argc > 3 || atoi(argv[1]) <= 0 ||
        atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: qcxl-counter PORT [FILE]\n");
        return 2;
    }
    if (argc == 3) {
        fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0) {
            perror("qcxl-counter: open");
            return 1;
        }
    }
    a.sin_port = htons(atoi(argv[1]));
    ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one,
                             sizeof(one)) ||
        bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4)) {
        perror("qcxl-counter: listen");
        return 1;
    }
    printf("counter_listening %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        struct pollfd p[2] = { { .fd = ls, .events = POLLIN },
                               { .fd = conn, .events = POLLIN } };
        ssize_t n;

        if (poll(p, conn >= 0 ? 2 : 1, -1) < 0) {
            continue;
        }
        if (p[0].revents & POLLIN) {
            int c = accept(ls, NULL, NULL);

            if (c >= 0) {
                if (conn >= 0) {
                    close(conn);
                }
                conn = c;
            }
            continue;
        }
        if (conn < 0 || !(p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            continue;
        }
        n = read(conn, buf, sizeof(buf));
        if (n <= 0) {
            close(conn);
            conn = -1;
            continue;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                char reply[32];
                int len = snprintf(reply, sizeof(reply), "%llu\n",
                                   (unsigned long long)++counter);

                if (fd >= 0 && record(fd, counter)) {
                    return 1;
                }
                if (write(conn, reply, len) != len) {
                    close(conn);
                    conn = -1;
                    break;
                }
            }
        }
    }
}
