/*
 * Parsing /proc: processes, threads, mappings, kernel modules, auxv.
 *
 * Every file is opened relative to the instance's /proc directory fd, so
 * no path is resolved from the root per process. /proc is the kernel's, but
 * a process names itself (comm, argv, mapped paths with spaces, parentheses
 * and newlines), so every line is parsed with bounds checks and no field
 * is trusted to be well-formed.
 */
#include "native.h"

#include <dirent.h>
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
/* The longest line of maps or modules: a path is at most PATH_MAX. */
#define LINE_MAX_BYTES (PATH_MAX + 256)

/* ---- small parsers ------------------------------------------------------- */

/* "PID/leaf" into buf, which holds 11 + strlen(leaf) + 1 bytes. */
static void pid_path(char *buf, uint32_t pid, const char *leaf)
{
    char digits[10];
    size_t n = 0;
    do
        digits[n++] = (char)('0' + pid % 10);
    while ((pid /= 10) != 0);
    while (n)
        *buf++ = digits[--n];
    if (leaf) {
        *buf++ = '/';
        while (*leaf)
            *buf++ = *leaf++;
    }
    *buf = '\0';
}

/* An unsigned decimal of [*p, end) up to a non-digit; -1 when there is no
 * digit or it overflows. */
static int parse_dec(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_hex(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int d;
    if (s >= end || hexval(*s) < 0)
        return -1;
    for (; s < end && (d = hexval(*s)) >= 0; s++) {
        if (v >> 60)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *p = s;
    *out = v;
    return 0;
}

static int expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -1;
    (*p)++;
    return 0;
}

/* A pid-like directory name: digits only, no leading zero, fits 32 bits. */
static int parse_pid_name(const char *s, uint32_t *pid)
{
    uint64_t v;
    const char *end = s + strlen(s);
    if (*s == '0' || parse_dec(&s, end, &v) || s != end || v > UINT32_MAX)
        return -1;
    *pid = (uint32_t)v;
    return 0;
}

/* A stat line: "pid (comm) S ppid ... starttime(22) ...". comm may hold
 * anything but NUL, ')' and spaces included, so it ends at the LAST ')'. */
static int parse_stat(const char *buf, size_t len, struct native_stat *st)
{
    const char *end = buf + len, *p = buf, *open, *close;
    uint64_t v;
    size_t name_len;

    if (parse_dec(&p, end, &v) || v > UINT32_MAX)
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
    if (expect(&p, end, ' ') || p >= end)
        return -1;
    st->state = *p++;
    /* Fields 4 (ppid) to 22 (starttime); some are negative, so the ones
     * between are skipped as tokens. */
    for (int field = 4; field <= 22; field++) {
        if (expect(&p, end, ' '))
            return -1;
        if (field == 4 || field == 22) {
            if (parse_dec(&p, end, &v))
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

/* ---- reading files ------------------------------------------------------- */

/* One read of a file that the kernel generates whole (stat, status): it
 * hands all of it to one read() with room, so no second read for the end
 * of file is needed. Returns the bytes read, or -errno. */
static ssize_t read_once(int dirfd, const char *path, char *buf, size_t cap)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ssize_t r;
    int err;
    if (fd < 0)
        return -errno;
    do
        r = read(fd, buf, cap);
    while (r < 0 && errno == EINTR);
    err = errno;
    close(fd);
    return r < 0 ? -err : r;
}

struct lines {
    int fd;
    char *buf;
    size_t cap, start, end;
    int eof;
};

static int lines_open(struct lines *l, int dirfd, const char *path)
{
    memset(l, 0, sizeof *l);
    if ((l->fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
        return -errno;
    l->cap = 64 * 1024;
    if (!(l->buf = malloc(l->cap))) {
        close(l->fd);
        return -ENOMEM;
    }
    return 0;
}

static void lines_close(struct lines *l)
{
    close(l->fd);
    free(l->buf);
}

/* The next line, NUL-terminated without its '\n', in *line: 1, 0 at the
 * end, -EOVERFLOW for a line longer than any the kernel writes, or -errno
 * from read(). */
static int next_line(struct lines *l, char **line)
{
    for (;;) {
        char *s = l->buf + l->start;
        char *nl = memchr(s, '\n', l->end - l->start);
        ssize_t r;
        if (nl || (l->eof && l->start < l->end)) {
            if (!nl)
                nl = l->buf + l->end; /* the last line has no '\n' */
            *nl = '\0';
            *line = s;
            l->start = (size_t)(nl - l->buf) + 1;
            if (l->start > l->end)
                l->start = l->end;
            return 1;
        }
        if (l->eof)
            return 0;
        if (l->start) {
            memmove(l->buf, s, l->end - l->start);
            l->end -= l->start;
            l->start = 0;
        }
        if (l->end >= LINE_MAX_BYTES || l->end + 1 >= l->cap)
            return -EOVERFLOW;
        /* One byte stays free for the NUL of a last line without '\n'. */
        r = read(l->fd, l->buf + l->end, l->cap - 1 - l->end);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            l->eof = 1;
        l->end += (size_t)r;
    }
}

/* ---- listing directories of pids ----------------------------------------- */

struct pids {
    uint32_t *v;
    size_t len, cap;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The numeric entries of the directory dirfd/path, ascending; -errno. */
static int list_pids(int dirfd, const char *path, struct pids *out)
{
    int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int sorted = 1;
    struct dirent *de;
    DIR *d;

    memset(out, 0, sizeof *out);
    if (fd < 0)
        return -errno;
    if (!(d = fdopendir(fd))) {
        int err = errno;
        close(fd);
        return -err;
    }
    while ((errno = 0, de = readdir(d))) {
        uint32_t pid;
        if (parse_pid_name(de->d_name, &pid))
            continue;
        if (out->len == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 1024;
            uint32_t *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                closedir(d);
                free(out->v);
                return -ENOMEM;
            }
            out->v = v;
            out->cap = cap;
        }
        if (out->len && out->v[out->len - 1] > pid)
            sorted = 0;
        out->v[out->len++] = pid;
    }
    if (errno) {
        int err = errno;
        closedir(d);
        free(out->v);
        return -err;
    }
    closedir(d);
    /* /proc lists pids in ascending order today; sort only if not. */
    if (!sorted)
        qsort(out->v, out->len, sizeof *out->v, cmp_u32);
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
    pid_path(L->path, pid, "stat");
    if ((r = read_once(dirfd, L->path, L->stat, sizeof L->stat)) < 0)
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
            if (parse_dec(&p, eol, &v) || v > UINT32_MAX)
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
    pid_path(L->path, pid, "status");
    *uid = TENON_OSI_UNKNOWN;
    L->tgid = TENON_OSI_UNKNOWN;
    if ((r = read_once(L->n->procfd, L->path, L->status, sizeof L->status)) < 0)
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
    pid_path(L->path, pid, "cmdline");
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

static int gone(int err) { return err == -ENOENT || err == -ESRCH; }

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
        if (gone(rc))
            return rc;
    }
    if (want & TENON_OSI_PROC_EXE) {
        /* Refused (another user's process) or none (a kernel thread, a
         * zombie): the path stays "". */
        pid_path(L->path, pid, "exe");
        ssize_t r = readlinkat(L->n->procfd, L->path, L->exe, sizeof L->exe);
        if (r > 0 && (size_t)r < sizeof L->exe) {
            L->exe[r] = '\0';
            p->exe = L->exe;
        }
    }
    if (want & TENON_OSI_PROC_CMDLINE) {
        rc = read_cmdline(L, pid, &p->argc);
        if (gone(rc) || rc == -ENOMEM)
            return rc;
        if (p->argc)
            p->argv = L->argv;
    }
    return 0;
}

static int proc_fail(struct native *n, uint32_t pid, int err, const char *what)
{
    if (gone(err))
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
                            (unsigned)pid, (unsigned)pid, what, LINE_MAX_BYTES);
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
    struct pids pids;
    int rc;

    if ((rc = list_pids(n->procfd, ".", &pids)))
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
        if (gone(r) || refused(r))
            continue; /* exited since the directory was read, or hidden */
        if (r) {
            rc = proc_fail(n, pids.v[i], r, "stat");
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
    struct pids pids;
    int rc;

    if ((rc = list_pids(n->procfd, ".", &pids)))
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
        rc = proc_fail(n, pid, rc, "stat");
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

int native__threads(struct native *n, uint32_t pid, tenon_osi_thread_fn fn,
                    void *ud)
{
    struct lister *L;
    struct pids tids = {0};
    uint32_t uid;
    int taskfd = -1, rc;

    if (!(L = lister_new(n)))
        return native__fail(n, TENON_ENOMEM, "process %u: out of memory",
                            (unsigned)pid);
    pid_path(L->path, pid, "task");
    if (pid == 0 || (taskfd = openat(n->procfd, L->path,
                                     O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = proc_fail(n, pid, pid ? -errno : -ENOENT, "task");
        goto out;
    }
    if ((rc = read_status(L, pid, &uid))) {
        rc = proc_fail(n, pid, rc, "status");
        goto out;
    }
    if ((rc = not_a_process(n, L, pid)))
        goto out;
    if ((rc = list_pids(taskfd, ".", &tids))) {
        rc = proc_fail(n, pid, rc, "task");
        goto out;
    }
    for (size_t i = 0; i < tids.len; i++) {
        struct tenon_osi_thread t;
        struct native_stat st;
        int r = read_stat(L, taskfd, tids.v[i], &st);
        if (gone(r))
            continue; /* the thread exited since */
        if (r) {
            rc = proc_fail(n, pid, r, "task/TID/stat");
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

/* ---- mappings ------------------------------------------------------------ */

/* "start-end perms offset major:minor inode   path". The path runs to the
 * end of the line, spaces and a " (deleted)" suffix included; the kernel
 * escapes only '\n' in it. */
static int parse_map_line(char *line, struct tenon_osi_mapping *m)
{
    const char *p = line, *end = line + strlen(line);
    uint64_t maj, min;

    memset(m, 0, sizeof *m);
    m->struct_size = sizeof *m;
    if (parse_hex(&p, end, &m->start) || expect(&p, end, '-') ||
        parse_hex(&p, end, &m->end) || expect(&p, end, ' ') || end - p < 5 ||
        m->end < m->start)
        return -1;
    if (p[0] == 'r')
        m->prot |= TENON_PROT_READ;
    if (p[1] == 'w')
        m->prot |= TENON_PROT_WRITE;
    if (p[2] == 'x')
        m->prot |= TENON_PROT_EXEC;
    if (p[3] == 's')
        m->flags |= TENON_OSI_MAP_SHARED;
    p += 4;
    if (expect(&p, end, ' ') || parse_hex(&p, end, &m->offset) ||
        expect(&p, end, ' ') || parse_hex(&p, end, &maj) ||
        expect(&p, end, ':') || parse_hex(&p, end, &min) ||
        expect(&p, end, ' ') || parse_dec(&p, end, &m->inode) ||
        maj > UINT32_MAX || min > UINT32_MAX)
        return -1;
    m->dev_major = (uint32_t)maj;
    m->dev_minor = (uint32_t)min;
    if (p < end && *p != ' ')
        return -1;
    while (p < end && *p == ' ')
        p++;
    m->path = p;
    return 0;
}

static int maps_fail(struct native *n, uint32_t pid, int err)
{
    if (err == -EACCES || err == -EPERM)
        return native__fail(n, TENON_EPERM,
                            "reading the mappings of process %u: permission "
                            "denied (/proc/%u/maps: %s)",
                            (unsigned)pid, (unsigned)pid,
                            native__errname(-err));
    if (gone(err))
        return native__fail(n, TENON_ENOENT, "process %u exited",
                            (unsigned)pid);
    return proc_fail(n, pid, err, "maps");
}

int native__mappings_at(struct native *n, uint32_t pid, int piddir,
                        tenon_osi_mapping_fn fn, void *ud)
{
    struct lines l;
    uint64_t last_end = 0;
    char *line;
    int rc;

    if ((rc = lines_open(&l, piddir, "maps")))
        return maps_fail(n, pid, rc);
    for (;;) {
        struct tenon_osi_mapping m;
        int r = next_line(&l, &line);
        if (r <= 0) {
            rc = r ? maps_fail(n, pid, r) : 0;
            break;
        }
        if (parse_map_line(line, &m)) {
            rc = native__fail(n, TENON_EIO,
                              "process %u: a line of /proc/%u/maps is not "
                              "in the format expected",
                              (unsigned)pid, (unsigned)pid);
            break;
        }
        /* Read in pieces, maps may repeat a mapping that changed between
         * two reads; the contract is address order. */
        if (m.start < last_end)
            continue;
        last_end = m.end;
        if ((rc = fn(ud, &m)))
            break;
    }
    lines_close(&l);
    return rc;
}

int native__mappings(struct native *n, uint32_t pid, tenon_osi_mapping_fn fn,
                     void *ud)
{
    char path[16];
    int dir, rc;

    if (pid == 0)
        return native__fail(n, TENON_ENOENT, "process 0 does not exist");
    pid_path(path, pid, NULL);
    if ((dir = openat(n->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return proc_fail(n, pid, -errno, "maps");
    rc = native__mappings_at(n, pid, dir, fn, ud);
    close(dir);
    return rc;
}

/* ---- kernel modules ------------------------------------------------------ */

/* The next space-separated token of [*p, end), NUL-terminated in place. */
static char *token(char **p, char *end)
{
    char *s = *p, *e;
    while (s < end && *s == ' ')
        s++;
    if (s >= end)
        return NULL;
    for (e = s; e < end && *e != ' '; e++)
        ;
    *e = '\0';
    *p = e < end ? e + 1 : end;
    return s;
}

/* "name size refcount deps state base [taints]"; base is shown as zero to
 * whoever kptr_restrict hides it from. */
static int parse_module_line(char *line, struct tenon_osi_module *m)
{
    char *p = line, *end = line + strlen(line), *name, *size, *base;
    const char *q;
    uint64_t v;

    memset(m, 0, sizeof *m);
    m->struct_size = sizeof *m;
    if (!(name = token(&p, end)) || !(size = token(&p, end)))
        return -1;
    q = size;
    if (parse_dec(&q, size + strlen(size), &v) || *q)
        return -1;
    m->name = name;
    m->size = v;
    for (int i = 0; i < 3; i++) /* refcount, deps, state */
        if (!token(&p, end))
            return 0;
    if ((base = token(&p, end)) && base[0] == '0' &&
        (base[1] == 'x' || base[1] == 'X')) {
        q = base + 2;
        if (!parse_hex(&q, base + strlen(base), &v) && !*q && v) {
            m->base = v;
            m->has_base = 1;
        }
    }
    return 0;
}

int native__modules(struct native *n, tenon_osi_module_fn fn, void *ud)
{
    struct lines l;
    char *line;
    int rc;

    if ((rc = lines_open(&l, n->procfd, "modules"))) {
        if (rc == -ENOENT)
            return 0; /* a kernel without module support */
        return native__fail(n, native__code(-rc),
                            "listing the kernel modules: opening "
                            "/proc/modules failed (%s)",
                            native__errname(-rc));
    }
    for (;;) {
        struct tenon_osi_module m;
        int r = next_line(&l, &line);
        if (r <= 0) {
            rc = r ? native__fail(n, native__code(-r),
                                  "listing the kernel modules: reading "
                                  "/proc/modules failed (%s)",
                                  native__errname(-r))
                   : 0;
            break;
        }
        if (!*line)
            continue;
        if (parse_module_line(line, &m)) {
            rc = native__fail(n, TENON_EIO,
                              "listing the kernel modules: a line of "
                              "/proc/modules is not in the format expected");
            break;
        }
        if ((rc = fn(ud, &m)))
            break;
    }
    lines_close(&l);
    return rc;
}

/* ---- auxv ---------------------------------------------------------------- */

int native__auxv(struct native *n, uint32_t pid, void *buf, size_t len,
                 size_t *size)
{
    char path[24], scratch[512];
    size_t got = 0;
    int fd;

    *size = 0;
    if (pid == 0)
        return native__fail(n, TENON_ENOENT, "process 0 does not exist");
    pid_path(path, pid, "auxv");
    if ((fd = openat(n->procfd, path, O_RDONLY | O_CLOEXEC)) < 0) {
        int err = errno;
        if (err == EACCES || err == EPERM)
            return native__fail(n, TENON_EPERM,
                                "reading the auxiliary vector of process %u: "
                                "permission denied (/proc/%u/auxv: %s)",
                                (unsigned)pid, (unsigned)pid,
                                native__errname(err));
        return proc_fail(n, pid, -err, "auxv");
    }
    /* Into the caller's buffer while it has room, then counted only. */
    for (;;) {
        ssize_t r = got < len ? read(fd, (char *)buf + got, len - got)
                              : read(fd, scratch, sizeof scratch);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            return proc_fail(n, pid, -err, "auxv");
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *size = got;
    return 0;
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

int native__proc_init(struct native *n)
{
    struct lines l;
    char *line;
    int rc;

    n->clk_tck = sysconf(_SC_CLK_TCK);
    n->btime = 0;
    /* The boot time is read once: a listing then gives a process the same
     * start time every time, which the polling thread uses as identity. */
    if ((rc = lines_open(&l, n->procfd, "stat")))
        return 0; /* start times stay unknown */
    while (next_line(&l, &line) == 1)
        if (strncmp(line, "btime ", 6) == 0) {
            const char *p = line + 6;
            uint64_t v;
            if (!parse_dec(&p, p + strlen(p), &v))
                n->btime = v;
            break;
        }
    lines_close(&l);
    return 0;
}
