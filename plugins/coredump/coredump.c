/*
 * coredump - an ELF core file (gcore's or the kernel's) as tenon.memory/1
 * and tenon.osi/1: its memory, its process, threads and mappings.
 *
 *     tenon ps -o coredump:core.1234
 *     tenon read -o coredump:core.1234 0x55d0c0de1000 64
 *
 * core.c parses the file; this file maps it, answers the two interfaces,
 * and supplies the bytes the core left out from the files NT_FILE names.
 *
 * Safety against a core that changes underneath. The file is mapped
 * MAP_PRIVATE, and every byte the parser reads is first copied into that
 * private mapping with pread() (pin()): a truncation then makes pread come
 * up short, where touching a mapped page past the new end of the file
 * would raise SIGBUS in the host, and a value the parser checked cannot
 * change before it is used. Memory reads copy from the mapping when nobody
 * but this user (or root) can write the core, so nobody else can truncate
 * it; a core another user could truncate is read with pread() only, which
 * reports a file that shrank instead of faulting.
 */
#include <tenon/memory.h>
#include <tenon/osi.h>
#include <tenon/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core.h"

TENON_PLUGIN_INFO("coredump", "0.3.0",
    TENON_DESCRIPTION("An ELF core file (gcore, kernel) as memory and OSI")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("log")
    TENON_PROVIDES(TENON_MEMORY_ID)
    TENON_PROVIDES(TENON_OSI_ID)
    TENON_RANK(TENON_RANK_SECONDARY)
    TENON_HELP("Reads an x86-64 Linux ELF core file, as gcore or the kernel "
               "writes it, without loading it whole (it is mapped).\n"
               "Memory: the PT_LOAD segments; pages the core left out of a "
               "file-backed mapping are read from the file NT_FILE names, "
               "when it still exists and matches the core (its first page, "
               "when the core holds it), else they are unreadable.\n"
               "OSI: the process from NT_PRPSINFO, a thread per "
               "NT_PRSTATUS, mappings from NT_FILE and the segments.\n"
               "Without a file it declines, so that another provider is "
               "tried.\n"
               "Example: tenon ps -o coredump:core.1234")
    TENON_ARG_STRING_OPT("file", "the core file to read"));

/* Reads from the mapping at least this large ask the kernel to read the
 * range ahead (plugins/README.md has the measurements). */
#define WILLNEED_MIN (1u << 20)
/* Mapped files kept open at once; more are opened for each read. */
#define MAX_OPEN_FILES 64

/* What is known of a file named in NT_FILE. */
struct mfile {
    int state; /* 0 not checked yet, 1 usable, -1 not */
    int fd;    /* open while usable, unless MAX_OPEN_FILES are */
    dev_t dev;
    ino_t ino;
};

struct coredump {
    /* Itself. The memory functions take either this or a struct view
     * (process_memory()), both of which start with the instance. */
    struct coredump *cd;
    const struct tenon_host *host;
    struct tenon_instance *self;
    char *path;
    int fd;
    unsigned char *map;
    size_t size;
    size_t page;
    /* Someone other than this user or root can write, so truncate, the
     * core: copy it only with pread(). */
    int doubt;
    unsigned char *pinned; /* a bit per page, while parsing */
    /* A bit per WILLNEED_MIN bytes of the core: advised already. Once the
     * kernel has read a range ahead, advising it again only costs a walk
     * of the page cache on every read. */
    unsigned char *advised;
    struct core core;
    pthread_mutex_t lock; /* checking and opening files[] */
    struct mfile *files;
    size_t open_files;
};

struct view {
    struct coredump *cd;
};

static struct coredump *of(void *obj) { return *(struct coredump **)obj; }

/* ---- reading ------------------------------------------------------------- */

/* pread until `len` bytes, the end of the file or an error: how many were
 * read, or -1 with errno when none could be. */
static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return got ? (ssize_t)got : -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* core_pin_fn: copy the pages holding [off, off + len) into the private
 * mapping, each page once, so that what the parser has checked stays. */
