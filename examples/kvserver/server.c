/*
 * kvserver - a line-protocol key-value server whose commands are Tenon
 * operations (examples/kvserver/README.md).
 *
 *     kvserver [--port N] [--plugin SPEC]... [--policy FILE]
 *              [--plugin-path DIR]... [--max-line BYTES]
 *              [--max-clients N] [--log-level LEVEL]
 *
 * One thread: poll(2) over the listening socket and every client, with the
 * time to the next plugin timer (tenon_poll()) as its timeout. Each client
 * sends lines, GET key / SET key value / DEL key (and what plugins add);
 * each line gets one reply line, in order. Listens on 127.0.0.1 only; port
 * 0 (the default) lets the system pick, and the port is printed on stdout
 * as "listening on 127.0.0.1:PORT".
 *
 * A line longer than --max-line gets "ERR line too long (limit N bytes)"
 * as soon as that many bytes came without a newline; the rest of that line
 * is read and dropped, and the connection goes on with the next line. A
 * client that closes in the middle of a line has that part dropped. A
 * client that does not read its replies is not read from either once
 * OUT_HIGH bytes wait for it.
 */
#include "kvserver.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK  (64u << 10)
#define OUT_HIGH    (256u << 10) /* replies waiting before reading stops */
#define MAX_PLUGINS 64

struct conn {
    int fd;
    char *in; /* bytes read and not yet executed */
    size_t in_len, in_cap;
    size_t scanned; /* in[0..scanned) holds no newline */
    int skipping;   /* dropping the rest of a line that was too long */
    int eof;        /* the client closed its side: flush, then close */
    char *out;      /* replies not yet sent: out[out_off..out_len) */
    size_t out_off, out_len, out_cap;
};

