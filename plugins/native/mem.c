/*
 * The tenon.memory/1 view of one process: reads with process_vm_readv or
 * pread on /proc/PID/mem, per the `mem` argument; writes with pwrite.
 *
 * Both kernel paths stop at the first page they cannot reach and return
 * the bytes before it (tested in tests/test_native.c), so a read is one
 * syscall when the range is readable, and one more, which fails, when it
 * runs into a hole: that one says where the readable prefix ends.
 *
 * A pid can be reused once its process is reaped. The view holds the
 * process, not its number: /proc/PID/mem and the /proc/PID directory stay
 * bound to the process they were opened on, and process_vm_readv, which
 * takes a number, is checked against a pidfd after each call (a pidfd turns
 * readable when its process exits, and the number cannot be reused before).
 * A check after the call cannot undo a write, so writes only ever go
 * through /proc/PID/mem, in every mode; a read that the check finds stale
 * is discarded.
 */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* The most one syscall moves: the kernel cuts a transfer at 2 GiB less a
 * page anyway, and a whole number of pages keeps the next one aligned. */
#define CHUNK_MAX ((size_t)1 << 30)

struct view {
    struct native *n;
    uint32_t pid;
    int mode;      /* enum native_mem_mode, as asked */
    int piddir;    /* /proc/PID: its maps */
    int pidfd;     /* -1 when the kernel has no pidfd_open */
    int memfd;     /* /proc/PID/mem, or -1 */
    int memfd_err; /* why memfd is -1 */
    int memfd_rdonly;
    atomic_int use_procfs; /* auto: process_vm_readv was refused */
};

/* Has the process exited (a zombie, or reaped)? */
static int exited(const struct view *v)
{
    struct pollfd p = {.fd = v->pidfd, .events = POLLIN};
    int r;
    if (v->pidfd < 0)
        return 0;
    while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR)
        ;
    return r > 0;
}

/* ---- transfers ----------------------------------------------------------- */

/* Read with process_vm_readv until `len` or the first byte that cannot be
 * reached (EFAULT). Returns 0 or an errno value. */