static int pin(void *ud, uint64_t off, uint64_t len)
{
    struct coredump *cd = ud;
    if (off > cd->size || len > cd->size - off)
        return -1;
    uint64_t first = off / cd->page, last = (off + len - 1) / cd->page;
    for (uint64_t pg = first; pg <= last;) {
        if (cd->pinned[pg / 8] & (1u << (pg % 8))) {
            pg++;
            continue;
        }
        uint64_t run = pg;
        while (run <= last && !(cd->pinned[run / 8] & (1u << (run % 8))))
            run++;
        uint64_t a = pg * cd->page, b = run * cd->page;
        if (b > cd->size)
            b = cd->size;
        if (pread_full(cd->fd, cd->map + a, b - a, a) != (ssize_t)(b - a))
            return -1;
        for (; pg < run; pg++)
            cd->pinned[pg / 8] |= (unsigned char)(1u << (pg % 8));
    }
    return 0;
}

/* core_io.core: bytes of the core file. */
static long core_bytes(void *ud, uint64_t off, void *buf, size_t len)
{
    struct coredump *cd = ud;
    if (!cd->doubt) {
        /* The kernel reads ahead around each fault only; WILLNEED starts
         * reading the whole range at once, which a cold cache feels. */
        if (len >= WILLNEED_MIN && cd->advised) {
            uint64_t first = off / WILLNEED_MIN;
            uint64_t last = (off + len - 1) / WILLNEED_MIN;
            unsigned char *bits = cd->advised;
            int fresh = 0;
            for (uint64_t c = first; c <= last && !fresh; c++)
                fresh = !(__atomic_load_n(&bits[c / 8], __ATOMIC_RELAXED) &
                          (1u << (c % 8)));
            if (fresh) {
                uint64_t a = off & ~(uint64_t)(cd->page - 1);
                madvise(cd->map + a, (size_t)(off + len - a), MADV_WILLNEED);
                for (uint64_t c = first; c <= last; c++)
                    __atomic_fetch_or(&bits[c / 8],
                                      (unsigned char)(1u << (c % 8)),
                                      __ATOMIC_RELAXED);
            }
        }
        memcpy(buf, cd->map + off, len);
        return (long)len;
    }
    ssize_t n = pread_full(cd->fd, buf, len, off);
    if (n == (ssize_t)len)
        return (long)n;
    if (n < 0)
        cd->host->set_error(cd->self, "reading core file %s at offset %llu: %s",
                            cd->path, (unsigned long long)off, strerror(errno));
    else
        cd->host->set_error(cd->self,
                            "core file %s shrank while in use: offset %llu "
                            "is past its end now (it had %zu bytes)",
                            cd->path, (unsigned long long)(off + (size_t)n),
                            cd->size);
    return TENON_EIO;
}

static void file_log(struct coredump *cd, const char *path, const char *why)
{
    TENON_LOG(cd->host, cd->self, TENON_LOG_INFO,
              "%s: the core left out pages of %s, which are unreadable: %s",
              cd->path, path, why);
}

/* File systems whose "files" are views of something else: /proc/PID/mem is
 * another process's memory, sysfs and debugfs files are kernel state. */
static int pseudo_fs(int fd)
{
    static const unsigned long kinds[] = {
        0x9fa0,     /* proc */
        0x62656572, /* sysfs */
        0x64626720, /* debugfs */
        0x74726163, /* tracefs */
        0x73636673, /* securityfs */
        0x27e0eb,   /* cgroup */
        0x63677270, /* cgroup2 */
        0x62656570, /* configfs */
        0x6e736673, /* nsfs */
        0xcafe4a11, /* bpf */
    };
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0)
        return 1;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        if ((unsigned long)sf.f_type == kinds[k])
            return 1;
    return 0;
}

/* May the bytes the core left out of file `i` be read from it? The core
 * names the file, and whoever wrote the core chose that name: a core can
 * name /etc/shadow, /proc/PID/mem or a device, for whoever reads it (often
 * root) to read on the writer's behalf. So a file is read only when it is
 * one the core shows it knows whole at its start: an ELF file (what the
 * loader maps) whose first page (or all of it, when shorter) the core
 * holds, byte for byte equal. The kernel keeps that page of every ELF
 * mapping, gcore the whole first mapping; an attacker would have to know
 * the first 4 KiB of a file they cannot read. It must also be a regular
 * file, checked before it is opened (opening a device can do something),
 * on a real file system. Sizes are checked at each read. */
