/*
 * The inventory: plugin files on the search path and what their static info
 * says, read without loading them. Every file that fails a check stays listed
 * with the reason, so an operator can see why a plugin is missing.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- probing one file ---------------------------------------------------- */

/* Reasons come from untrusted bytes: keep them printable. */
void tenon__plugin_set_reason(struct tenon_plugin *p, int status,
                              const char *reason)
{
    p->status = status;
    free(p->reason);
    p->reason = tenon__escape(reason);
}

static const char *open_error(int err, int dirfd, const char *name)
{
    struct stat st;
    switch (err) {
    case ELOOP: return "symbolic link loop";
    case ENOENT: /* a listed name is a link; a name given may be a typo */
        return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
                   ? "dangling symbolic link"
                   : "no such file";
    case EACCES: return "permission denied";
    case ENXIO: return "a symbolic link to a device, FIFO or socket";
    default: return strerror(err);
    }
}

void tenon__plugin_probe(struct tenon_plugin *p, int dirfd, const char *name)
{
    char reason[TENON__REASON_MAX];
    struct tenon__elf elf;
    struct stat st;
    int rc;
    /* Never a device behind a link; O_NONBLOCK: a FIFO named *.so must
     * not hang the scan. */
    int fd = tenon__open_regular(dirfd, name, &st);

    p->info.abi = -1;
    if (fd < 0) {
        int err = errno;
        /* Listed, then gone before it was opened: removed meanwhile. */
        p->vanished = err == ENOENT &&
                      fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
                      errno == ENOENT;
        snprintf(reason, sizeof reason, "cannot open: %s",
                 open_error(err, dirfd, name));
        tenon__plugin_set_reason(p, TENON_UNAVAILABLE, reason);
        return;
    }
    p->dev = st.st_dev;
    p->ino = st.st_ino;
    p->size = (int64_t)st.st_size;
    p->mtime_ns = tenon__mtime_ns(&st);
    p->ctime_ns = tenon__ctime_ns(&st);
    p->cacheable = 1; /* what follows depends only on the bytes */
    if (S_ISDIR(st.st_mode)) {
        snprintf(reason, sizeof reason,
                 "is a directory; expected a shared object file");
        goto bad;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(reason, sizeof reason,
                 "not a regular file; expected a shared object file");
        goto bad;
    }
    rc = tenon__elf_read_fd(fd, (uint64_t)st.st_size,
                            TENON__ELF_INFO | TENON__ELF_DYN, &elf, reason,
                            sizeof reason);
    p->machine = elf.machine;
    p->elfclass = elf.elfclass;
    if (rc)
        goto bad;
    close(fd);
    fd = -1;
    rc = tenon__info_parse(elf.info, elf.info_size, &p->info, reason,
                           sizeof reason);
    free(elf.info);
    p->have_info = 1; /* even on failure: name and version may be known */
    p->dyn = elf.dyn;
    p->dyn_size = elf.dyn_size;
    if (rc)
        goto bad;
    if (tenon__dyn_split(p->dyn, p->dyn_size, &p->dynv)) {
        snprintf(reason, sizeof reason, "out of memory");
        goto bad;
    }
    p->status = TENON_AVAILABLE;
    return;
bad:
    if (fd >= 0)
        close(fd);
    tenon__plugin_set_reason(p, TENON_UNAVAILABLE, reason);
}

void tenon__plugin_free(struct tenon_plugin *p)
{
    if (!p)
        return;
    free(p->reason);
    free(p->trust_reason);
    tenon__info_free(&p->info);
    free(p->dyn);
    free(p->dynv.needed);
    free(p);
}

/* ---- scanning the search path -------------------------------------------- */

static int has_so_suffix(const char *name, size_t n)
{
    return n > 3 && memcmp(name + n - 3, ".so", 3) == 0;
}

#define META_SUFFIX ".meta"
#define META_LEN    (sizeof META_SUFFIX - 1)

/* "x.so.meta": the sidecar of "x.so". */
static int is_meta(const char *name, size_t n)
{
    return n > META_LEN &&
           memcmp(name + n - META_LEN, META_SUFFIX, META_LEN) == 0 &&
           has_so_suffix(name, n - META_LEN);
}

/* File names of one directory: read into one buffer, or pointing into a
 * cached listing. */
