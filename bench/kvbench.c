/*
 * kvbench - kvserver's throughput with and without its three plugins
 * (bench/ops, part 2; bench/README.md).
 *
 *     kvbench [N]
 *
 * Starts tenon-kvserver (examples/kvserver) three times: with no plugin;
 * with kv-audit, kv-limit (a limit no value reaches) and kv-ttl, the log
 * going to /dev/null; and with the same three at log level warn, where
 * kv-audit's hooks run and return without formatting a line. One client
 * connection sends N commands (default 1,000,000), SET and GET of 1,000
 * keys alternating, pipelined in batches of 256, and reads every reply.
 * Each configuration runs three times, interleaved; the best run counts.
 * Prints commands per second for each and the ratio to the server without
 * plugins.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef KVSERVER
#error "build with -DKVSERVER=\"build/examples/tenon-kvserver\""
#endif
#ifndef KV_PLUGIN_DIR
#error "build with -DKV_PLUGIN_DIR=\"build/plugins\""
#endif

#define BATCH 256
#define KEYS  1000
#define RUNS  3

struct config {
    const char *name;
    const char *args[12];
    double best; /* commands per second */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "kvbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Start the server; *port gets the port it printed. */
static pid_t start(const struct config *c, int *port)
{
    const char *argv[16] = {KVSERVER, "--plugin-path", KV_PLUGIN_DIR};
    char line[128];
    int out[2], n = 3;
    ssize_t len = 0, r;
    pid_t pid;

    for (const char *const *a = c->args; *a; a++)
        argv[n++] = *a;
    if (pipe(out))
        die("pipe");
    if ((pid = fork()) < 0)
        die("fork");
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        /* A benchmark that stops on an error (die()) takes it along. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], 1);
        dup2(null, 2);
        close(out[0]);
        execv(KVSERVER, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    while (len < (ssize_t)sizeof line - 1 &&
           (r = read(out[0], line + len, sizeof line - 1 - (size_t)len)) > 0 &&
           !memchr(line, '\n', (size_t)(len += r)))
        ;
    line[len > 0 ? len : 0] = '\0';
    close(out[0]);
    if (sscanf(line, "listening on 127.0.0.1:%d", port) != 1) {
        fprintf(stderr, "kvbench: %s did not start\n", KVSERVER);
        exit(1);
    }
    return pid;
}

static void stop(pid_t pid)
{
    int status;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
}

/* N commands over one connection; returns commands per second. */
static double run(int port, long n)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    static char out[BATCH * 64], in[1 << 16];
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    double t0;
    long sent = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    t0 = now_s();
    while (sent < n) {
        size_t len = 0;
        long batch = n - sent < BATCH ? n - sent : BATCH, replies = 0;
        for (long i = 0; i < batch; i++, sent++)
            len +=
                (size_t)(sent % 2 ? sprintf(out + len, "GET key%ld\n",
                                            sent / 2 % KEYS)
                                  : sprintf(out + len, "SET key%ld value-%ld\n",
                                            sent / 2 % KEYS, sent));
        for (size_t off = 0; off < len;) {
            ssize_t w = send(fd, out + off, len - off, MSG_NOSIGNAL);
            if (w <= 0)
                die("send");
            off += (size_t)w;
        }
        while (replies < batch) {
            ssize_t r = recv(fd, in, sizeof in, 0);
            if (r <= 0)
                die("recv");
            for (char *p = in; (p = memchr(p, '\n', (size_t)(in + r - p))); p++)
                replies++;
        }
    }
    close(fd);
    return (double)n / (now_s() - t0);
}

int main(int argc, char **argv)
{
    struct config cs[] = {
        {"no plugin", {NULL}, 0},
        {"kv-audit, kv-limit, kv-ttl",
         {"--plugin", "kv-audit", "--plugin", "kv-limit:max=1m", "--plugin",
          "kv-ttl", NULL},
         0},
        {"the same, log level warn",
         {"--plugin", "kv-audit", "--plugin", "kv-limit:max=1m", "--plugin",
          "kv-ttl", "--log-level", "warn", NULL},
         0},
    };
    size_t nc = sizeof cs / sizeof cs[0];
    long n = argc > 1 ? atol(argv[1]) : 1000000;

    if (n <= 0) {
        fprintf(stderr, "usage: kvbench [N]\n");
        return 2;
    }
    printf("kvserver: %ld commands (SET and GET alternating) over one "
           "loopback connection, pipelined %d at a time; best of %d\n",
           n, BATCH, RUNS);
    for (int r = 0; r < RUNS; r++)
        for (size_t i = 0; i < nc; i++) {
            int port;
            pid_t pid = start(&cs[i], &port);
            double ops = run(port, n);
            stop(pid);
            if (ops > cs[i].best)
                cs[i].best = ops;
        }
    for (size_t i = 0; i < nc; i++)
        printf("  %-28s %10.0f commands/s  %5.2fx the time of no plugin\n",
               cs[i].name, cs[i].best, cs[0].best / cs[i].best);
    return 0;
}