static int check_file(struct coredump *cd, uint32_t i)
{
    const struct core_file *f = &cd->core.files[i];
    struct mfile *m = &cd->files[i];
    unsigned char mine[4096], theirs[4096];
    struct stat st, fst;
    int fd;

    if (f->deleted) {
        file_log(cd, f->path, "it was deleted before the core was written");
        return -1;
    }
    if (stat(f->path, &st) != 0) {
        file_log(cd, f->path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        file_log(cd, f->path, "it is not a regular file");
        return -1;
    }
    size_t need =
        st.st_size < (off_t)sizeof mine ? (size_t)st.st_size : sizeof mine;
    if (need < 4 || f->head_len < need) {
        file_log(cd, f->path,
                 "the core does not hold the file's first page to check it "
                 "against");
        return -1;
    }
    if ((fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) <
        0) {
        file_log(cd, f->path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) ||
        fst.st_dev != st.st_dev || fst.st_ino != st.st_ino || pseudo_fs(fd)) {
        file_log(cd, f->path, "it is not a regular file on a real file system");
        close(fd);
        return -1;
    }
    if (core_bytes(cd, f->head_off, mine, need) != (long)need ||
        memcmp(mine, "\177ELF", 4) != 0 ||
        pread_full(fd, theirs, need, 0) != (ssize_t)need ||
        memcmp(mine, theirs, need) != 0) {
        file_log(cd, f->path,
                 "its first page differs from the core's copy, or is not an "
                 "ELF header (the file changed since the core was written, "
                 "or is not what the core says)");
        close(fd);
        return -1;
    }
    m->dev = fst.st_dev;
    m->ino = fst.st_ino;
    if (cd->open_files < MAX_OPEN_FILES) {
        m->fd = fd;
        cd->open_files++;
    } else {
        close(fd);
    }
    return 1;
}

static int file_usable(struct coredump *cd, uint32_t i)
{
    struct mfile *m = &cd->files[i];
    int state = __atomic_load_n(&m->state, __ATOMIC_ACQUIRE);
    if (state)
        return state > 0;
    pthread_mutex_lock(&cd->lock);
    if (!(state = m->state))
        __atomic_store_n(&m->state, state = check_file(cd, i),
                         __ATOMIC_RELEASE);
    pthread_mutex_unlock(&cd->lock);
    return state > 0;
}

/* core_io.file: bytes of a mapped file the core left out. As in the
 * process, the bytes from the end of the file to the end of its last page
 * read as zeros; whole pages past its end are unreadable. */
static long file_bytes(void *ud, uint32_t i, uint64_t off, void *buf,
                       size_t len)
{
    struct coredump *cd = ud;
    struct mfile *m = &cd->files[i];
    struct stat st;
    int fd;

    if (!file_usable(cd, i))
        return 0;
    if ((fd = m->fd) < 0) {
        /* Not kept open: it must still be the file that was checked. */
        fd = open(cd->core.files[i].path,
                  O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
            return 0;
        if (fstat(fd, &st) != 0 || st.st_dev != m->dev || st.st_ino != m->ino) {
            close(fd);
            return 0;
        }
    }
    ssize_t n = pread_full(fd, buf, len, off);
    if (n < 0)
        n = 0;
    else if ((size_t)n < len && fstat(fd, &st) == 0 &&
             off + (uint64_t)n >= (uint64_t)st.st_size) {
        uint64_t page = cd->core.page_size, eof = off + (uint64_t)n;
        uint64_t zeros = (page - eof % page) % page;
        if (zeros > len - (size_t)n)
            zeros = len - (size_t)n;
        memset((char *)buf + n, 0, (size_t)zeros);
        n += (ssize_t)zeros;
    }
    if (fd != m->fd)
        close(fd);
    return (long)n;
}

/* ---- tenon.memory/1 ------------------------------------------------------ */

static uint32_t mem_width(void *obj)
{
    (void)obj;
    return 64;
}

static int mem_read(void *obj, uint64_t addr, void *buf, size_t len,
                    size_t *done)
{
    struct coredump *cd = of(obj);
    const struct core_io io = {core_bytes, file_bytes, cd};
    return core_read(&cd->core, &io, addr, buf, len, done);
}

static int readable(void *ud, uint32_t file) { return file_usable(ud, file); }

struct region_ctx {
    tenon_memory_region_fn fn;
    void *ud;
};

static int each_region(void *ud, const struct core_region *r)
{
    struct region_ctx *ctx = ud;
    struct tenon_memory_region out = {r->start, r->end, r->prot, r->readable};
    return ctx->fn(ctx->ud, &out);
}

static int mem_regions(void *obj, tenon_memory_region_fn fn, void *ud)
{
    struct coredump *cd = of(obj);
    struct region_ctx ctx = {fn, ud};
    return core_regions(&cd->core, readable, cd, each_region, &ctx);
}

static const struct tenon_memory_v1 memory_vt = {
    .struct_size = sizeof memory_vt,
    .address_width = mem_width,
    .read = mem_read,
    .write = NULL, /* read-only */
    .regions = mem_regions,
};

/* ---- tenon.osi/1 --------------------------------------------------------- */

static int no_such(struct coredump *cd, uint32_t pid)
{
    cd->host->set_error(cd->self,
                        "no process %u in core file %s: it holds process %u",
                        pid, cd->path, cd->core.pid);
    return TENON_ENOENT;
}

static void fill_process(const struct core *c, struct tenon_osi_process *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->pid = c->pid;
    p->ppid = c->ppid;
    p->uid = c->uid;
    p->state = c->state;
    p->name = c->name;
    p->exe = c->exe;
    p->argv = c->argc ? c->argv : NULL;
    p->argc = c->argc;
}

static int osi_processes(void *obj, unsigned want, tenon_osi_process_fn fn,
                         void *ud)
{
    struct tenon_osi_process p;
    (void)want; /* a core knows everything at once */
    fill_process(&of(obj)->core, &p);
    return fn(ud, &p);
}

static char *put(char **at, const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = memcpy(*at, s, n);
    *at += n;
    return r;
}

static int osi_process(void *obj, uint32_t pid, struct tenon_osi_process **out)
{
    struct coredump *cd = of(obj);
    const struct core *c = &cd->core;
    struct tenon_osi_process *p;
    size_t need = sizeof *p + (c->argc + 1) * sizeof(char *) + strlen(c->name) +
                  strlen(c->exe) + 2;

    *out = NULL;
    if (pid != c->pid)
        return no_such(cd, pid);
    for (size_t i = 0; i < c->argc; i++)
        need += strlen(c->argv[i]) + 1;
    if (!(p = malloc(need)))
        return TENON_ENOMEM;
    fill_process(c, p);
    const char **argv = (const char **)(p + 1);
    char *at = (char *)(argv + c->argc + 1);
    p->name = put(&at, c->name);
    p->exe = put(&at, c->exe);
    for (size_t i = 0; i < c->argc; i++)
        argv[i] = put(&at, c->argv[i]);
    argv[c->argc] = NULL;
    p->argv = c->argc ? argv : NULL;
    *out = p;
    return 0;
}

static void osi_process_free(void *obj, struct tenon_osi_process *p)
{
    (void)obj;
    free(p);
}

static int osi_threads(void *obj, uint32_t pid, tenon_osi_thread_fn fn,
                       void *ud)
{
    struct coredump *cd = of(obj);
    const struct core *c = &cd->core;
    int rc;
    if (pid != c->pid)
        return no_such(cd, pid);
    for (size_t i = 0; i < c->nthreads; i++) {
        struct tenon_osi_thread t;
        memset(&t, 0, sizeof t);
        t.struct_size = sizeof t;
        t.tid = c->tids[i];
        t.pid = c->pid;
        t.state = '?'; /* NT_PRSTATUS does not say */
        t.name = c->name;
        if ((rc = fn(ud, &t)))
            return rc;
    }
    return 0;
}

static int osi_mappings(void *obj, uint32_t pid, tenon_osi_mapping_fn fn,
                        void *ud)
{
    struct coredump *cd = of(obj);
    const struct core *c = &cd->core;
    int rc;
    if (pid != c->pid)
        return no_such(cd, pid);
    for (size_t i = 0; i < c->nmaps; i++) {
        const struct core_map *cm = &c->maps[i];
        struct tenon_osi_mapping m;
        memset(&m, 0, sizeof m);
        m.struct_size = sizeof m;
        m.prot = cm->prot;
        m.start = cm->start;
        m.end = cm->end;
        m.offset = cm->offset;
        m.path = cm->name;
        if (cm->file != CORE_NOFILE) {
            m.path = c->files[cm->file].path;
            /* The core does not record them: those of the file now, when
             * it is the one the core mapped. */
            if (file_usable(cd, cm->file)) {
                m.dev_major = major(cd->files[cm->file].dev);
                m.dev_minor = minor(cd->files[cm->file].dev);
                m.inode = cd->files[cm->file].ino;
            }
        }
        if ((rc = fn(ud, &m)))
            return rc;
    }
    return 0;
}

static int osi_current(void *obj, uint32_t *pid, uint32_t *tid)
{
    const struct core *c = &of(obj)->core;
    *pid = c->pid;
    *tid = c->first_tid;
    return 0;
}

static int osi_process_memory(void *obj, uint32_t pid,
                              const struct tenon_memory_v1 **vt, void **mem)
{
    struct coredump *cd = of(obj);
    struct view *v;
    *vt = NULL;
    *mem = NULL;
    if (pid != cd->core.pid)
        return no_such(cd, pid);
    if (!(v = malloc(sizeof *v)))
        return TENON_ENOMEM;
    v->cd = cd;
    *vt = &memory_vt;
    *mem = v;
    return 0;
}

static void osi_process_memory_free(void *obj, void *mem)
{
    (void)obj;
    free(mem);
}

static int osi_auxv(void *obj, uint32_t pid, void *buf, size_t len,
                    size_t *size)
{
    struct coredump *cd = of(obj);
    const struct core *c = &cd->core;
    *size = 0;
    if (pid != c->pid)
        return no_such(cd, pid);
    if (!c->auxv) {
        cd->host->set_error(cd->self, "core file %s has no NT_AUXV note",
                            cd->path);
        return TENON_ENOTSUP;
    }
    *size = c->auxv_len;
    if (len)
        memcpy(buf, c->auxv, len < c->auxv_len ? len : c->auxv_len);
    return 0;
}

static const struct tenon_osi_v1 osi_vt = {
    .struct_size = sizeof osi_vt,
    .processes = osi_processes,
    .process = osi_process,
    .process_free = osi_process_free,
    .threads = osi_threads,
    .mappings = osi_mappings,
    .modules = NULL, /* a process's core has no kernel to list */
    .current = osi_current,
    .process_memory = osi_process_memory,
    .process_memory_free = osi_process_memory_free,
    .auxv = osi_auxv,
};

/* ---- the instance -------------------------------------------------------- */

static void coredump_destroy(void *obj)
{
    struct coredump *cd = obj;
    if (!cd)
        return;
    for (size_t i = 0; cd->files && i < cd->core.nfiles; i++)
        if (cd->files[i].fd >= 0)
            close(cd->files[i].fd);
    free(cd->files);
    core_free(&cd->core);
    if (cd->map)
        munmap(cd->map, cd->size);
    if (cd->fd >= 0)
        close(cd->fd);
    free(cd->pinned);
    free(cd->advised);
    pthread_mutex_destroy(&cd->lock);
    free(cd->path);
    free(cd);
}

static const char *kind_of(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Could a user other than this one (or root) truncate the file? */
static int may_shrink(int fd, const struct stat *st)
{
    if (st->st_uid != geteuid() && st->st_uid != 0)
        return 1;
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return 1;
    /* An extended ACL can let other users write. */
    return fgetxattr(fd, "system.posix_acl_access", NULL, 0) >= 0;
}

static int open_core(struct coredump *cd)
{
    char err[512];
    struct stat st;
    int rc;

    cd->fd = open(cd->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (cd->fd < 0) {
        int e = errno;
        cd->host->set_error(cd->self, "cannot open core file %s: %s", cd->path,
                            strerror(e));
        return e == ENOENT                 ? TENON_ENOENT
               : e == EACCES || e == EPERM ? TENON_EPERM
                                           : TENON_EIO;
    }
    if (fstat(cd->fd, &st) != 0) {
        cd->host->set_error(cd->self, "cannot stat core file %s: %s", cd->path,
                            strerror(errno));
        return TENON_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        cd->host->set_error(cd->self, "%s is %s, expected an ELF core file",
                            cd->path, kind_of(st.st_mode));
        return TENON_EINVAL;
    }
    cd->size = (size_t)st.st_size;
    cd->doubt = may_shrink(cd->fd, &st);
    if (cd->size) {
        /* Writable, so pin() can copy pages in; MAP_NORESERVE, so a core
         * larger than memory needs no commit charge for pages it never
         * copies. */
        cd->map = mmap(NULL, cd->size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_NORESERVE, cd->fd, 0);
        if (cd->map == MAP_FAILED) {
            cd->map = NULL;
            cd->host->set_error(cd->self, "cannot map core file %s: %s",
                                cd->path, strerror(errno));
            return TENON_EIO;
        }
        uint64_t pages = (cd->size + cd->page - 1) / cd->page;
        if (!(cd->pinned = calloc((size_t)(pages / 8 + 1), 1)) ||
            !(cd->advised =
                  calloc((size_t)(cd->size / WILLNEED_MIN / 8 + 1), 1))) {
            cd->host->set_error(cd->self, "out of memory");
            return TENON_ENOMEM;
        }
    }
    rc = core_parse(&cd->core, cd->map, cd->size, cd->path, pin, cd, err,
                    sizeof err);
    free(cd->pinned);
    cd->pinned = NULL;
    if (rc) {
        cd->host->set_error(cd->self, "%s", err);
        return rc;
    }
    if (cd->map)
        mprotect(cd->map, cd->size, PROT_READ);
    return 0;
}

static int coredump_create(const struct tenon_host *host,
                           struct tenon_instance *self,
                           const struct tenon_args *args,
                           struct tenon_instance *input, void **obj)
{
    const struct tenon_arg_value *file = tenon_arg(args, "file");
    struct coredump *cd;
    int rc;
    (void)input;

    if (!file || !file->set || !file->str[0]) {
        host->set_error(self, "no core file given (coredump:FILE)");
        return TENON_EDECLINE;
    }
    if (!(cd = calloc(1, sizeof *cd)) || !(cd->path = strdup(file->str))) {
        free(cd);
        host->set_error(self, "out of memory");
        return TENON_ENOMEM;
    }
    cd->cd = cd;
    cd->host = host;
    cd->self = self;
    cd->fd = -1;
    cd->page = (size_t)sysconf(_SC_PAGESIZE);
    pthread_mutex_init(&cd->lock, NULL);
    if ((rc = open_core(cd))) {
        coredump_destroy(cd);
        return rc;
    }
    if (cd->core.nfiles &&
        !(cd->files = calloc(cd->core.nfiles, sizeof *cd->files))) {
        host->set_error(self, "out of memory");
        coredump_destroy(cd);
        return TENON_ENOMEM;
    }
    for (size_t i = 0; i < cd->core.nfiles; i++)
        cd->files[i].fd = -1;
    *obj = cd;
    return 0;
}

static const void *coredump_get_interface(void *obj, const char *id)
{
    (void)obj;
    if (strcmp(id, TENON_MEMORY_ID) == 0)
        return &memory_vt;
    if (strcmp(id, TENON_OSI_ID) == 0)
        return &osi_vt;
    return NULL;
}

TENON_PLUGIN_ENTRY(coredump_create, coredump_destroy, coredump_get_interface,
                   NULL);