struct names {
    char *buf;
    size_t len, cap;
    size_t *off; /* offsets while reading (buf moves), then sorted pointers */
    size_t n, cap_off;
    const char **sorted;
    unsigned char *has_meta; /* per sorted name; NULL when not wanted */
    int partial;             /* readdir failed part way: its errno */
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_name(struct names *nm, const char *name, size_t len)
{
    if (tenon__grow(&nm->buf, &nm->cap, nm->len + len + 1, 1) ||
        tenon__grow(&nm->off, &nm->cap_off, nm->n + 1, sizeof *nm->off))
        return TENON_ENOMEM;
    memcpy(nm->buf + nm->len, name, len);
    nm->buf[nm->len + len] = '\0';
    nm->off[nm->n++] = nm->len;
    nm->len += len + 1;
    return 0;
}

static int sort_names(struct names *nm)
{
    if (!(nm->sorted = malloc((nm->n ? nm->n : 1) * sizeof *nm->sorted)))
        return TENON_ENOMEM;
    for (size_t i = 0; i < nm->n; i++)
        nm->sorted[i] = nm->buf + nm->off[i];
    qsort(nm->sorted, nm->n, sizeof *nm->sorted, cmp_str);
    return 0;
}

/* The *.so names, sorted; with `want_meta`, also which of them have a
 * *.so.meta beside them, which the cache's key includes: knowing it from
 * the listing saves a failing stat per plugin without one. */
static int read_names(DIR *d, struct names *nm, int want_meta)
{
    struct names metas = {0};
    struct dirent *e;
    int rc = 0;
    for (errno = 0; rc == 0 && (e = readdir(d)); errno = 0) {
        size_t len = strlen(e->d_name);
        if (has_so_suffix(e->d_name, len))
            rc = add_name(nm, e->d_name, len);
        else if (want_meta && is_meta(e->d_name, len))
            rc = add_name(&metas, e->d_name, len - META_LEN);
    }
    nm->partial = rc == 0 ? errno : 0;
    if (rc == 0)
        rc = sort_names(nm);
    if (rc == 0 && want_meta && !(nm->has_meta = malloc(nm->n ? nm->n : 1)))
        rc = TENON_ENOMEM;
    if (rc == 0 && want_meta && (rc = sort_names(&metas)) == 0)
        for (size_t i = 0; i < nm->n; i++)
            nm->has_meta[i] =
                metas.n && bsearch(&nm->sorted[i], metas.sorted, metas.n,
                                   sizeof *metas.sorted, cmp_str);
    free(metas.buf);
    free(metas.off);
    free(metas.sorted);
    return rc;
}

/* The names of a valid cached listing, pointing into the cache. */
static int cached_names(const struct tenon__cache_dir *cd, struct names *nm)
{
    const char *p = cd->names;
    nm->sorted = malloc((cd->count ? cd->count : 1) * sizeof *nm->sorted);
    nm->has_meta = malloc(cd->count ? cd->count : 1);
    if (!nm->sorted || !nm->has_meta)
        return TENON_ENOMEM;
    for (size_t i = 0; i < cd->count; i++) {
        nm->has_meta[i] = (unsigned char)*p++;
        nm->sorted[i] = p;
        p += strlen(p) + 1;
    }
    nm->n = cd->count;
    return 0;
}

static void free_names(struct names *nm)
{
    free(nm->buf);
    free(nm->off);
    free(nm->sorted);
    free(nm->has_meta);
}

struct list {
    struct tenon_plugin **v;
    size_t n, cap;
};

/* Probing is almost all system calls (open, fstat, one read, close), so
 * large directories are probed by several threads taking files in turn; so
 * is the warm path of the cache, a stat per file. */
#define PARALLEL_MIN       64  /* fewer files than this: not worth a thread */
#define CACHE_PARALLEL_MIN 256 /* the same when each file costs a stat */
#define PROBE_THREADS_MAX  4

struct probe_job {
    struct tenon_plugin **v;
    size_t n;
    int dirfd;
    atomic_size_t next;
    struct tenon__cache *cache; /* non-NULL: fill from it, do not probe */
    const struct tenon__keyring *keyring; /* non-NULL: check signatures */
    atomic_size_t verdicts_reused;
    /* While checking signatures: a wait for an install lock timed out in
     * this scan, so none is waited for again (a lock held on purpose costs
     * one wait a scan, not one a directory). */
    atomic_uchar gave_up;
    uint64_t max_size; /* the largest file hashed (max_file_size) */
};

/* The stat of the file the probe saw: same inode, size, mtime and ctime.
 * The inode alone is not enough: a file created after a remove may get the
 * number the removed one had. */
static int same_file(const struct stat *st, const struct tenon_plugin *p)
{
    return st->st_dev == p->dev && st->st_ino == p->ino &&
           (int64_t)st->st_size == p->size &&
           tenon__mtime_ns(st) == p->mtime_ns &&
           tenon__ctime_ns(st) == p->ctime_ns;
}

/* The stat of the .meta beside file `name` in `dirfd`: 0, or -1 when
 * there is none (or the name is too long to have one). */
static int stat_meta(int dirfd, const char *name, struct stat *st)
{
    char meta[PATH_MAX];
    return (size_t)snprintf(meta, sizeof meta, "%s" META_SUFFIX, name) <
                       sizeof meta &&
                   fstatat(dirfd, meta, st, 0) == 0
               ? 0
               : -1;
}

/* The .meta beside `path` as its inode and ctime, {0, 0} when there is
 * none: a rename onto it, a write, or its removal changes them. */
static void meta_stamp(const char *path, int64_t stamp[2])
{
    struct stat st;
    stamp[0] = stamp[1] = 0;
    if (stat_meta(AT_FDCWD, path, &st) == 0) {
        stamp[0] = (int64_t)st.st_ino;
        stamp[1] = tenon__ctime_ns(&st);
    }
}

/* Could a failed check come from a pair an install or remove was changing
 * as it was read? Install renames the .meta, then the file; remove deletes
 * the file, then the .meta. So: a digest mismatch; the file gone; or
 * "unsigned" while the name no longer holds the probed file or the .meta
 * changed during the check (`before`). A plugin that simply has no
 * signature costs two stats. */
static int looks_torn(const struct tenon_plugin *p, int verdict,
                      const int64_t before[2])
{
    int64_t after[2];
    struct stat st;
    if (verdict == TENON__TRUST_MISMATCH)
        return 1;
    if (verdict != TENON__TRUST_UNSIGNED)
        return 0;
    if (stat(p->path, &st) != 0 || !same_file(&st, p))
        return 1;
    meta_stamp(p->path, after);
    return after[0] != before[0] || after[1] != before[1];
}

/* The libraries p bundles, found and checked against its good trust
 * result; when they fail, p gets the reason (trust_rc, trust_reason). */
static void trust_bundled(const struct probe_job *job, struct tenon_plugin *p,
                          const struct tenon__trust_result *res)
{
    char why[TENON__REASON_MAX];
    struct tenon__deps d;
    int rc = tenon__deps_resolve(p->path, &p->dynv, 0, job->max_size, &d, why,
                                 sizeof why);
    if (rc == 0)
        rc = tenon__trust_deps(job->keyring, res, &d, why, sizeof why);
    tenon__deps_free(&d);
    if (rc) {
        p->trust_rc = rc == TENON_ENOMEM ? rc : TENON_EPERM;
        p->trust_reason = tenon__strdup(why);
    }
}

/* Check an available entry's digest and signature; the verdict is kept in
 * the entry and applied after the cache is written, and *torn says whether
 * a failure may come from an install or remove in progress (looks_torn).
 * The cache keeps the digest, a fact about the file, and a good verdict
 * with the fingerprint of the keyring that reached it; returns 1 when that
 * verdict was reused. */
static int trust_one(const struct probe_job *job, struct tenon_plugin *p,
                     int *torn)
{
    const struct tenon__keyring *kr = job->keyring;
    struct tenon__trust_result res;
    int64_t meta_before[2];
    int fd = -1;
    /* A DT_RPATH or DT_RUNPATH may lead to bundled libraries, which can
     * change without the plugin's file or .meta changing (and a DT_NEEDED
     * that is a path or has a '$' is refused): such a plugin's verdict is
     * not cached, and its libraries are checked every scan. */
    int paths = tenon__deps_possible(&p->dynv);
    *torn = 0;
    if (p->status != TENON_AVAILABLE)
        return 0;
    /* Good for these keys, under the key of this very file and its .meta:
     * nothing to read. The loader checks again the bytes it loads. */
    if (p->have_digest && p->verified_by == kr->fingerprint && !paths)
        return 1;
    p->verified_by = 0;
    if (!p->have_digest && (uint64_t)p->size > job->max_size) {
        p->trust_rc = TENON_EPERM;
        p->trust_reason = tenon__asprintf(
            "%lld bytes, more than the %llu a scan hashes (max_file_size)",
            (long long)p->size, (unsigned long long)job->max_size);
        return 0;
    }
    meta_stamp(p->path, meta_before);
    struct stat st;
    if (!p->have_digest &&
        (fd = tenon__open_regular(AT_FDCWD, p->path, &st)) < 0) {
        *torn = errno == ENOENT;
        p->trust_rc = TENON_EIO;
        p->trust_reason = tenon__asprintf("cannot open to check its digest: %s",
                                          strerror(errno));
        return 0;
    }
    /* The verdict is about these bytes, and the entry shows the static
     * info the probe read: they must be the same file. */
    if (fd >= 0 && !same_file(&st, p)) {
        close(fd);
        *torn = 1;
        p->trust_rc = TENON_EPERM;
        p->trust_reason = tenon__strdup("the file changed between its probe "
                                        "and its check; scan again");
        return 0;
    }
    p->trust_rc = tenon__trust_check_file(
        kr, p->path, p->info.name, p->info.version, fd, job->max_size,
        p->have_digest ? p->digest : NULL, &res);
    /* Keep the digest only if the file is still as the probe saw it (no
     * write while it was hashed): it is cached under that file's key. */
    if (res.have_digest && !p->have_digest && fstat(fd, &st) == 0 &&
        same_file(&st, p)) {
        memcpy(p->digest, res.digest, sizeof p->digest);
        p->have_digest = 1;
        p->digest_new = 1;
    }
    if (fd >= 0)
        close(fd);
    if (p->trust_rc) {
        p->trust_reason = tenon__strdup(res.reason);
        *torn = looks_torn(p, res.verdict, meta_before);
    } else if (paths) {
        trust_bundled(job, p, &res);
    } else if (p->have_digest) {
        p->verified_by = kr->fingerprint;
        p->verdict_new = 1;
    }
    tenon__trust_result_free(&res);
    return 0;
}

/* The cache key's .meta part for the file `name` in `dirfd`: the stat of
 * its .meta, taken before the file is probed. */
static void key_meta(int dirfd, const char *name, struct tenon_plugin *p)
{
    struct stat st;
    if (stat_meta(dirfd, name, &st) == 0) {
        p->meta_size = (int64_t)st.st_size;
        p->meta_mtime_ns = tenon__mtime_ns(&st);
        p->meta_ctime_ns = tenon__ctime_ns(&st);
    }
}

/* *pp's pair looked torn: wait for the directory's install lock (until a
 * wait in this scan times out; tenon__install_settle) and, holding it, probe
 * and check the file afresh: the entry is replaced by what is there now, or
 * dropped when the file was removed. When the lock stays held, or the
 * directory has none, the verdict stands. */
static void settle(struct probe_job *job, struct tenon_plugin **pp)
{
    struct tenon_plugin *p = *pp, *q;
    atomic_uchar *gave_up = &job->gave_up;
    char why[TENON__REASON_MAX];
    size_t len = strlen(p->path);
    struct stat st;
    int wait = !atomic_load(gave_up), lock, torn;

    lock = tenon__install_settle(p->path, wait ? TENON__SETTLE_WAIT_MS : 0, why,
                                 sizeof why);
    if (lock == TENON_EBUSY) {
        char *r = tenon__asprintf(
            "%s; %s%s", p->trust_reason ? p->trust_reason : "", why,
            wait ? "" : " (not waited for again in this scan)");
        atomic_store(gave_up, 1);
        if (r) {
            free(p->trust_reason);
            p->trust_reason = r;
        }
        return;
    }
    if (lock < 0)
        return;
    if (lstat(p->path, &st) != 0 && errno == ENOENT) {
        *pp = NULL; /* removed: as if listed after the remove */
        tenon__plugin_free(p);
    } else if ((q = calloc(1, sizeof *q + len + 1))) {
        memcpy(q->path, p->path, len + 1);
        q->name_off = p->name_off;
        q->dir_index = p->dir_index;
        q->status = TENON_UNAVAILABLE;
        q->meta_size = -1;
        key_meta(AT_FDCWD, q->path, q);
        q->meta_listed = q->meta_size >= 0;
        tenon__plugin_probe(q, AT_FDCWD, q->path);
        trust_one(job, q, &torn);
        *pp = q;
        tenon__plugin_free(p);
    }
    close(lock);
}

/* The trust check of job->v[i], settled when it looks torn. */
static int trust_entry(struct probe_job *job, size_t i)
{
    int torn, reused = trust_one(job, job->v[i], &torn);
    if (torn)
        settle(job, &job->v[i]);
    return reused;
}

/* Fill `p` from the cache when its key matches, which costs a stat (two
 * with a .meta); else leave it for probing (p->from_cache stays 0). */
static void reuse(struct probe_job *job, struct tenon_plugin *p)
{
    const char *name = p->path + p->name_off;
    struct tenon__cache_entry *e;
    struct stat st;
    if (fstatat(job->dirfd, name, &st, 0) != 0)
        return;
    p->dev = st.st_dev;
    p->ino = st.st_ino;
    p->size = (int64_t)st.st_size;
    p->mtime_ns = tenon__mtime_ns(&st);
    p->ctime_ns = tenon__ctime_ns(&st);
    if (p->meta_listed)
        key_meta(job->dirfd, name, p);
    /* Distinct files have distinct entries: no two threads touch one. */
    if ((e = tenon__cache_find(job->cache, p)) && tenon__cache_fill(p, e) == 0)
        e->used = 1;
}

static void *probe_worker(void *arg)
{
    struct probe_job *job = arg;
    size_t i;
    while ((i = atomic_fetch_add(&job->next, 1)) < job->n) {
        struct tenon_plugin *p = job->v[i];
        if (job->keyring)
            atomic_fetch_add(&job->verdicts_reused,
                             (size_t)trust_entry(job, i));
        else if (job->cache)
            reuse(job, p);
        else
            tenon__plugin_probe(p, job->dirfd, p->path + p->name_off);
    }
    return NULL;
}

static void run_job(const tenon_t *t, struct probe_job *job, size_t min)
{
    pthread_t th[PROBE_THREADS_MAX - 1];
    long cpus =
        t->scan_threads ? (long)t->scan_threads : sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = job->n < min ? 1 : (size_t)(cpus > 1 ? cpus : 1);
    size_t started = 0;
    if (want > PROBE_THREADS_MAX)
        want = PROBE_THREADS_MAX;
    for (; started + 1 < want; started++)
        if (pthread_create(&th[started], NULL, probe_worker, job) != 0)
            break; /* fewer threads is fine: this one does the rest */
    probe_worker(job);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

static void probe_all(const tenon_t *t, struct tenon_plugin **v, size_t n,
                      int dirfd)
{
    struct probe_job job = {v, n, dirfd, 0, NULL, NULL, 0, 0, 0};
    run_job(t, &job, PARALLEL_MIN);
}

/* Fill what the cache knows, then probe the rest. */
static int probe_cached(const tenon_t *t, struct tenon__cache *c,
                        struct tenon_plugin **v, size_t n, int dirfd)
{
    struct probe_job job = {v, n, dirfd, 0, c, NULL, 0, 0, 0};
    struct tenon_plugin **miss;
    size_t nmiss = 0;
    if (!(miss = malloc((n ? n : 1) * sizeof *miss)))
        return TENON_ENOMEM;
    run_job(t, &job, CACHE_PARALLEL_MIN);
    for (size_t i = 0; i < n; i++)
        if (!v[i]->from_cache)
            miss[nmiss++] = v[i];
    c->hits += n - nmiss;
    c->probed += nmiss;
    probe_all(t, miss, nmiss, dirfd);
    free(miss);
    return 0;
}

/* List directory `di` of the search path (from the cache when its listing
 * there is still valid, else with readdir), make an entry per *.so file,
 * and fill each from the cache or by probing. */
static int scan_dir(tenon_t *t, size_t di, struct list *out,
                    struct tenon__cache *cache, struct tenon__dir_stamp *stamp)
{
    const char *dir = t->paths[di];
    size_t dlen = strlen(dir), first = out->n;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
    const struct tenon__cache_dir *cd = NULL;
    struct names nm = {0};
    DIR *d = NULL;
    struct stat st;
    int rc;

    if (fd < 0 || fstat(fd, &st) != 0) {
        tenon__log(t, TENON_LOG_DEBUG, "tenon", "skipping %s: %s", dir,
                   strerror(errno));
        if (fd >= 0)
            close(fd);
        return 0;
    }
    /* The stamp is taken before listing: a change made while listing moves
     * the directory's mtime past it, so the next scan lists again. */
    if (cache->enabled) {
        stamp->listed = 1;
        stamp->dev = (uint64_t)st.st_dev;
        stamp->ino = (uint64_t)st.st_ino;
        stamp->mtime_ns = tenon__mtime_ns(&st);
        stamp->ctime_ns = tenon__ctime_ns(&st);
        cd = tenon__cache_dir_find(cache, dir, &st, &stamp->stale);
        stamp->from_cache = cd != NULL;
    }
    if (cd) {
        rc = cached_names(cd, &nm);
    } else if (!(d = fdopendir(fd))) {
        tenon__log(t, TENON_LOG_DEBUG, "tenon", "skipping %s: %s", dir,
                   strerror(errno));
        stamp->listed = 0;
        close(fd);
        return 0;
    } else if ((rc = read_names(d, &nm, cache->enabled)) == 0 && nm.partial) {
        /* What was read is scanned, but is not a listing to cache. */
        tenon__log(t, TENON_LOG_WARN, "tenon", "listing %s failed part way: %s",
                   dir, strerror(nm.partial));
        stamp->listed = 0;
    }
    if (rc == 0)
        rc = tenon__grow(&out->v, &out->cap, out->n + nm.n, sizeof *out->v);
    for (size_t i = 0; i < nm.n && rc == 0; i++) {
        const char *name = nm.sorted[i];
        size_t nlen = strlen(name);
        struct tenon_plugin *p = calloc(1, sizeof *p + dlen + 1 + nlen + 1);
        if (!p) {
            rc = TENON_ENOMEM;
            break;
        }
        memcpy(p->path, dir, dlen);
        p->path[dlen] = '/';
        memcpy(p->path + dlen + 1, name, nlen + 1);
        p->name_off = dlen + 1;
        p->dir_index = di;
        p->status = TENON_UNAVAILABLE;
        p->meta_size = -1;
        p->meta_listed = nm.has_meta && nm.has_meta[i];
        out->v[out->n++] = p;
    }
    if (rc == 0 && cache->enabled)
        rc = probe_cached(t, cache, out->v + first, out->n - first, fd);
    else if (rc == 0)
        probe_all(t, out->v + first, out->n - first, fd);
    /* A file removed between the listing and its probe is not there: the
     * scan lists what a listing made after the removal would. */
    if (rc == 0) {
        size_t kept = first;
        for (size_t i = first; i < out->n; i++)
            if (out->v[i]->vanished)
                tenon__plugin_free(out->v[i]);
            else
                out->v[kept++] = out->v[i];
        out->n = kept;
    }
    for (size_t i = first; rc == 0 && i < out->n; i++)
        if (out->v[i]->status != TENON_AVAILABLE)
            tenon__log(t, TENON_LOG_DEBUG, "tenon", "%s: unavailable: %s",
                       out->v[i]->path, out->v[i]->reason);
    if (d)
        closedir(d);
    else
        close(fd);
    free_names(&nm);
    return rc;
}

/* Order available entries by name, version, then scan position. */
static int cmp_identity(const void *a, const void *b)
{
    const struct tenon_plugin *p = *(struct tenon_plugin *const *)a;
    const struct tenon_plugin *q = *(struct tenon_plugin *const *)b;
    int c = strcmp(p->info.name, q->info.name);
    if (!c)
        c = strcmp(p->info.version, q->info.version);
    if (!c)
        c = (p->order > q->order) - (p->order < q->order);
    return c;
}

/* The created_at of p's .meta when a signature that a key of kr verifies
 * covers it (from the second plugin statement on) and the .meta describes
 * p's bytes; else "". Read and verified again here, with the digest the
 * trust check found: whoever can write the directory could have replaced
 * the .meta since. */
static void signed_created_at(const struct tenon__keyring *kr,
                              const struct tenon_plugin *p,
                              char out[TENON__TIME_LEN + 1])
{
    struct tenon__trust_result res;
    out[0] = '\0';
    if (!kr || !p->have_digest)
        return;
    if (tenon__trust_check_file(kr, p->path, p->info.name, p->info.version, -1,
                                0, p->digest, &res) == 0)
        memcpy(out, res.signed_at, TENON__TIME_LEN + 1);
    tenon__trust_result_free(&res);
}

/* One group of available entries with the same name and version, in scan
 * order: the one whose created_at a verified signature covers and is the
 * newest stays (RFC 3339 UTC times compare as strings); between equal or
 * unsigned ones, the earliest in the search path. The others are shadowed
 * by it. Without a trust policy (kr NULL) nothing is verified, so the
 * earliest stays. */
static void shadow_group(const struct tenon__keyring *kr,
                         struct tenon_plugin **g, size_t n)
{
    char reason[TENON__REASON_MAX + 96], (*at)[TENON__TIME_LEN + 1];
    size_t best = 0;
    if (!(at = malloc(n * sizeof *at)))
        return; /* keep them all: a later lookup picks the earliest */
    for (size_t i = 0; i < n; i++) {
        signed_created_at(kr, g[i], at[i]);
        if (strcmp(at[i], at[best]) > 0)
            best = i;
    }
    for (size_t i = 0; i < n; i++) {
        if (i == best)
            continue;
        if (strcmp(at[best], at[i]) > 0)
            snprintf(reason, sizeof reason,
                     "shadowed by %s (same name and version, with the newest "
                     "signed created_at, %s)",
                     g[best]->path, at[best]);
        else
            snprintf(reason, sizeof reason,
                     "shadowed by %s (same name and version earlier in the "
                     "search path)",
                     g[best]->path);
        tenon__plugin_set_reason(g[i], TENON_SHADOWED, reason);
    }
    free(at);
}

/* Same name and version more than once: one stays (shadow_group), the
 * others are shadowed. Sorting keeps this O(n log n) for large plugin
 * directories, and .meta files are read only for such duplicates. */
static int mark_shadowed(struct list *l, const struct tenon__keyring *kr)
{
    struct tenon_plugin **v = malloc((l->n ? l->n : 1) * sizeof *v);
    size_t n = 0;
    if (!v)
        return TENON_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        l->v[i]->order = i;
        if (l->v[i]->status == TENON_AVAILABLE)
            v[n++] = l->v[i];
    }
    qsort(v, n, sizeof *v, cmp_identity);
    for (size_t first = 0, i = 1; first < n; i++) {
        if (i < n && strcmp(v[i]->info.name, v[first]->info.name) == 0 &&
            strcmp(v[i]->info.version, v[first]->info.version) == 0)
            continue;
        if (i - first > 1)
            shadow_group(kr, v + first, i - first);
        first = i;
    }
    free(v);
    return 0;
}

/* Hashing is CPU work: worth a second thread from a handful of files. */
#define TRUST_PARALLEL_MIN 8

/* Under require, a plugin whose digest or signature does not check out is
 * unavailable with that reason; under warn it stays, with a warning. Either
 * names what went wrong with the trust store, which may be why. */
static void apply_trust(tenon_t *t, struct list *l, int policy,
                        const struct tenon__keyring *kr)
{
    const char *store = tenon__keyring_error(kr);
    for (size_t i = 0; i < l->n; i++) {
        struct tenon_plugin *p = l->v[i];
        const char *why = p->trust_reason ? p->trust_reason : "out of memory";
        char *reason;
        if (p->status != TENON_AVAILABLE || p->trust_rc == 0)
            continue;
        if (policy == TENON_TRUST_WARN) {
            tenon__log(t, TENON_LOG_WARN, "tenon",
                       "%s: %s%s (trust policy warn: still available)", p->path,
                       why, store);
            continue;
        }
        reason = tenon__asprintf("refused by the require trust policy: %s%s",
                                 why, store);
        tenon__plugin_set_reason(p, TENON_UNAVAILABLE,
                                 reason ? reason
                                        : "refused by the require trust "
                                          "policy (out of memory)");
        free(reason);
    }
}

/* Check every available entry's digest and signature, in several threads
 * for more than a few; entries whose files were removed while they were
 * being checked (settle) leave the list. */
static void check_trust(tenon_t *t, struct list *l,
                        const struct tenon__keyring *kr)
{
    struct probe_job job = {l->v, l->n, AT_FDCWD,        0, NULL, kr,
                            0,    0,    t->max_file_size};
    size_t kept = 0;
    run_job(t, &job, TRUST_PARALLEL_MIN);
    tenon__log(t, TENON_LOG_DEBUG, "tenon",
               "trust: %zu good verdicts reused from the scan cache",
               (size_t)atomic_load(&job.verdicts_reused));
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i])
            l->v[kept++] = l->v[i];
    l->n = kept;
}

