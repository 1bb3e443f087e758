/*
 * Processes and threads from /proc: the listing (as fast as ps: one
 * openat/read/close per process for what every listing shows, the rest
 * only when asked), one process in one allocation, a process's threads.
 */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A stat line is under 1 KiB; status under 2 KiB up to its Uid: line. */
#define STAT_BUF   4096
#define STATUS_BUF 4096
/* Command lines longer than this are cut (the kernel allows a quarter of
 * the stack limit, which may be unlimited). */
#define CMDLINE_MAX (4u << 20)

/* A stat line: "pid (comm) S ppid ... starttime(22) ...". comm may hold
 * anything but NUL, ')' and spaces included, so it ends at the LAST ')'. */
static int parse_stat(const char *buf, size_t len, struct native_stat *st)
{
    const char *end = buf + len, *p = buf, *open, *close;
    uint64_t v;
    size_t name_len;

    if (native__parse_dec(&p, end, &v) || v > UINT32_MAX)
        return -1;
    st->pid = (uint32_t)v;
    open = memchr(buf, '(', len);
    close = memrchr(buf, ')', len);
    if (!open || open != p + 1 || !close || close < open)
        return -1;
    name_len = (size_t)(close - open - 1);
    if (name_len > NATIVE_NAME_MAX)
        name_len = NATIVE_NAME_MAX;
    memcpy(st->name, open + 1, name_len);
    st->name[name_len] = '\0';
    p = close + 1;
    if (native__expect(&p, end, ' ') || p >= end)
        return -1;
    st->state = *p++;
    /* Fields 4 (ppid) to 22 (starttime); some are negative, so the ones
     * between are skipped as tokens. */
    for (int field = 4; field <= 22; field++) {
        if (native__expect(&p, end, ' '))
            return -1;
        if (field == 4 || field == 22) {
            if (native__parse_dec(&p, end, &v))
                return -1;
            if (field == 4) {
                if (v > UINT32_MAX)
                    return -1;
                st->ppid = (uint32_t)v;
            } else {
                st->start_ticks = v;
            }
        } else {
            const char *sp = memchr(p, ' ', (size_t)(end - p));
            if (!sp)
                return -1;
            p = sp;
        }
    }
    return 0;
}

/* ---- one process --------------------------------------------------------- */

/* The buffers of one listing, reused for every process in it. */
struct lister {
    struct native *n;
    char path[32];
    char stat[STAT_BUF];
    char status[STATUS_BUF];
    char exe[PATH_MAX];
    char *cmd;
    size_t cmdcap;
    const char **argv;
    size_t argvcap;
    uint32_t tgid; /* from status, TENON_OSI_UNKNOWN when not read */
};

static struct lister *lister_new(struct native *n)
{
    struct lister *L = malloc(sizeof *L);
    if (L) {
        L->n = n;
        L->cmd = NULL;
        L->argv = NULL;
        L->cmdcap = L->argvcap = 0;
    }
    return L;
}

static void lister_free(struct lister *L)
{
    if (L) {
        free(L->cmd);
        free(L->argv);
        free(L);
    }
}

static int read_stat(struct lister *L, int dirfd, uint32_t pid,
                     struct native_stat *st)
{
    ssize_t r;
    native__pid_path(L->path, pid, "stat");
    if ((r = native__read_once(dirfd, L->path, L->stat, sizeof L->stat)) < 0)
        return (int)r;
    if (parse_stat(L->stat, (size_t)r, st))
        return -EBADMSG;
    return 0;
}

/* The number after "\nKEY:\t" in a status file, or -1. */
static int status_field(const char *buf, size_t len, const char *key,
                        uint32_t *out)
{
    size_t klen = strlen(key);
    const char *p = buf, *end = buf + len;
    uint64_t v;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if ((size_t)(eol - p) > klen + 1 && memcmp(p, key, klen) == 0 &&
            p[klen] == ':') {
            p += klen + 1;
            while (p < eol && (*p == '\t' || *p == ' '))
                p++;
            if (native__parse_dec(&p, eol, &v) || v > UINT32_MAX)
                return -1;
            *out = (uint32_t)v;
            return 0;
        }
        p = eol + 1;
    }
    return -1;
}

