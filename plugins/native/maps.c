/*
 * A process's mappings (/proc/PID/maps), the kernel's modules
 * (/proc/modules) and a process's auxiliary vector (/proc/PID/auxv).
 */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    if (native__parse_hex(&p, end, &m->start) || native__expect(&p, end, '-') ||
        native__parse_hex(&p, end, &m->end) || native__expect(&p, end, ' ') ||
        end - p < 5 || m->end < m->start)
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
    if (native__expect(&p, end, ' ') ||
        native__parse_hex(&p, end, &m->offset) ||
        native__expect(&p, end, ' ') || native__parse_hex(&p, end, &maj) ||
        native__expect(&p, end, ':') || native__parse_hex(&p, end, &min) ||
        native__expect(&p, end, ' ') || native__parse_dec(&p, end, &m->inode) ||
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
    if (native__gone(err))
        return native__fail(n, TENON_ENOENT, "process %u exited",
                            (unsigned)pid);
    return native__proc_fail(n, pid, err, "maps");
}

int native__mappings_at(struct native *n, uint32_t pid, int piddir,
                        tenon_osi_mapping_fn fn, void *ud)
{
    struct native_lines l;
    uint64_t last_end = 0;
    char *line;
    int rc;

    if ((rc = native__lines_open(&l, piddir, "maps")))
        return maps_fail(n, pid, rc);
    for (;;) {
        struct tenon_osi_mapping m;
        int r = native__next_line(&l, &line);
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
    native__lines_close(&l);
    return rc;
}

int native__mappings(struct native *n, uint32_t pid, tenon_osi_mapping_fn fn,
                     void *ud)
{
    char path[16];
    int dir, rc;

    if (pid == 0)
        return native__fail(n, TENON_ENOENT, "process 0 does not exist");
    /* a thread id: refused as threads() and process() refuse it */
    if ((rc = native__is_process(n, pid)))
        return rc;
    native__pid_path(path, pid, NULL);
    if ((dir = openat(n->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return native__proc_fail(n, pid, -errno, "maps");
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
    if (native__parse_dec(&q, size + strlen(size), &v) || *q)
        return -1;
    m->name = name;
    m->size = v;
    for (int i = 0; i < 3; i++) /* refcount, deps, state */
        if (!token(&p, end))
            return 0;
    if ((base = token(&p, end)) && base[0] == '0' &&
        (base[1] == 'x' || base[1] == 'X')) {
        q = base + 2;
        if (!native__parse_hex(&q, base + strlen(base), &v) && !*q && v) {
            m->base = v;
            m->has_base = 1;
        }
    }
    return 0;
}

int native__modules(struct native *n, tenon_osi_module_fn fn, void *ud)
{
    struct native_lines l;
    char *line;
    int rc;

    if ((rc = native__lines_open(&l, n->procfd, "modules"))) {
        if (rc == -ENOENT)
            return 0; /* a kernel without module support */
        return native__fail(n, native__code(-rc),
                            "listing the kernel modules: opening "
                            "/proc/modules failed (%s)",
                            native__errname(-rc));
    }
    for (;;) {
        struct tenon_osi_module m;
        int r = native__next_line(&l, &line);
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
    native__lines_close(&l);
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
    native__pid_path(path, pid, "auxv");
    if ((fd = openat(n->procfd, path, O_RDONLY | O_CLOEXEC)) < 0) {
        int err = errno;
        if (err == EACCES || err == EPERM)
            return native__fail(n, TENON_EPERM,
                                "reading the auxiliary vector of process %u: "
                                "permission denied (/proc/%u/auxv: %s)",
                                (unsigned)pid, (unsigned)pid,
                                native__errname(err));
        return native__proc_fail(n, pid, -err, "auxv");
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
            return native__proc_fail(n, pid, -err, "auxv");
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *size = got;
    return 0;
}