int tenon_scan(tenon_t *t)
{
    struct tenon__cache cache;
    struct list l = {0};
    const struct tenon__keyring *kr;
    struct tenon__dir_stamp *stamps;
    int policy = tenon__trust_policy(t, &kr), rc = 0;

    if (!(stamps = calloc(t->npaths ? t->npaths : 1, sizeof *stamps))) {
        tenon__trust_release(t, kr);
        return tenon__fail(TENON_ENOMEM, "out of memory");
    }
    tenon__cache_load(t, &cache);
    for (size_t di = 0; di < t->npaths && rc == 0; di++)
        rc = scan_dir(t, di, &l, &cache, &stamps[di]);
    if (rc == 0 && policy != TENON_TRUST_OFF)
        check_trust(t, &l, kr);
    /* Before the policy is applied and shadowing: the cache keeps what
     * probing found, the digests and good verdicts with their keyring,
     * nothing that depends on the policy or on other files. */
    if (rc == 0)
        tenon__cache_save(t, &cache, l.v, l.n, stamps);
    tenon__cache_free(&cache);
    free(stamps);
    if (rc == 0 && policy != TENON_TRUST_OFF)
        apply_trust(t, &l, policy, kr);
    if (rc == 0)
        rc = mark_shadowed(&l, policy == TENON_TRUST_OFF ? NULL : kr);
    tenon__trust_release(t, kr);
    if (rc) {
        for (size_t i = 0; i < l.n; i++)
            tenon__plugin_free(l.v[i]);
        free(l.v);
        return tenon__fail(rc, "out of memory scanning the search path");
    }

    pthread_mutex_lock(&t->lock);
    /* Entries of the previous scan may be in use by instances and callers:
     * retire them, free them at tenon_close(). */
    rc = tenon__grow(&t->retired, &t->cap_retired, t->nretired + t->nplugins,
                     sizeof *t->retired);
    if (rc == 0) {
        for (size_t i = 0; i < t->nplugins; i++)
            t->retired[t->nretired++] = t->plugins[i];
        free(t->plugins);
        t->plugins = l.v;
        t->nplugins = l.n;
        t->scanned = 1;
    }
    pthread_mutex_unlock(&t->lock);
    if (rc) {
        for (size_t i = 0; i < l.n; i++)
            tenon__plugin_free(l.v[i]);
        free(l.v);
        return tenon__fail(rc, "out of memory scanning the search path");
    }
    return 0;
}

