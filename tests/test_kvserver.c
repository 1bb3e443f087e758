/*
 * kvserver end to end (examples/kvserver): the real server program, real
 * clients over loopback, the real plugins kv-audit, kv-limit and kv-ttl.
 * Each test starts its own server on a port the system picks, reads the
 * port from its stdout, keeps its stderr (the log) in a file, and stops it
 * with SIGTERM at the end, checking that it exits 0 (under the sanitizers
 * that includes no leak).
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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

#define IO_TIMEOUT_MS 30000

struct server {
    pid_t pid;
    int port;
    char *dir; /* holds log.txt, the server's stderr */
    char *log_path;
};

/* Servers started and not stopped yet: a failing test leaves its server
 * running, which the teardown then kills. */
static pid_t live[8];

static void live_set(pid_t pid, pid_t to)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] == pid) {
            live[i] = to;
            return;
        }
}

static int kill_leftovers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    if (!f)
        return strdup("");
    do {
        if (len + 4096 + 1 > cap) {
            cap = (len + 4096 + 1) * 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        n = fread(buf + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Start the server with `args` (NULL-terminated) after --plugin-path. On
 * success *s is running and 0 is returned; when the server exits instead
 * (a plugin that cannot be created), its exit status, with its stderr in
 * *err (malloc'd). */
static int server_start_args(struct server *s, const char *const *args,
                             char **err)
{
    const char *argv[32];
    int out[2], n = 0, status;
    char buf[256];
    size_t len = 0;
    long deadline = now_ms() + IO_TIMEOUT_MS;

    memset(s, 0, sizeof *s);
    s->dir = make_tmpdir();
    s->log_path = path_join(s->dir, "log.txt");
    argv[n++] = KVSERVER;
    argv[n++] = "--plugin-path";
    argv[n++] = KV_PLUGIN_DIR;
    for (; args && *args; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int log = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        /* Nor does it outlive a test program that crashed or timed out. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (log < 0 || dup2(out[1], 1) < 0 || dup2(log, 2) < 0)
            _exit(126);
        unsetenv("TENON_POLICY");
        execv(KVSERVER, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    live_set(0, s->pid);
    /* "listening on 127.0.0.1:PORT\n", or end of file when it exits. */
    while (!memchr(buf, '\n', len) && len < sizeof buf - 1) {
        struct pollfd p = {out[0], POLLIN, 0};
        ssize_t r;
        assert_true(poll(&p, 1, (int)(deadline - now_ms())) == 1);
        r = read(out[0], buf + len, sizeof buf - 1 - len);
        assert_true(r >= 0);
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(out[0]);
    if (len == 0) {
        assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
        live_set(s->pid, 0);
        *err = read_file(s->log_path);
        remove_tree(s->dir);
        free(s->log_path);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    assert_true(sscanf(buf, "listening on 127.0.0.1:%d", &s->port) == 1);
    assert_true(s->port > 0);
    return 0;
}

static void server_start(struct server *s, const char *const *args)
{
    char *err = NULL;
    int rc = server_start_args(s, args, &err);
    if (rc) {
        print_error("kvserver exited %d:\n%s\n", rc, err);
        free(err);
        fail();
    }
}

/* What the server logged so far. */
static char *server_log(const struct server *s)
{
    return read_file(s->log_path);
}

static void server_stop(struct server *s)
{
    int status;
    char *log;
    assert_int_equal(kill(s->pid, SIGTERM), 0);
    assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
    live_set(s->pid, 0);
    log = server_log(s);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_error("kvserver status %d, log:\n%s\n", status, log);
        fail();
    }
    free(log);
    remove_tree(s->dir);
    free(s->log_path);
}

/* ---- clients ----------------------------------------------------------------
 */

static int client(const struct server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)s->port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        print_error("connect to 127.0.0.1:%d: %s\n", s->port, strerror(errno));
        fail();
    }
    return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

/* One line from fd, without its newline, malloc'd; NULL at end of file.
 * Reads a byte at a time: replies are short, and nothing after the line
 * is taken from the socket. */
static char *recv_line(int fd)
{
    size_t len = 0, cap = 256;
    char *buf = malloc(cap);
    long deadline = now_ms() + IO_TIMEOUT_MS;
    assert_non_null(buf);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;
        char c;
        if (poll(&p, 1, (int)(deadline - now_ms())) != 1) {
            print_error("no reply within %d ms\n", IO_TIMEOUT_MS);
            fail();
        }
        n = recv(fd, &c, 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        if (c == '\n')
            break;
        if (len + 2 > cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
        buf[len++] = c;
    }
    buf[len] = '\0';
    return buf;
}

/* Send `line` and a newline, and check the reply is `want`. */
static void expect(int fd, const char *line, const char *want)
{
    size_t len = strlen(line);
    char *got, *buf = malloc(len + 1);
    /* One write: with two, Nagle's algorithm holds the newline back until
     * the server's delayed ACK, 40 ms a command. */
    assert_non_null(buf);
    memcpy(buf, line, len);
    buf[len] = '\n';
    send_all(fd, buf, len + 1);
    free(buf);
    got = recv_line(fd);
    if (!got || strcmp(got, want) != 0) {
        print_error("%s\n  got:  %s\n  want: %s\n", line, got ? got : "(EOF)",
                    want);
        free(got);
        fail();
    }
    free(got);
}

/* The log holds `needle`, now or within a second. */
static void expect_log(const struct server *s, const char *needle)
{
    long deadline = now_ms() + 1000;
    for (;;) {
        char *log = server_log(s);
        int found = strstr(log, needle) != NULL;
        if (found || now_ms() > deadline) {
            if (!found)
                print_error("log lacks '%s':\n%s\n", needle, log);
            free(log);
            assert_true(found);
            return;
        }
        free(log);
        sleep_ms(20);
    }
}

/* ---- the protocol ---------------------------------------------------------
 */

static void test_get_set_del(void **state)
{
    struct server s;
    int fd;
    (void)state;
    server_start(&s, NULL);
    fd = client(&s);
    expect(fd, "GET user:1", "NIL");
    expect(fd, "SET user:1 alice", "OK");
    expect(fd, "GET user:1", "VALUE alice");
    expect(fd, "SET user:1 alice smith", "OK");
    expect(fd, "get user:1", "VALUE alice smith");
    expect(fd, "SET  spaced   value with  spaces", "OK");
    expect(fd, "GET spaced", "VALUE value with  spaces");
    expect(fd, "DEL user:1", "OK");
    expect(fd, "GET user:1", "NIL");
    expect(fd, "DEL user:1", "NIL");
    expect(fd, "SET crlf yes\r", "OK");
    expect(fd, "GET crlf\r", "VALUE yes");
    /* A second client sees the first one's keys. */
    {
        int fd2 = client(&s);
        expect(fd2, "GET spaced", "VALUE value with  spaces");
        close(fd2);
    }
    /* Pipelined: three commands in one write, three replies in order. */
    send_str(fd, "SET p 1\nGET p\nDEL p\n");
    for (int i = 0; i < 3; i++) {
        static const char *const want[] = {"OK", "VALUE 1", "OK"};
        char *got = recv_line(fd);
        assert_nstr(got, want[i]);
        free(got);
    }
    close(fd);
    server_stop(&s);
}

static void test_malformed(void **state)
{
    struct server s;
    int fd;
    (void)state;
    server_start(&s, NULL);
    fd = client(&s);
    expect(fd, "",
           "ERR empty line: expected a command: GET key, SET key value or "
           "DEL key");
    expect(fd, "    ",
           "ERR empty line: expected a command: GET key, SET key value or "
           "DEL key");
    expect(fd, "GET", "ERR GET takes a key: GET key");
    expect(fd, "GET a b", "ERR GET takes a key: GET key");
    expect(fd, "SET a", "ERR SET takes a key and a value: SET key value");
    expect(fd, "DEL", "ERR DEL takes a key: DEL key");
    expect(fd, "FROB a",
           "ERR unknown command 'FROB': expected GET, SET or DEL");
    expect(fd, "EXPIRE a 1",
           "ERR unknown command 'EXPIRE': expected GET, SET or DEL");
    send_all(fd, "SET a b\0c\n", 10);
    {
        char *got = recv_line(fd);
        assert_nstr(got, "ERR control byte 0x00 at byte 8: expected a line "
                         "of text, VERB [key [value]]");
        free(got);
    }
    expect(fd, "SET a \x1b[31mred",
           "ERR control byte 0x1b at byte 7: expected a line of text, VERB "
           "[key [value]]");
    expect(fd, "ABCDEFGHIJKLMNOPQ k",
           "ERR command name too long (17 bytes; at most 16)");
    /* The connection still works, and nothing was stored. */
    expect(fd, "GET a", "NIL");
    close(fd);
    server_stop(&s);
}

/* A 10 MB line: the error as soon as the limit is passed, the rest of the
 * line dropped, the next command on the same connection served, and
 * another client too. */
static void test_long_line(void **state)
{
    struct server s;
    size_t big = 10u << 20;
    char *line = malloc(big + 1);
    int fd;
    (void)state;
    assert_non_null(line);
    memcpy(line, "SET huge ", 9);
    memset(line + 9, 'x', big - 9);
    line[big] = '\n';
    server_start(&s, NULL);
    fd = client(&s);
    expect(fd, "SET small 1", "OK");
    send_all(fd, line, big + 1);
    expect(fd, "GET small", "ERR line too long (limit 1048576 bytes)");
    {
        char *got = recv_line(fd);
        assert_nstr(got, "VALUE 1");
        free(got);
    }
    expect(fd, "GET huge", "NIL");
    close(fd);
    fd = client(&s);
    expect(fd, "GET small", "VALUE 1");
    close(fd);
    server_stop(&s);

    /* At the limit exactly: taken; one byte more: refused. */
    {
        const char *args[] = {"--max-line", "32", NULL};
        char at[40];
        server_start(&s, args);
        fd = client(&s);
        memset(at, 'v', sizeof at);
        memcpy(at, "SET k ", 6);
        at[32] = '\0';
        expect(fd, at, "OK");
        at[32] = 'v';
        at[33] = '\0';
        expect(fd, at, "ERR line too long (limit 32 bytes)");
        at[32] = '\0';
        expect(fd, "GET k", "VALUE vvvvvvvvvvvvvvvvvvvvvvvvvv");
        close(fd);
        server_stop(&s);
    }
    free(line);
}

/* Clients that go away in the middle of a line, or with replies unread:
 * the partial line never runs, and the server serves on. */
static void test_close_mid_line(void **state)
{
    struct server s;
    int fd;
    (void)state;
    server_start(&s, NULL);
    fd = client(&s);
    send_str(fd, "SET half the value");
    close(fd);
    fd = client(&s);
    send_str(fd, "SET k v\nGET k\nGET k\nSET gone");
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 3; i++) {
        char *got = recv_line(fd);
        assert_nstr(got, i == 0 ? "OK" : "VALUE v");
        free(got);
    }
    assert_null(recv_line(fd)); /* closed after the complete lines */
    close(fd);
    fd = client(&s);
    send_str(fd, "GET k\nGET k\n");
    close(fd); /* replies unread: the server's send fails, no crash */
    fd = client(&s);
    expect(fd, "GET half", "NIL");
    expect(fd, "GET gone", "NIL");
    expect(fd, "GET k", "VALUE v");
    close(fd);
    server_stop(&s);
}

/* 200 clients connected at once, their commands interleaved. */
static void test_many_clients(void **state)
{
    enum { N = 200 };
    struct server s;
    int fds[N];
    char line[64], want[64];
    (void)state;
    server_start(&s, NULL);
    for (int i = 0; i < N; i++)
        fds[i] = client(&s);
    for (int i = 0; i < N; i++) {
        snprintf(line, sizeof line, "SET key%d value%d\n", i, i);
        send_str(fds[i], line);
    }
    for (int i = N; i-- > 0;) {
        char *got = recv_line(fds[i]);
        assert_nstr(got, "OK");
        free(got);
        snprintf(line, sizeof line, "GET key%d", (i + 1) % N);
        snprintf(want, sizeof want, "VALUE value%d", (i + 1) % N);
        expect(fds[i], line, want);
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    server_stop(&s);
}

/* A client that sends 400 GETs of a 64 KiB value (25 MB of replies) and
 * reads nothing for a while: the server stops reading it but serves
 * others meanwhile, then delivers every reply. */
static void test_slow_reader(void **state)
{
    enum { N = 400, V = 64 << 10 };
    struct server s;
    char *set = malloc(V + 16), *want = malloc(V + 16);
    int slow, fd;
    (void)state;
    assert_non_null(set);
    assert_non_null(want);
    memcpy(set, "SET big ", 8);
    memset(set + 8, 'b', V);
    set[8 + V] = '\0';
    memcpy(want, "VALUE ", 6);
    memset(want + 6, 'b', V);
    want[6 + V] = '\0';
    server_start(&s, NULL);
    slow = client(&s);
    expect(slow, set, "OK");
    {
        /* The GETs go from a child process: they cannot all be sent
         * while nobody reads the replies. */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* No cmocka assertion here: a failure would go on running
             * the tests in this copy of the process. */
            for (int i = 0; i < N; i++)
                if (send(slow, "GET big\n", 8, MSG_NOSIGNAL) != 8)
                    _exit(1);
            _exit(0);
        }
        sleep_ms(300);
        fd = client(&s);
        expect(fd, "SET other 1", "OK");
        expect(fd, "GET other", "VALUE 1");
        close(fd);
        /* Read in bulk (a byte at a time takes seconds), checking each
         * byte against the replies expected. */
        {
            size_t reply = 6 + V + 1, total = (size_t)N * reply, at = 0;
            char *buf = malloc(1 << 16);
            assert_non_null(buf);
            want[6 + V] = '\n';
            while (at < total) {
                struct pollfd p = {slow, POLLIN, 0};
                ssize_t n;
                assert_int_equal(poll(&p, 1, IO_TIMEOUT_MS), 1);
                n = recv(slow, buf, 1 << 16, 0);
                assert_true(n > 0);
                for (ssize_t k = 0; k < n; k++, at++)
                    if (buf[k] != want[at % reply]) {
                        print_error("byte %zu of the replies differs\n", at);
                        fail();
                    }
            }
            free(buf);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(status, 0);
    }
    close(slow);
    server_stop(&s);
    free(set);
    free(want);
}

/* ---- the plugins ----------------------------------------------------------
 */

static void test_audit(void **state)
{
    const char *args[] = {"--plugin", "kv-audit", NULL};
    struct server s;
    int fd;
    (void)state;
    server_start(&s, args);
    fd = client(&s);
    expect(fd, "SET user:1 alice", "OK");
    expect(fd, "GET user:1", "VALUE alice");
    expect(fd, "GET nobody", "NIL");
    expect(fd, "DEL user:1", "OK");
    expect(fd, "SET caf\xc3\xa9 x\\y", "OK");
    expect(fd, "SET one 1", "OK");
    expect(fd, "GET", "ERR GET takes a key: GET key");
    send_all(fd, "SET a\tb c\n", 10);
    free(recv_line(fd));
    close(fd);
    expect_log(&s, "kv-audit: SET user:1 (5 bytes) -> OK\n");
    expect_log(&s, "kv-audit: GET user:1 -> VALUE alice\n");
    expect_log(&s, "kv-audit: GET nobody -> NIL\n");
    expect_log(&s, "kv-audit: DEL user:1 -> OK\n");
    /* Not printable: \xHH, the backslash too. */
    expect_log(&s, "kv-audit: SET caf\\xc3\\xa9 (3 bytes) -> OK\n");
    expect_log(&s, "kv-audit: SET one (1 byte) -> OK\n");
    expect_log(&s, "kv-audit: GET -> ERR GET takes a key: GET key\n");
    expect_log(&s, "kv-audit: bad line (9 bytes) -> ERR control byte 0x09 "
                   "at byte 6");
    server_stop(&s);
}

static void test_limit(void **state)
{
    const char *args[] = {"--plugin", "kv-limit:max=64", NULL};
    const char *dirs[] = {KV_PLUGIN_DIR};
    const tenon_plugin_t *p;
    tenon_t *t = open_scanned(dirs, 1);
    struct server s;
    char line[128];
    int fd;
    (void)state;

    /* The build this test runs: WebAssembly wherever the toolchain is. */
    assert_int_equal(tenon_find(t, "kv-limit", &p), 0);
#ifdef KV_LIMIT_WASM
    assert_nstr(tenon_plugin_get(p, "sandbox"), "wasm32");
#else
    assert_null(tenon_plugin_get(p, "sandbox"));
#endif
    tenon_close(t);

    server_start(&s, args);
    fd = client(&s);
    memset(line, 'v', sizeof line);
    memcpy(line, "SET k ", 6);
    line[6 + 64] = '\0';
    expect(fd, line, "OK");
    line[6 + 64] = 'v';
    line[6 + 100] = '\0';
    expect(fd, line, "ERR value too large: 100 bytes, limit 64");
    /* The refused SET did not run: the key keeps its 64 bytes. */
    line[6 + 64] = '\0';
    {
        char want[80] = "VALUE ";
        memcpy(want + 6, line + 6, 65);
        expect(fd, "GET k", want);
    }
    /* Other commands with long arguments are not its business. */
    expect(fd,
           "GET kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
           "kkkkkkkkkkkkkkkkkkkkk",
           "NIL");
    close(fd);
    server_stop(&s);
}

/* The TTL reply is "VALUE S.MMM" with S.MMM at most `max` seconds. */
static void expect_ttl_below(int fd, const char *key, double max)
{
    char line[64], *got;
    double left = -1;
    snprintf(line, sizeof line, "TTL %s\n", key);
    send_str(fd, line);
    got = recv_line(fd);
    assert_non_null(got);
    assert_true(sscanf(got, "VALUE %lf", &left) == 1);
    assert_true(left > 0 && left <= max);
    free(got);
}

static void test_ttl(void **state)
{
    const char *args[] = {"--plugin", "kv-ttl", NULL};
    struct server s;
    int fd;
    (void)state;
    server_start(&s, args);
    fd = client(&s);
    expect(fd, "EXPIRE nokey 1", "NIL");
    expect(fd, "SET k v", "OK");
    expect(fd, "TTL k", "NIL");
    expect(fd, "EXPIRE k 0.3", "OK");
    expect_ttl_below(fd, "k", 0.3);
    expect(fd, "GET k", "VALUE v");
    /* Nothing is sent meanwhile: the server must wake for the timer. */
    sleep_ms(600);
    expect(fd, "GET k", "NIL");
    expect(fd, "TTL k", "NIL");

    /* SET cancels, DEL cancels, EXPIRE again replaces. */
    expect(fd, "SET a 1", "OK");
    expect(fd, "EXPIRE a 0.2", "OK");
    expect(fd, "SET a 2", "OK");
    expect(fd, "TTL a", "NIL");
    expect(fd, "SET b 1", "OK");
    expect(fd, "EXPIRE b 0.2", "OK");
    expect(fd, "DEL b", "OK");
    expect(fd, "TTL b", "NIL");
    expect(fd, "SET b 3", "OK");
    expect(fd, "SET c 1", "OK");
    expect(fd, "EXPIRE c 0.2", "OK");
    expect(fd, "EXPIRE c 60", "OK");
    expect_ttl_below(fd, "c", 60);
    sleep_ms(500);
    expect(fd, "GET a", "VALUE 2");
    expect(fd, "GET b", "VALUE 3");
    expect(fd, "GET c", "VALUE 1");

    /* Bad arguments, and verbs it does not know. */
    expect(fd, "EXPIRE c",
           "ERR EXPIRE takes a key and seconds: EXPIRE key "
           "seconds");
    expect(fd, "EXPIRE c soon",
           "ERR EXPIRE seconds: a number from 0.001 to 31536000, e.g. 10 or "
           "0.5");
    expect(fd, "EXPIRE c 0",
           "ERR EXPIRE seconds: a number from 0.001 to 31536000, e.g. 10 or "
           "0.5");
    expect(fd, "TTL", "ERR TTL takes a key: TTL key");
    expect(fd, "FROB a",
           "ERR unknown command 'FROB': expected GET, SET or DEL");
    close(fd);
    server_stop(&s);
}

/* Many keys expiring at about the same time, in one poll. */
static void test_ttl_many(void **state)
{
    const char *args[] = {"--plugin", "kv-ttl", NULL};
    struct server s;
    char line[64];
    int fd;
    (void)state;
    server_start(&s, args);
    fd = client(&s);
    for (int i = 0; i < 300; i++) {
        snprintf(line, sizeof line, "SET k%d v", i);
        expect(fd, line, "OK");
        snprintf(line, sizeof line, "EXPIRE k%d 0.%03d", i, 100 + i);
        expect(fd, line, "OK");
    }
    sleep_ms(800);
    for (int i = 0; i < 300; i++) {
        snprintf(line, sizeof line, "GET k%d", i);
        expect(fd, line, "NIL");
    }
    close(fd);
    server_stop(&s);
}

/* A policy that does not grant kv-ttl the timer: it is not created, and the
 * error names the permission. */
static void test_ttl_policy(void **state)
{
    char *dir = *state, *policy = path_join(dir, "policy"), *err = NULL;
    const char *args[] = {"--policy", policy, "--plugin", "kv-ttl", NULL};
    struct server s;
    FILE *f = fopen(policy, "w");
    int rc;
    assert_non_null(f);
    fputs("# kv-ttl may not set timers\n"
          "kv-ttl op log buffer.read buffer.write\n"
          "* all\n",
          f);
    fclose(f);
    rc = server_start_args(&s, args, &err);
    assert_int_equal(rc, 1);
    assert_contains(err, "kv-ttl");
    assert_contains(err, "timer");
    free(err);

    /* The same policy lets kv-audit and kv-limit in. */
    {
        const char *ok[] = {"--policy", policy,       "--plugin", "kv-audit",
                            "--plugin", "kv-limit:8", NULL};
        int fd;
        server_start(&s, ok);
        fd = client(&s);
        expect(fd, "SET k 123456789", "ERR value too large: 9 bytes, limit 8");
        close(fd);
        expect_log(&s, "kv-audit: SET k (9 bytes) -> ERR value too large");
        server_stop(&s);
    }
    free(policy);
}

/* The three together, as make demo runs them. */
static void test_all_three(void **state)
{
    const char *args[] = {"--plugin", "kv-audit", "--plugin", "kv-limit:max=16",
                          "--plugin", "kv-ttl",   NULL};
    struct server s;
    int fd;
    (void)state;
    server_start(&s, args);
    fd = client(&s);
    expect(fd, "SET session:9 token", "OK");
    expect(fd, "SET note this value is far too long",
           "ERR value too large: 26 bytes, limit 16");
    expect(fd, "EXPIRE session:9 0.2", "OK");
    expect(fd, "GET session:9", "VALUE token");
    sleep_ms(500);
    expect(fd, "GET session:9", "NIL");
    close(fd);
    expect_log(&s, "kv-audit: SET session:9 (5 bytes) -> OK\n");
    expect_log(&s, "kv-audit: SET note (26 bytes) -> ERR value too large: 26 "
                   "bytes, limit 16\n");
    expect_log(&s, "kv-audit: EXPIRE session:9 (3 bytes) -> OK\n");
    expect_log(&s, "kv-audit: kv.del session:9 -> deleted\n");
    expect_log(&s, "kv-audit: GET session:9 -> NIL\n");
    server_stop(&s);
}

/* What each plugin hooks and asks for is in its static info: tenon info
 * shows it without loading the plugin. */
static void test_info(void **state)
{
    static const char *const want[][5] = {
        {"kv-audit", "after kv.command", "after kv.parse", "after kv.del",
         "op log buffer.read"},
        {"kv-limit", "before kv.command", "before kv.command",
         "before kv.command", "op buffer.read buffer.write"},
        {"kv-ttl", "define kv.unknown", "after kv.command", "after kv.command",
         "op log buffer.read buffer.write timer"},
    };
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        struct run r;
        RUN(&r, "info", want[i][0], "--plugin-path", KV_PLUGIN_DIR);
        assert_status(&r, 0);
        for (size_t k = 1; k < 5; k++)
            assert_contains(r.out, want[i][k]);
        run_free(&r);
    }
}

static void test_usage(void **state)
{
    const char *args[] = {"--port", "70000", NULL};
    const char *bad[] = {"--plugin", "nosuch", NULL};
    struct server s;
    char *err = NULL;
    (void)state;
    assert_int_equal(server_start_args(&s, args, &err), 2);
    assert_contains(err, "--port");
    free(err);
    assert_int_equal(server_start_args(&s, bad, &err), 1);
    assert_contains(err, "nosuch");
    free(err);
}

static int policy_teardown(void **state)
{
    kill_leftovers(state);
    return tmp_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_get_set_del, kill_leftovers),
        cmocka_unit_test_teardown(test_malformed, kill_leftovers),
        cmocka_unit_test_teardown(test_long_line, kill_leftovers),
        cmocka_unit_test_teardown(test_close_mid_line, kill_leftovers),
        cmocka_unit_test_teardown(test_many_clients, kill_leftovers),
        cmocka_unit_test_teardown(test_slow_reader, kill_leftovers),
        cmocka_unit_test_teardown(test_audit, kill_leftovers),
        cmocka_unit_test_teardown(test_limit, kill_leftovers),
        cmocka_unit_test_teardown(test_ttl, kill_leftovers),
        cmocka_unit_test_teardown(test_ttl_many, kill_leftovers),
        cmocka_unit_test_setup_teardown(test_ttl_policy, tmp_setup,
                                        policy_teardown),
        cmocka_unit_test_teardown(test_all_three, kill_leftovers),
        cmocka_unit_test_teardown(test_info, kill_leftovers),
        cmocka_unit_test_teardown(test_usage, kill_leftovers),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
