/* Helpers shared by the test programs; see testutil.h. */
#include "testutil.h"
#include "testapi.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Generous: under sanitizers on a loaded machine the CLI is slow, and a hung
 * one should fail this test rather than wait for CTest's timeout. */
#define RUN_TIMEOUT_MS 60000

/* ---- running a child process --------------------------------------------- */

struct sink {
    int fd;
    char *buf;
    size_t len, cap;
};

/* Read what is available; returns 0 at end of file. */
static int drain(struct sink *s)
{
    char chunk[4096];
    ssize_t n = read(s->fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
        return 1;
    assert_true(n >= 0);
    if (n == 0)
        return 0;
    if (s->len + (size_t)n + 1 > s->cap) {
        s->cap = (s->len + (size_t)n + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
        assert_non_null(s->buf);
    }
    memcpy(s->buf + s->len, chunk, (size_t)n);
    s->len += (size_t)n;
    s->buf[s->len] = '\0';
    return 1;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int run_child(struct run *r, int timeout_ms, int (*child)(void *), void *arg)
{
    int out[2], err[2], wstatus;
    struct sink sinks[2];
    long deadline = now_ms() + timeout_ms;
    int open_fds = 2, timed_out = 0;
    pid_t pid;

    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 ||
            dup2(err[1], 2) < 0)
            _exit(126);
        _exit(child(arg));
    }
    close(out[1]);
    close(err[1]);
    memset(sinks, 0, sizeof sinks);
    sinks[0].fd = out[0];
    sinks[1].fd = err[0];
    for (int i = 0; i < 2; i++) {
        sinks[i].buf = calloc(1, 1);
        sinks[i].cap = 1;
        assert_non_null(sinks[i].buf);
    }
    /* Both pipes at once: a child filling one while we block on the other
     * would never finish. */
    while (open_fds) {
        struct pollfd pfd[2];
        nfds_t n = 0;
        int idx[2];
        long left = deadline - now_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            timed_out = 1;
            break;
        }
        for (int i = 0; i < 2; i++)
            if (sinks[i].fd >= 0) {
                pfd[n].fd = sinks[i].fd;
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                idx[n++] = i;
            }
        int rc = poll(pfd, n, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        assert_true(rc >= 0);
        for (nfds_t j = 0; j < n; j++) {
            struct sink *s = &sinks[idx[j]];
            if (pfd[j].revents && !drain(s)) {
                close(s->fd);
                s->fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (sinks[i].fd >= 0)
            close(sinks[i].fd);
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    r->status =
        WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    r->out = sinks[0].buf;
    r->err = sinks[1].buf;
    return timed_out ? -1 : 0;
}

struct input_run {
    const char *input, *plugin_path;
    char *const *argv;
};

static int exec_input(void *arg)
{
    const struct input_run *o = arg;
    int p[2];
    if (pipe(p) != 0)
        return 126;
    if (write(p[1], o->input, strlen(o->input)) < 0)
        return 126;
    close(p[1]);
    dup2(p[0], 0);
    setenv("TENON_PLUGIN_PATH", o->plugin_path, 1);
    execv(o->argv[0], o->argv);
    return 127;
}

void run_input(struct run *r, const char *input, const char *plugin_path,
               char *const argv[])
{
    struct input_run o = {input, plugin_path, argv};
    assert_int_equal(run_child(r, 60000, exec_input, &o), 0);
}

struct cli_call {
    const char *const *argv, *const *env;
};

/* In the child: "NAME=value" sets a variable, "NAME" removes it. */
static void apply_env(const char *const *env)
{
    for (; env && *env; env++) {
        const char *eq = strchr(*env, '=');
        if (!eq) {
            unsetenv(*env);
            continue;
        }
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - *env), *env);
        setenv(name, eq + 1, 1);
    }
}

static int exec_cli(void *arg)
{
    const struct cli_call *c = arg;
    apply_env(c->env);
    execv(TENON_CLI, (char *const *)c->argv);
    return 127;
}

void run_env(struct run *r, const char *const *env, ...)
{
    const char *argv[64];
    size_t argc = 0;
    struct cli_call call = {argv, env};
    va_list ap;

    argv[argc++] = TENON_CLI;
    va_start(ap, env);
    for (const char *a; (a = va_arg(ap, const char *));) {
        assert_true(argc < 63);
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;

    if (run_child(r, RUN_TIMEOUT_MS, exec_cli, &call) != 0) {
        run_free(r);
        fail_msg("%s %s timed out", TENON_CLI, argc > 1 ? argv[1] : "");
    }
}

void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

void assert_status(const struct run *r, int want)
{
    if (r->status != want)
        fail_msg("exit status %d, expected %d\nstdout:\n%s\nstderr:\n%s",
                 r->status, want, r->out, r->err);
}

/* ---- assertions ---------------------------------------------------------- */

void assert_contains(const char *hay, const char *needle)
{
    assert_non_null(hay);
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, hay);
}

void assert_nstr(const char *got, const char *want)
{
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

json_t *parse_json(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fail_msg("not JSON (%s, line %d):\n%s", e.text, e.line, text);
    return v;
}

int mapped(const char *path)
{
    char real[PATH_MAX], line[PATH_MAX + 256], copy[PATH_MAX + 16];
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    FILE *f = fopen("/proc/self/maps", "r");
    int found = 0;
    assert_non_null(realpath(path, real));
    assert_non_null(f);
    /* Tenon maps a sealed copy named after the file (memfd_create). */
    snprintf(copy, sizeof copy, "/memfd:%s ", base);
    while (fgets(line, sizeof line, f))
        if (strstr(line, real) || strstr(line, copy))
            found = 1;
    fclose(f);
    return found;
}

/* ---- contexts ------------------------------------------------------------ */

tenon_t *open_dirs(const char *const *dirs, size_t n)
{
    struct tenon_options o;
    tenon_t *t = NULL;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_paths = dirs;
    o.plugin_path_count = n;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_non_null(t);
    return t;
}

tenon_t *open_scanned(const char *const *dirs, size_t n)
{
    tenon_t *t = open_dirs(dirs, n);
    assert_int_equal(tenon_scan(t), 0);
    return t;
}

tenon_t *open_trusted(const char *const *dirs, size_t n, const char *keys,
                      int trust, tenon_log_fn log_fn)
{
    const char *tdirs[] = {keys};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = n,
                              .trust = trust,
                              .trust_dirs = tdirs,
                              .trust_dir_count = 1,
                              .log_level =
                                  log_fn ? TENON_LOG_WARN : TENON_LOG_ERROR,
                              .log_fn = log_fn,
                              .no_cache = 1};
    tenon_t *t = NULL;
    assert_int_equal(tenon_open(&t, &o), 0);
    return t;
}

char *sign_with(const char *keys, const char *file)
{
    char *key = path_join(keys, "dev.key"), *out;
    struct run r;
    if (access(key, F_OK) != 0) {
        RUN(&r, "keygen", "--out", keys, "--name", "dev");
        assert_status(&r, 0);
        run_free(&r);
    }
    RUN(&r, "sign", file, "--key", key);
    assert_status(&r, 0);
    out = strdup(r.out);
    assert_non_null(out);
    run_free(&r);
    free(key);
    return out;
}

/* ---- files --------------------------------------------------------------- */

char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = path_join(base && *base ? base : "/tmp", "tenon-test-XXXXXX");
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

static int remove_one(const char *path, const struct stat *st, int type,
                      struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

void remove_tree(char *dir)
{
    if (!dir)
        return;
    /* FTW_PHYS: a symlink loop must be removed, not followed. */
    assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

int tmp_setup(void **state)
{
    *state = make_tmpdir();
    return 0;
}

int tmp_teardown(void **state)
{
    remove_tree(*state);
    return 0;
}

void copy_path(const char *from, const char *to)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

const char *version_of(tenon_instance_t *inst)
{
    void *obj;
    const struct test_basic *vt =
        tenon_get_interface(inst, TEST_BASIC_ID, &obj);
    assert_non_null(vt);
    return vt->version(obj);
}

/* Raw capget/capset: two capabilities do not justify libcap. Capabilities
 * are per thread, and only the effective set changes. CAP_DAC_READ_SEARCH
 * goes too: it alone lets root read and list what the mode bits forbid. */
static int dac_override(int on)
{
    const unsigned dac = 1u << CAP_DAC_OVERRIDE | 1u << CAP_DAC_READ_SEARCH;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &h, d) != 0)
        return -1;
    if (!(d[0].permitted & (1u << CAP_DAC_OVERRIDE)))
        return on ? -1 : 0; /* not root-like: permissions bind already */
    if (on)
        d[0].effective |= d[0].permitted & dac;
    else
        d[0].effective &= ~dac;
    return syscall(SYS_capset, &h, d) == 0 ? 0 : -1;
}

int permissions_enforce(void) { return dac_override(0); }

void permissions_restore(void) { (void)dac_override(1); }