int tenon__ensure_scanned(tenon_t *t)
{
    pthread_mutex_lock(&t->lock);
    int scanned = t->scanned;
    pthread_mutex_unlock(&t->lock);
    return scanned ? 0 : tenon_scan(t);
}

size_t tenon_plugin_count(tenon_t *t)
{
    if (tenon__ensure_scanned(t))
        return 0;
    pthread_mutex_lock(&t->lock);
    size_t n = t->nplugins;
    pthread_mutex_unlock(&t->lock);
    return n;
}

const tenon_plugin_t *tenon_plugin_at(tenon_t *t, size_t i)
{
    const tenon_plugin_t *p = NULL;
    if (tenon__ensure_scanned(t))
        return NULL;
    pthread_mutex_lock(&t->lock);
    if (i < t->nplugins)
        p = t->plugins[i];
    pthread_mutex_unlock(&t->lock);
    return p;
}

/* ---- lookup -------------------------------------------------------------- */

int tenon__spec_split(const char *spec, int with_args, char **buf,
                      const char **name, const char **version,
                      const char **args)
{
    const char *form = with_args ? "name[@version][:args]" : "name[@version]";
    char *b = tenon__strdup(spec ? spec : "");
    char *colon, *at;
    if (!b)
        return tenon__fail(TENON_ENOMEM, "out of memory");
    if (!with_args && strchr(b, ':')) {
        free(b);
        *buf = NULL;
        return tenon__fail(TENON_EINVAL,
                           "'%s' carries arguments; expected name[@version]",
                           spec);
    }
    *name = b;
    *version = NULL;
    *args = NULL;
    if ((colon = strchr(b, ':'))) {
        *colon = '\0';
        *args = colon + 1;
    }
    if ((at = strchr(b, '@'))) {
        *at = '\0';
        *version = at + 1;
    }
    *buf = b;
    struct tenon__semver v;
    if (!tenon__valid_name(b, strlen(b))) {
        free(b);
        *buf = NULL;
        return tenon__fail(TENON_EINVAL,
                           "'%s' is not a plugin name; expected %s with a "
                           "name of [a-z0-9][a-z0-9_-]*",
                           spec ? spec : "", form);
    }
    if (*version && tenon__semver_parse(*version, &v) != 0) {
        int rc = tenon__fail(TENON_EINVAL,
                             "'%s' in '%s' is not a version; expected "
                             "name@MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]",
                             *version, spec);
        free(b);
        *buf = NULL;
        return rc;
    }
    return 0;
}