static int vm_read(const struct view *v, uint64_t addr, char *buf, size_t len,
                   size_t *done)
{
    while (*done < len) {
        size_t chunk = len - *done < CHUNK_MAX ? len - *done : CHUNK_MAX;
        struct iovec local = {buf + *done, chunk};
        struct iovec remote = {(void *)(uintptr_t)(addr + *done), chunk};
        ssize_t k = process_vm_readv((pid_t)v->pid, &local, 1, &remote, 1, 0);
        if (k > 0) {
            *done += (size_t)k;
            continue;
        }
        if (k == 0 || errno == EFAULT)
            break;
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

/* The same with pread/pwrite on /proc/PID/mem, which fails with EIO at a
 * byte it cannot reach, and returns 0 once the process's memory is gone. */
static int fd_xfer(const struct view *v, int write, uint64_t addr, char *buf,
                   size_t len, size_t *done)
{
    /* An offset is signed: higher addresses (the kernel's) are never a
     * process's. */
    if (addr > (uint64_t)INT64_MAX)
        return 0;
    if (len - 1 > (uint64_t)INT64_MAX - addr)
        len = (size_t)((uint64_t)INT64_MAX - addr + 1);
    while (*done < len) {
        size_t chunk = len - *done < CHUNK_MAX ? len - *done : CHUNK_MAX;
        off_t off = (off_t)(addr + *done);
        ssize_t k = write ? pwrite(v->memfd, buf + *done, chunk, off)
                          : pread(v->memfd, buf + *done, chunk, off);
        if (k > 0) {
            *done += (size_t)k;
            continue;
        }
        if (k == 0)
            return ESRCH;
        if (errno == EIO || errno == EFAULT)
            break;
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

static int xfer_fail(const struct view *v, int write, int err, int vm)
{
    const char *what = write ? "writing" : "reading";
    const char *call = vm ? "process_vm_readv" : NULL;
    unsigned pid = (unsigned)v->pid;

    if (err == ESRCH || err == ENOENT)
        return native__fail(v->n, TENON_ENOENT, "process %u exited", pid);
    if (err == EBADF && !vm && write && v->memfd_rdonly)
        return native__fail(v->n, TENON_EPERM,
                            "writing the memory of process %u: permission "
                            "denied (/proc/%u/mem opens read-only)",
                            pid, pid);
    if (err == EPERM || err == EACCES) {
        if (vm && v->mode == NATIVE_MEM_AUTO)
            return native__fail(v->n, TENON_EPERM,
                                "%s the memory of process %u: permission "
                                "denied (%s: %s; /proc/%u/mem: %s)",
                                what, pid, call, native__errname(err), pid,
                                native__errname(v->memfd_err));
        if (vm)
            return native__fail(v->n, TENON_EPERM,
                                "%s the memory of process %u: permission "
                                "denied (%s: %s)",
                                what, pid, call, native__errname(err));
        return native__fail(v->n, TENON_EPERM,
                            "%s the memory of process %u: permission denied "
                            "(/proc/%u/mem: %s)",
                            what, pid, pid, native__errname(err));
    }
    if (err == ENOSYS)
        return native__fail(v->n, TENON_ENOTSUP,
                            "%s the memory of process %u: %s is not "
                            "available here (ENOSYS); try mem=procfs",
                            what, pid, call ? call : "pread");
    if (err == ENOMEM)
        return native__fail(v->n, TENON_ENOMEM,
                            "%s the memory of process %u: out of memory", what,
                            pid);
    if (vm)
        return native__fail(v->n, TENON_EIO,
                            "%s the memory of process %u failed (%s: %s)", what,
                            pid, call, native__errname(err));
    return native__fail(v->n, TENON_EIO,
                        "%s the memory of process %u failed (/proc/%u/mem: "
                        "%s)",
                        what, pid, pid, native__errname(err));
}

static int xfer(struct view *v, int write, uint64_t addr, char *buf, size_t len,
                size_t *done)
{
    int err;

    *done = 0;
    if (!len)
        return 0;
    /* The range ends at the top of the address space. */
    if (len - 1 > UINT64_MAX - addr)
        len = (size_t)(UINT64_MAX - addr + 1);
    if (write && v->memfd < 0)
        return xfer_fail(v, write, v->memfd_err, 0);
    if (!write && v->mode != NATIVE_MEM_PROCFS &&
        !atomic_load(&v->use_procfs)) {
        err = vm_read(v, addr, buf, len, done);
        if (exited(v)) {
            /* The number may have named another process by now: what was
             * read may be that process's, so none of it is passed on. */
            memset(buf, 0, *done);
            *done = 0;
            err = ESRCH;
        }
        if (!err)
            return 0;
        /* auto: fall back for good when the call is refused or missing. */
        if (v->mode == NATIVE_MEM_AUTO && *done == 0 && v->memfd >= 0 &&
            (err == EPERM || err == ENOSYS)) {
            atomic_store(&v->use_procfs, 1);
        } else {
            return xfer_fail(v, write, err, 1);
        }
    }
    if ((err = fd_xfer(v, write, addr, buf, len, done)))
        return xfer_fail(v, write, err, 0);
    return 0;
}

/* ---- tenon.memory/1 ------------------------------------------------------ */

static uint32_t mem_address_width(void *obj)
{
    (void)obj;
    return 64;
}

static int mem_read(void *obj, uint64_t addr, void *buf, size_t len,
                    size_t *done)
{
    return xfer(obj, 0, addr, buf, len, done);
}

static int mem_write(void *obj, uint64_t addr, const void *buf, size_t len,
                     size_t *done)
{
    /* Never written through: the kernel only reads from a write's buffer. */
    return xfer(obj, 1, addr, (char *)(uintptr_t)buf, len, done);
}

struct regions_ctx {
    tenon_memory_region_fn fn;
    void *ud;
};

static int region_of_mapping(void *ud, const struct tenon_osi_mapping *m)
{
    struct regions_ctx *c = ud;
    struct tenon_memory_region r;
    r.start = m->start;
    r.end = m->end;
    r.prot = m->prot;
    /* [vvar] pages are the kernel's, mapped in a way neither read path
     * can reach. */
    r.readable = (m->prot & TENON_PROT_READ) && strncmp(m->path, "[vvar", 5);
    return c->fn(c->ud, &r);
}

static int mem_regions(void *obj, tenon_memory_region_fn fn, void *ud)
{
    struct view *v = obj;
    struct regions_ctx c = {fn, ud};
    return native__mappings_at(v->n, v->pid, v->piddir, region_of_mapping, &c);
}

static const struct tenon_memory_v1 memory_vt = {
    .struct_size = sizeof memory_vt,
    .address_width = mem_address_width,
    .read = mem_read,
    .write = mem_write,
    .regions = mem_regions,
};

/* ---- opening and closing ------------------------------------------------- */

static void view_free(struct view *v)
{
    if (v->piddir >= 0)
        close(v->piddir);
    if (v->pidfd >= 0)
        close(v->pidfd);
    if (v->memfd >= 0)
        close(v->memfd);
    free(v);
}

static int open_memfd(struct view *v)
{
    v->memfd = openat(v->piddir, "mem", O_RDWR | O_CLOEXEC);
    if (v->memfd < 0 && (errno == EACCES || errno == EPERM)) {
        v->memfd = openat(v->piddir, "mem", O_RDONLY | O_CLOEXEC);
        v->memfd_rdonly = 1;
    }
    v->memfd_err = v->memfd < 0 ? errno : 0;
    /* vm reads without it; only writes, which never go by number, fail. */
    if (v->memfd >= 0 || v->mode != NATIVE_MEM_PROCFS)
        return 0;
    if (v->memfd_err == EACCES || v->memfd_err == EPERM)
        return native__fail(v->n, TENON_EPERM,
                            "reading the memory of process %u: permission "
                            "denied (/proc/%u/mem: %s)",
                            (unsigned)v->pid, (unsigned)v->pid,
                            native__errname(v->memfd_err));
    if (v->memfd_err == ENOENT || v->memfd_err == ESRCH)
        return native__fail(v->n, TENON_ENOENT, "process %u exited",
                            (unsigned)v->pid);
    return native__fail(v->n, native__code(v->memfd_err),
                        "reading the memory of process %u: opening "
                        "/proc/%u/mem failed (%s)",
                        (unsigned)v->pid, (unsigned)v->pid,
                        native__errname(v->memfd_err));
}

int native__memory_open(struct native *n, uint32_t pid,
                        const struct tenon_memory_v1 **vt, void **mem)
{
    char path[16];
    struct view *v;
    int rc;

    *vt = NULL;
    *mem = NULL;
    if (pid == 0 || pid > INT32_MAX)
        return native__fail(n, TENON_ENOENT, "process %u does not exist",
                            (unsigned)pid);
    if (!(v = calloc(1, sizeof *v)))
        return native__fail(n, TENON_ENOMEM, "process %u: out of memory",
                            (unsigned)pid);
    v->n = n;
    v->pid = pid;
    v->mode = n->mem_mode;
    v->piddir = v->memfd = -1;
    atomic_init(&v->use_procfs, 0);
    /* pidfd first: what is opened after it, while it shows the process
     * alive, is that process's. A thread id that is not a process's fails
     * here as it does for process(). */
    v->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
    if (v->pidfd < 0 && errno != ENOSYS && errno != EPERM) {
        int err = errno;
        rc = err == ESRCH || err == EINVAL
                 ? native__fail(n, TENON_ENOENT, "process %u does not exist",
                                (unsigned)pid)
                 : native__fail(n, native__code(err),
                                "process %u: pidfd_open failed (%s)",
                                (unsigned)pid, native__errname(err));
        goto fail;
    }
    native__pid_path(path, pid, NULL);
    if ((v->piddir =
             openat(n->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        int err = errno;
        rc = err == ENOENT
                 ? native__fail(n, TENON_ENOENT, "process %u does not exist",
                                (unsigned)pid)
                 : native__fail(n, native__code(err),
                                "process %u: opening /proc/%u failed (%s)",
                                (unsigned)pid, (unsigned)pid,
                                native__errname(err));
        goto fail;
    }
    if ((rc = open_memfd(v)))
        goto fail;
    if (exited(v)) {
        rc = native__fail(n, TENON_ENOENT, "process %u exited", (unsigned)pid);
        goto fail;
    }
    *vt = &memory_vt;
    *mem = v;
    return 0;
fail:
    view_free(v);
    return rc;
}

void native__memory_close(struct native *n, void *mem)
{
    (void)n;
    if (mem)
        view_free(mem);
}
