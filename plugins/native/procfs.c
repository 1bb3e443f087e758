/*
 * Reading /proc's files: small bounds-checked parsers, whole-file and
 * line-by-line reads relative to a directory fd, and directories of pids.
 * /proc is the kernel's, but a process names itself (comm, argv, mapped
 * paths with spaces, parentheses and newlines), so no field is trusted to
 * be well-formed.
 */
#include "native.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- small parsers ------------------------------------------------------- */

void native__pid_path(char *buf, uint32_t pid, const char *leaf)
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

int native__parse_dec(const char **p, const char *end, uint64_t *out)
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

int native__parse_hex(const char **p, const char *end, uint64_t *out)
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

int native__expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -1;
    (*p)++;
    return 0;
}

int native__parse_pid_name(const char *s, uint32_t *pid)
{
    uint64_t v;
    const char *end = s + strlen(s);
    if (*s == '0' || native__parse_dec(&s, end, &v) || s != end ||
        v > UINT32_MAX)
        return -1;
    *pid = (uint32_t)v;
    return 0;
}

/* ---- reading files ------------------------------------------------------- */

ssize_t native__read_once(int dirfd, const char *path, char *buf, size_t cap)
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

int native__lines_open(struct native_lines *l, int dirfd, const char *path)
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

void native__lines_close(struct native_lines *l)
{
    close(l->fd);
    free(l->buf);
}

int native__next_line(struct native_lines *l, char **line)
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
        if (l->end >= NATIVE_LINE_MAX || l->end + 1 >= l->cap)
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

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int native__list_pids(int dirfd, const char *path, struct native_pids *out)
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
        if (native__parse_pid_name(de->d_name, &pid))
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