/* Caller holds t->lock. */
static int find_locked(tenon_t *t, const char *name, const char *version,
                       const tenon_plugin_t **out)
{
    const struct tenon_plugin *best = NULL, *unavail = NULL;
    char versions[256] = "";
    size_t used = 0;

    for (size_t i = 0; i < t->nplugins; i++) {
        const struct tenon_plugin *p = t->plugins[i];
        if (!p->info.name || strcmp(p->info.name, name) != 0)
            continue;
        if (p->status != TENON_AVAILABLE) {
            if (!unavail &&
                (!version ||
                 (p->info.version && strcmp(p->info.version, version) == 0)))
                unavail = p;
            continue;
        }
        if (version && strcmp(p->info.version, version) != 0) {
            if (used < sizeof versions)
                used +=
                    (size_t)snprintf(versions + used, sizeof versions - used,
                                     "%s%s", used ? ", " : "", p->info.version);
            continue;
        }
        if (!best || tenon__semver_cmp(&p->info.semver, &best->info.semver) > 0)
            best = p;
    }
    if (best) {
        *out = best;
        return 0;
    }
    if (unavail)
        return tenon__fail(TENON_EUNAVAIL,
                           "plugin '%s' (%s) is unavailable: %s", name,
                           unavail->path, unavail->reason);
    if (version && used)
        return tenon__fail(TENON_ENOENT,
                           "plugin '%s' has no version %s; available: %s", name,
                           version, versions);
    return tenon__fail(TENON_ENOENT,
                       "no plugin named '%s' in the search path (%zu "
                       "director%s; `tenon list --all` shows what was found)",
                       name, t->npaths, t->npaths == 1 ? "y" : "ies");
}