struct server {
    tenon_t *t;
    struct kv_ops ops;
    int lfd;
    size_t max_line, max_clients;
    struct conn **conns;
    size_t nconns;
    struct pollfd *pfds;
    size_t pfd_cap;
    struct timespec accept_paused; /* until then, after EMFILE */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_log(void *ud, int level, const char *origin, const char *msg)
{
    (void)ud;
    (void)level;
    fprintf(stderr, "%s: %s\n", origin, msg);
}

/* ---- connections -------------------------------------------------------- */

static int reserve(char **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 4096;
    char *p;
    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    if (!(p = realloc(*buf, n)))
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* Queue a reply line; 0, or -1 when memory ran out (the caller drops the
 * client). */
static int queue(struct conn *c, const void *data, size_t len)
{
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (reserve(&c->out, &c->out_cap, c->out_len + len + 1))
        return -1;
    memcpy(c->out + c->out_len, data, len);
    c->out[c->out_len + len] = '\n';
    c->out_len += len + 1;
    return 0;
}

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static int too_long(const struct server *s, struct conn *c)
{
    char msg[64];
    int n = snprintf(msg, sizeof msg, "ERR line too long (limit %zu bytes)",
                     s->max_line);
    return queue(c, msg, (size_t)n);
}

static int has_line(const struct conn *c)
{
    return c->in_len > c->scanned &&
           memchr(c->in + c->scanned, '\n', c->in_len - c->scanned) != NULL;
}

/* Execute the complete lines read, as long as the client reads replies. */
static int run_lines(struct server *s, struct conn *c)
{
    size_t done = 0;
    char *nl;

    while (c->out_len - c->out_off < OUT_HIGH &&
           (nl = memchr(c->in + c->scanned, '\n', c->in_len - c->scanned))) {
        size_t len = (size_t)(nl - (c->in + done));
        if (c->skipping) {
            c->skipping = 0;
        } else if (len > s->max_line) {
            /* Its newline came in the read that took it past the limit. */
            if (too_long(s, c))
                return -1;
        } else {
            kv_ops_execute(&s->ops, c->in + done, len);
            if (queue(c, s->ops.reply.data, s->ops.reply.len))
                return -1;
        }
        done += len + 1;
        c->scanned = done;
    }
    if (done) {
        memmove(c->in, c->in + done, c->in_len - done);
        c->in_len -= done;
        c->scanned -= done;
    }
    if (!has_line(c))
        c->scanned = c->in_len;
    /* No newline in more than max_line bytes: the line is too long, what
     * is buffered goes, and so does what follows up to its newline. */
    if (c->in_len > s->max_line && c->scanned == c->in_len) {
        if (!c->skipping && too_long(s, c))
            return -1;
        c->skipping = 1;
        c->in_len = c->scanned = 0;
    }
    return 0;
}

static int flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                       ? 0
                       : -1;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return 0;
}

/* A client that once sent a long line or read a long reply does not keep
 * megabytes for the rest of its connection. */
static void trim(struct conn *c)
{
    char *p;
    if (c->in_cap > (1u << 20) && c->in_len <= READ_CHUNK &&
        (p = realloc(c->in, 2 * READ_CHUNK))) {
        c->in = p;
        c->in_cap = 2 * READ_CHUNK;
    }
    if (c->out_cap > (1u << 20) && c->out_off == c->out_len) {
        free(c->out);
        c->out = NULL;
        c->out_cap = c->out_off = c->out_len = 0;
    }
}

/* Send replies and run the lines held back, until the client's socket is
 * full or no complete line is left; -1 when the connection failed. */
static int pump(struct server *s, struct conn *c)
{
    for (;;) {
        if (flush_out(c))
            return -1;
        if (c->out_len - c->out_off >= OUT_HIGH || !has_line(c)) {
            trim(c);
            return 0;
        }
        if (run_lines(s, c))
            return -1;
    }
}

/* Read what the client sent and run it; -1 when the connection is over. */
static int conn_read(struct server *s, struct conn *c)
{
    ssize_t n;
    if (reserve(&c->in, &c->in_cap, c->in_len + READ_CHUNK))
        return -1;
    n = recv(c->fd, c->in + c->in_len, READ_CHUNK, MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0
                                                                         : -1;
    if (n == 0) {
        /* A line the client did not finish is dropped, not run; complete
         * ones held back until it reads its replies still run. */
        char *last = memrchr(c->in, '\n', c->in_len);
        c->eof = 1;
        c->in_len = last ? (size_t)(last - c->in) + 1 : 0;
        if (c->scanned > c->in_len)
            c->scanned = c->in_len;
        return 0;
    }
    c->in_len += (size_t)n;
    return run_lines(s, c);
}

/* ---- the listening socket ------------------------------------------------ */

static int listen_on(int port, int *out_port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 128) ||
        getsockname(fd, (struct sockaddr *)&a, &alen)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *out_port = ntohs(a.sin_port);
    return fd;
}

static int after(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

static void accept_all(struct server *s)
{
    int one = 1;
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c, **cs;
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Out of descriptors: the queue waits 100 ms rather than
                 * the loop spinning on a listener that stays readable. */
                fprintf(stderr, "kvserver: accept: %s\n", strerror(errno));
                clock_gettime(CLOCK_MONOTONIC, &s->accept_paused);
                s->accept_paused.tv_nsec += 100000000;
                if (s->accept_paused.tv_nsec >= 1000000000) {
                    s->accept_paused.tv_sec++;
                    s->accept_paused.tv_nsec -= 1000000000;
                }
            }
            return;
        }
        if (s->nconns >= s->max_clients) {
            static const char full[] = "ERR server full\n";
            (void)!send(fd, full, sizeof full - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        cs = realloc(s->conns, (s->nconns + 1) * sizeof *cs);
        c = calloc(1, sizeof *c);
        if (cs)
            s->conns = cs;
        if (!cs || !c) {
            free(c);
            close(fd);
            continue;
        }
        /* Replies go out as soon as a batch of commands ran. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        s->conns[s->nconns++] = c;
    }
}

/* ---- the loop ---------------------------------------------------------------
 */

static int poll_timeout(int64_t next_ns)
{
    if (next_ns < 0)
        return -1;
    next_ns = (next_ns + 999999) / 1000000;
    return next_ns > INT_MAX ? INT_MAX : (int)next_ns;
}

static int serve(struct server *s, const sigset_t *unblocked)
{
    while (!stop) {
        int64_t next_ns;
        size_t n = 0, i, kept;
        struct timespec now, ts, *tp = NULL;
        int timeout, accepting;

        tenon_poll(s->t, &next_ns);
        timeout = poll_timeout(next_ns);
        clock_gettime(CLOCK_MONOTONIC, &now);
        accepting = !after(&s->accept_paused, &now);
        if (!accepting && (timeout < 0 || timeout > 100))
            timeout = 100;
        if (s->pfd_cap < s->nconns + 1) {
            struct pollfd *p = realloc(s->pfds, (s->nconns + 1) * sizeof *p);
            if (!p)
                return -1;
            s->pfds = p;
            s->pfd_cap = s->nconns + 1;
        }
        s->pfds[n++] = (struct pollfd){s->lfd, accepting ? POLLIN : 0, 0};
        for (i = 0; i < s->nconns; i++) {
            struct conn *c = s->conns[i];
            short ev = 0;
            if (!c->eof && c->out_len - c->out_off < OUT_HIGH)
                ev |= POLLIN;
            if (c->out_off < c->out_len)
                ev |= POLLOUT;
            s->pfds[n++] = (struct pollfd){c->fd, ev, 0};
        }
        if (timeout >= 0) {
            ts.tv_sec = timeout / 1000;
            ts.tv_nsec = (long)(timeout % 1000) * 1000000;
            tp = &ts;
        }
        if (ppoll(s->pfds, n, tp, unblocked) < 0) {
            if (errno == EINTR)
                continue;
            perror("kvserver: poll");
            return -1;
        }
        if (s->pfds[0].revents & POLLIN)
            accept_all(s);
        /* Connections accepted just now are polled next time round. */
        for (i = 0, kept = 0; i < n - 1; i++) {
            struct conn *c = s->conns[i];
            short re = s->pfds[i + 1].revents;
            int bad = 0;
            if (!c->eof && (re & (POLLIN | POLLHUP | POLLERR)))
                bad = conn_read(s, c);
            if (!bad)
                bad = pump(s, c);
            if (bad || (re & POLLNVAL) ||
                (c->eof && c->out_off == c->out_len && c->in_len == 0)) {
                conn_free(c);
                continue;
            }
            s->conns[kept++] = c;
        }
        for (; i < s->nconns; i++)
            s->conns[kept++] = s->conns[i];
        s->nconns = kept;
    }
    return 0;
}

/* ---- options ----------------------------------------------------------------
 */

static void usage(FILE *f)
{
    fputs("usage: kvserver [OPTION]...\n"
          "A key-value server on 127.0.0.1 whose commands are Tenon "
          "operations.\n"
          "Commands, one a line: GET key, SET key value, DEL key (and what "
          "plugins add).\n"
          "\n"
          "  --port N             TCP port (default 0: the system picks; "
          "printed on stdout)\n"
          "  --plugin SPEC        create plugin SPEC (\"name:args\"); "
          "repeatable\n"
          "  --plugin-path DIR    search DIR for plugins (repeatable; "
          "default TENON_PLUGIN_PATH etc.)\n"
          "  --policy FILE        the permissions plugins may get (tenon "
          "policy file)\n"
          "  --max-line BYTES     longest command line (default 1048576)\n"
          "  --max-clients N      clients at once (default 1024)\n"
          "  --log-level LEVEL    error, warn, info (default), debug, trace\n"
          "  --help               this text\n",
          f);
}

static int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

struct options {
    uint64_t port, max_line, max_clients;
    const char *specs[MAX_PLUGINS];
    size_t nspecs;
    const char *paths[MAX_PLUGINS];
    size_t npaths;
    const char *policy;
    int log_level;
};

/* 0, 1 for --help, 2 on a usage error (said on stderr). */
static int parse_options(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i += 2) { /* each option takes one value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "kvserver: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--port") == 0)
            bad = parse_size(v, 0, 65535, &o->port);
        else if (strcmp(a, "--max-line") == 0)
            bad = parse_size(v, 16, (uint64_t)1 << 32, &o->max_line);
        else if (strcmp(a, "--max-clients") == 0)
            bad = parse_size(v, 1, 1u << 20, &o->max_clients);
        else if (strcmp(a, "--plugin") == 0 && o->nspecs < MAX_PLUGINS)
            o->specs[o->nspecs++] = v;
        else if (strcmp(a, "--plugin-path") == 0 && o->npaths < MAX_PLUGINS)
            o->paths[o->npaths++] = v;
        else if (strcmp(a, "--policy") == 0)
            o->policy = v;
        else if (strcmp(a, "--log-level") == 0)
            bad = tenon_log_level_parse(v, &o->log_level) ? -1 : 0;
        else {
            fprintf(stderr, "kvserver: unknown option %s (or too many)\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "kvserver: bad value for %s: %s\n", a, v);
            return 2;
        }
    }
    return 0;
}

/* ---- main -------------------------------------------------------------------
 */

static int start(struct server *s, const struct options *o,
                 tenon_instance_t **insts)
{
    int port, rc;
    size_t i;

    if ((rc = kv_ops_init(&s->ops, s->t, s->max_line))) {
        if (rc == TENON_ENOMEM)
            fprintf(stderr,
                    "kvserver: no memory for lines of %zu bytes "
                    "(--max-line)\n",
                    s->max_line);
        else
            fprintf(stderr, "kvserver: %s\n", tenon_last_error());
        return -1;
    }
    if (o->policy && tenon_policy_load(s->t, o->policy)) {
        fprintf(stderr, "kvserver: %s\n", tenon_last_error());
        return -1;
    }
    /* Two steps: every plugin is created (its hooks attached, still
     * idle), then all are enabled, so no command sees half of them. */
    for (i = 0; i < o->nspecs; i++)
        if (tenon_create(s->t, o->specs[i], NULL, &insts[i])) {
            fprintf(stderr, "kvserver: %s: %s\n", o->specs[i],
                    tenon_last_error());
            return -1;
        }
    for (i = 0; i < o->nspecs; i++)
        if (tenon_instance_enable(insts[i])) {
            fprintf(stderr, "kvserver: %s: %s\n", o->specs[i],
                    tenon_last_error());
            return -1;
        }
    if ((s->lfd = listen_on((int)o->port, &port)) < 0) {
        fprintf(stderr, "kvserver: 127.0.0.1:%d: %s\n", (int)o->port,
                strerror(errno));
        return -1;
    }
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {
        .max_line = 1u << 20, .max_clients = 1024, .log_level = TENON_LOG_INFO};
    struct tenon_options topts = {.struct_size = sizeof topts,
                                  .log_fn = on_log};
    struct server s = {.lfd = -1};
    tenon_instance_t *insts[MAX_PLUGINS] = {0};
    struct sigaction sa = {.sa_handler = on_signal};
    sigset_t block, unblocked;
    int rc;

    if ((rc = parse_options(argc, argv, &o)))
        return rc == 1 ? 0 : 2;
    s.max_line = o.max_line;
    s.max_clients = o.max_clients;
    topts.log_level = o.log_level;
    topts.plugin_paths = o.npaths ? o.paths : NULL;
    topts.plugin_path_count = o.npaths;
    /* SIGINT and SIGTERM are let in only while ppoll() waits, so a stop
     * request never falls between the check and the wait. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &unblocked);
    sigdelset(&unblocked, SIGINT);
    sigdelset(&unblocked, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (tenon_open(&s.t, &topts)) {
        fprintf(stderr, "kvserver: %s\n", tenon_last_error());
        return 1;
    }
    rc = start(&s, &o, insts) || serve(&s, &unblocked) ? 1 : 0;
    for (size_t i = 0; i < s.nconns; i++)
        conn_free(s.conns[i]);
    free(s.conns);
    free(s.pfds);
    if (s.lfd >= 0)
        close(s.lfd);
    for (size_t i = o.nspecs; i-- > 0;)
        tenon_destroy(insts[i]);
    kv_ops_free(&s.ops);
    tenon_close(s.t);
    return rc;
}