/* The real uid and the thread group id from PID/status. */
static int read_status(struct lister *L, uint32_t pid, uint32_t *uid)
{
    ssize_t r;
    native__pid_path(L->path, pid, "status");
    *uid = TENON_OSI_UNKNOWN;
    L->tgid = TENON_OSI_UNKNOWN;
    if ((r = native__read_once(L->n->procfd, L->path, L->status,
                               sizeof L->status)) < 0)
        return (int)r;
    if (status_field(L->status, (size_t)r, "Uid", uid))
        *uid = TENON_OSI_UNKNOWN;
    if (status_field(L->status, (size_t)r, "Tgid", &L->tgid))
        L->tgid = TENON_OSI_UNKNOWN;
    return 0;
}

/* PID/cmdline split at its NULs into L->argv; 0 or -errno. */
static int read_cmdline(struct lister *L, uint32_t pid, size_t *argc)
{
    size_t got = 0, n = 0;
    int fd;

    *argc = 0;
    native__pid_path(L->path, pid, "cmdline");
    if ((fd = openat(L->n->procfd, L->path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    for (;;) {
        ssize_t r;
        if (got + 1 >= L->cmdcap) {
            size_t cap = L->cmdcap ? L->cmdcap * 2 : 4096;
            char *c;
            if (L->cmdcap >= CMDLINE_MAX)
                break; /* cut: keep what fits */
            if (!(c = realloc(L->cmd, cap))) {
                close(fd);
                return -ENOMEM;
            }
            L->cmd = c;
            L->cmdcap = cap;
        }
        r = read(fd, L->cmd + got, L->cmdcap - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!got)
        return 0; /* a kernel thread or a zombie */
    /* A process that rewrote its arguments may have dropped the last NUL. */
    if (L->cmd[got - 1] != '\0')
        L->cmd[got++] = '\0';
    for (size_t i = 0; i < got; i++)
        n += L->cmd[i] == '\0';
    if (n + 1 > L->argvcap) {
        const char **v = realloc(L->argv, (n + 1) * sizeof *v);
        if (!v)
            return -ENOMEM;
        L->argv = v;
        L->argvcap = n + 1;
    }
    for (size_t i = 0, start = 0, k = 0; i < got; i++)
        if (L->cmd[i] == '\0') {
            L->argv[k++] = L->cmd + start;
            start = i + 1;
        }
    L->argv[n] = NULL;
    *argc = n;
    return 0;
}

/* hidepid=1 shows other users' /proc/PID but refuses its files. */
static int refused(int err) { return err == -EACCES || err == -EPERM; }

/* Fill *p (pointing into L) for `pid` per `want`: 0, -ENOENT or -ESRCH when
 * the process is gone, else -errno. Only the stat line is needed; the rest
 * is left unknown when refused. */
static int fill(struct lister *L, uint32_t pid, unsigned want,
                struct native_stat *st, struct tenon_osi_process *p)
{
    int rc;

    if ((rc = read_stat(L, L->n->procfd, pid, st)))
        return rc;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->pid = pid;
    p->ppid = st->ppid;
    p->uid = TENON_OSI_UNKNOWN;
    p->state = st->state ? st->state : '?';
    p->start_time_ns = native__start_ns(L->n, st->start_ticks);
    p->name = st->name;
    p->exe = "";
    L->tgid = TENON_OSI_UNKNOWN;
    if (want & TENON_OSI_PROC_UID) {
        rc = read_status(L, pid, &p->uid);
        if (native__gone(rc))
            return rc;
    }
    if (want & TENON_OSI_PROC_EXE) {
        /* Refused (another user's process) or none (a kernel thread, a
         * zombie): the path stays "". */
        native__pid_path(L->path, pid, "exe");
        ssize_t r = readlinkat(L->n->procfd, L->path, L->exe, sizeof L->exe);
        if (r > 0 && (size_t)r < sizeof L->exe) {
            L->exe[r] = '\0';
            p->exe = L->exe;
        }
    }
    if (want & TENON_OSI_PROC_CMDLINE) {
        rc = read_cmdline(L, pid, &p->argc);
        if (native__gone(rc) || rc == -ENOMEM)
            return rc;
        if (p->argc)
            p->argv = L->argv;
    }
    return 0;
}

int native__proc_fail(struct native *n, uint32_t pid, int err, const char *what)
{
    if (native__gone(err))
        return native__fail(n, TENON_ENOENT, "process %u does not exist",
                            (unsigned)pid);
    if (err == -EBADMSG)
        return native__fail(n, TENON_EIO,
                            "process %u: /proc/%u/%s is not in the format "
                            "expected",
                            (unsigned)pid, (unsigned)pid, what);
    if (err == -EOVERFLOW)
        return native__fail(n, TENON_EIO,
                            "process %u: /proc/%u/%s has a line longer than "
                            "%d bytes",
                            (unsigned)pid, (unsigned)pid, what,
                            NATIVE_LINE_MAX);
    if (err == -ENOMEM)
        return native__fail(n, TENON_ENOMEM, "process %u: out of memory",
                            (unsigned)pid);
    return native__fail(
        n, native__code(-err), "process %u: reading /proc/%u/%s failed (%s)",
        (unsigned)pid, (unsigned)pid, what, native__errname(-err));
}

/* ---- processes ----------------------------------------------------------- */

int native__processes(struct native *n, unsigned want, tenon_osi_process_fn fn,
                      void *ud)
{
    struct lister *L;
    struct native_pids pids;
    int rc;

    if ((rc = native__list_pids(n->procfd, ".", &pids)))
        return native__fail(n, native__code(-rc),
                            "listing the processes: reading /proc failed (%s)",
                            native__errname(-rc));
    if (!(L = lister_new(n))) {
        free(pids.v);
        return native__fail(n, TENON_ENOMEM,
                            "listing the processes: out of "
                            "memory");
    }
    for (size_t i = 0; i < pids.len; i++) {
        struct tenon_osi_process p;
        struct native_stat st;
        int r = fill(L, pids.v[i], want, &st, &p);
        if (native__gone(r) || refused(r))
            continue; /* exited since the directory was read, or hidden */
        if (r) {
            rc = native__proc_fail(n, pids.v[i], r, "stat");
            break;
        }
        if ((rc = fn(ud, &p)))
            break;
    }
    lister_free(L);
    free(pids.v);
    return rc;
}

/* Quiet: the polling thread must not touch the message the consumer's
 * calls leave. A process whose line cannot be read is left out. */
int native__stats(struct native *n, native_stat_fn fn, void *ud)
{
    struct lister *L;
    struct native_pids pids;
    int rc;

    if ((rc = native__list_pids(n->procfd, ".", &pids)))
        return rc;
    if (!(L = lister_new(n))) {
        free(pids.v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < pids.len; i++) {
        struct native_stat st;
        if (read_stat(L, n->procfd, pids.v[i], &st) == 0 && (rc = fn(ud, &st)))
            break;
    }
    lister_free(L);
    free(pids.v);
    return rc;
}

/* Is `pid` a process, not a thread of another (whose /proc/TID is there
 * too, though not listed)? Needs L->tgid read by read_status(). */
static int not_a_process(struct native *n, struct lister *L, uint32_t pid)
{
    if (L->tgid == TENON_OSI_UNKNOWN || L->tgid == pid)
        return 0;
    return native__fail(n, TENON_ENOENT,
                        "process %u does not exist (%u is a thread of "
                        "process %u)",
                        (unsigned)pid, (unsigned)pid, (unsigned)L->tgid);
}

int native__process(struct native *n, uint32_t pid,
                    struct tenon_osi_process **out)
{
    struct tenon_osi_process p, *q;
    struct native_stat st;
    struct lister *L;
    size_t name_len, exe_len, args_len = 0, size, off;
    char *s;
    int rc;

    *out = NULL;
    if (pid == 0)
        return native__fail(n, TENON_ENOENT, "process 0 does not exist");
    if (!(L = lister_new(n)))
        return native__fail(n, TENON_ENOMEM, "process %u: out of memory",
                            (unsigned)pid);
    if ((rc = fill(L, pid, TENON_OSI_PROC_ALL, &st, &p))) {
        rc = native__proc_fail(n, pid, rc, "stat");
        goto out;
    }
    if ((rc = not_a_process(n, L, pid)))
        goto out;
    /* One block: the struct, the argv array (NULL-terminated), then the
     * strings, so process_free() is one free(). */
    name_len = strlen(p.name) + 1;
    exe_len = strlen(p.exe) + 1;
    for (size_t i = 0; i < p.argc; i++)
        args_len += strlen(p.argv[i]) + 1;
    off = (sizeof *q + sizeof(char *) - 1) / sizeof(char *) * sizeof(char *);
    size = off + (p.argc + 1) * sizeof(char *) + name_len + exe_len + args_len;
    if (!(q = malloc(size))) {
        rc = native__fail(n, TENON_ENOMEM, "process %u: out of memory",
                          (unsigned)pid);
        goto out;
    }
    *q = p;
    const char **argv = (const char **)(void *)((char *)q + off);
    s = (char *)(argv + p.argc + 1);
    q->name = memcpy(s, p.name, name_len);
    s += name_len;
    q->exe = memcpy(s, p.exe, exe_len);
    s += exe_len;
    for (size_t i = 0; i < p.argc; i++) {
        size_t len = strlen(p.argv[i]) + 1;
        argv[i] = memcpy(s, p.argv[i], len);
        s += len;
    }
    argv[p.argc] = NULL;
    q->argv = p.argc ? argv : NULL;
    *out = q;
out:
    lister_free(L);
    return rc;
}

/* ---- threads ------------------------------------------------------------- */

int native__is_process(struct native *n, uint32_t pid)
{
    struct lister *L;
    uint32_t uid;
    int rc;
    if (!(L = lister_new(n)))
        return native__fail(n, TENON_ENOMEM, "process %u: out of memory",
                            (unsigned)pid);
    if ((rc = read_status(L, pid, &uid)))
        rc = native__proc_fail(n, pid, rc, "status");
    else
        rc = not_a_process(n, L, pid);
    lister_free(L);
    return rc;
}

int native__threads(struct native *n, uint32_t pid, tenon_osi_thread_fn fn,
                    void *ud)
{
    struct lister *L;
    struct native_pids tids = {0};
    uint32_t uid;
    int taskfd = -1, rc;

    if (!(L = lister_new(n)))
        return native__fail(n, TENON_ENOMEM, "process %u: out of memory",
                            (unsigned)pid);
    native__pid_path(L->path, pid, "task");
    if (pid == 0 || (taskfd = openat(n->procfd, L->path,
                                     O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = native__proc_fail(n, pid, pid ? -errno : -ENOENT, "task");
        goto out;
    }
    if ((rc = read_status(L, pid, &uid))) {
        rc = native__proc_fail(n, pid, rc, "status");
        goto out;
    }
    if ((rc = not_a_process(n, L, pid)))
        goto out;
    if ((rc = native__list_pids(taskfd, ".", &tids))) {
        rc = native__proc_fail(n, pid, rc, "task");
        goto out;
    }
    for (size_t i = 0; i < tids.len; i++) {
        struct tenon_osi_thread t;
        struct native_stat st;
        int r = read_stat(L, taskfd, tids.v[i], &st);
        if (native__gone(r))
            continue; /* the thread exited since */
        if (r) {
            rc = native__proc_fail(n, pid, r, "task/TID/stat");
            break;
        }
        memset(&t, 0, sizeof t);
        t.struct_size = sizeof t;
        t.tid = tids.v[i];
        t.pid = pid;
        t.state = st.state ? st.state : '?';
        t.name = st.name;
        if ((rc = fn(ud, &t)))
            break;
    }
out:
    if (taskfd >= 0)
        close(taskfd);
    free(tids.v);
    lister_free(L);
    return rc;
}

/* ---- setup --------------------------------------------------------------- */

uint64_t native__start_ns(const struct native *n, uint64_t ticks)
{
    if (!n->btime || n->clk_tck <= 0)
        return 0;
    uint64_t tck = (uint64_t)n->clk_tck;
    return n->btime * 1000000000ull + ticks / tck * 1000000000ull +
           ticks % tck * 1000000000ull / tck;
}

void native__proc_init(struct native *n)
{
    struct native_lines l;
    char *line;

    n->clk_tck = sysconf(_SC_CLK_TCK);
    n->btime = 0;
    /* Read once, so that a process shows the same start time in every
     * listing. */
    if (native__lines_open(&l, n->procfd, "stat"))
        return;
    while (native__next_line(&l, &line) == 1)
        if (strncmp(line, "btime ", 6) == 0) {
            const char *p = line + 6;
            uint64_t v;
            if (!native__parse_dec(&p, p + strlen(p), &v))
                n->btime = v;
            break;
        }
    native__lines_close(&l);
}