int tenon_find(tenon_t *t, const char *spec, const tenon_plugin_t **out)
{
    char *buf;
    const char *name, *version, *args;
    int rc;

    *out = NULL;
    if ((rc = tenon__ensure_scanned(t)) ||
        (rc = tenon__spec_split(spec, 0, &buf, &name, &version, &args)))
        return rc;
    pthread_mutex_lock(&t->lock);
    rc = find_locked(t, name, version, out);
    pthread_mutex_unlock(&t->lock);
    free(buf);
    return rc;
}

int tenon__find_spec(tenon_t *t, const char *name, const char *version,
                     const tenon_plugin_t **out)
{
    int rc = tenon__ensure_scanned(t);
    if (rc)
        return rc;
    pthread_mutex_lock(&t->lock);
    /* Taken under the lock: tenon_release_old_scans() cannot free it
     * between the lookup and the reference. */
    if ((rc = find_locked(t, name, version, out)) == 0)
        atomic_fetch_add(&((struct tenon_plugin *)*out)->users, 1);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void tenon__plugin_unuse(const tenon_plugin_t *p)
{
    atomic_fetch_sub(&((struct tenon_plugin *)p)->users, 1);
}

size_t tenon_release_old_scans(tenon_t *t)
{
    size_t kept = 0, freed = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nretired; i++) {
        struct tenon_plugin *p = t->retired[i];
        if (atomic_load(&p->users)) {
            t->retired[kept++] = p;
            continue;
        }
        tenon__plugin_free(p);
        freed++;
    }
    t->nretired = kept;
    if (!kept) { /* give the array back too: the point is bounded memory */
        free(t->retired);
        t->retired = NULL;
        t->cap_retired = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return freed;
}

/* ---- accessors ----------------------------------------------------------- */

const char *tenon_plugin_path(const tenon_plugin_t *p) { return p->path; }
const char *tenon_plugin_name(const tenon_plugin_t *p) { return p->info.name; }
const char *tenon_plugin_version(const tenon_plugin_t *p)
{
    return p->info.version;
}
int tenon_plugin_status(const tenon_plugin_t *p) { return p->status; }
const char *tenon_plugin_reason(const tenon_plugin_t *p)
{
    return p->status == TENON_AVAILABLE ? NULL : p->reason;
}
int tenon_plugin_abi(const tenon_plugin_t *p) { return p->info.abi; }

const char *tenon_plugin_status_name(int status)
{
    switch (status) {
    case TENON_AVAILABLE: return "available";
    case TENON_SHADOWED: return "shadowed";
    default: return "unavailable";
    }
}

const char *tenon_plugin_get(const tenon_plugin_t *p, const char *key)
{
    return tenon__info_get(&p->info, key);
}

size_t tenon_plugin_info_count(const tenon_plugin_t *p) { return p->info.nkv; }

int tenon_plugin_info_at(const tenon_plugin_t *p, size_t i, const char **key,
                         const char **value)
{
    if (i >= p->info.nkv)
        return TENON_ERANGE;
    *key = p->info.kv[i].key;
    *value = p->info.kv[i].value;
    return 0;
}

size_t tenon_plugin_provides_count(const tenon_plugin_t *p)
{
    return p->info.nprovides;
}

const char *tenon_plugin_provides(const tenon_plugin_t *p, size_t i)
{
    return i < p->info.nprovides ? p->info.provides[i] : NULL;
}

size_t tenon_plugin_arg_count(const tenon_plugin_t *p) { return p->info.nargs; }

const struct tenon_arg_decl *tenon_plugin_arg(const tenon_plugin_t *p, size_t i)
{
    return i < p->info.nargs ? &p->info.args[i] : NULL;
}

size_t tenon_plugin_needed_count(const tenon_plugin_t *p)
{
    return p->dynv.nneeded;
}

const char *tenon_plugin_needed(const tenon_plugin_t *p, size_t i)
{
    return i < p->dynv.nneeded ? p->dynv.needed[i] : NULL;
}

const char *tenon_plugin_runpath(const tenon_plugin_t *p)
{
    return p->dynv.runpath;
}

const char *tenon_plugin_rpath(const tenon_plugin_t *p)
{
    return p->dynv.rpath;
}
