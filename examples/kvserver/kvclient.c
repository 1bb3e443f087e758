/*
 * kvclient - send command lines to kvserver and print its replies.
 *
 *     kvclient PORT [LINE]...
 *
 * Connects to 127.0.0.1:PORT, sends each LINE with a newline (or, with no
 * LINE, standard input as it is), closes its sending side and prints what
 * the server replies until it closes the connection: one reply line per
 * command, in order. Exits 1 when it cannot connect.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char buf[65536];
    char *end;
    long port;
    ssize_t n;
    int fd, rc = 0;

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "usage: kvclient PORT [LINE]...\n");
        return argc < 2 ? 2 : 0;
    }
    port = strtol(argv[1], &end, 10);
    if (*end || port <= 0 || port > 65535) {
        fprintf(stderr, "kvclient: bad port %s\n", argv[1]);
        return 2;
    }
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a)) {
        fprintf(stderr, "kvclient: 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    /* Everything is sent before anything is read: the server holds back
     * replies a client does not read only past 256 KiB, far more than a
     * command line's worth here. */
    if (argc > 2) {
        for (int i = 2; i < argc && rc == 0; i++)
            rc =
                send_all(fd, argv[i], strlen(argv[i])) || send_all(fd, "\n", 1);
    } else {
        while (rc == 0 && (n = read(0, buf, sizeof buf)) > 0)
            rc = send_all(fd, buf, (size_t)n);
    }
    shutdown(fd, SHUT_WR);
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    if (rc || n < 0) {
        fprintf(stderr, "kvclient: %s\n", strerror(errno));
        rc = 1;
    }
    close(fd);
    return rc;
}
