/*
 * Installing and removing plugin files.
 *
 * A file is checked with the inventory's own rules before it is copied, and
 * is copied so that no scan ever sees half of it: the copy is written under a
 * name the scan ignores (no ".so" suffix), synced, and renamed into place;
 * the directory is synced after the rename so the new name survives a crash.
 * Its .meta (digest of the copy, created_at, static info, and the source's
 * signature when the source's .meta describes these very bytes) is written
 * first, the same way, so a scan never finds the plugin without it.
 *
 * A file and its .meta are two renames, so they are replaced as a pair under
 * the directory's install lock (TENON__INSTALL_LOCK, flock LOCK_EX): two
 * installs of one name and version cannot leave one's file beside the
 * other's .meta, and a remove deletes both before an install may begin. A
 * scan takes no lock; only when it finds a pair that does not match does it
 * wait for the lock, shared, and look again (tenon__install_settle).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

unsigned tenon__install_wait_ms = 30000;
void (*tenon__install_hook)(int stage, const char *path);

/* ---- the install lock ---------------------------------------------------- */

/* The longest pause between two tries: short next to an install's own
 * fsyncs, so a waiter sees the lock free soon after it is. */
#define NAP_MAX_NS 10000000L

static long ms_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000L +
           (now.tv_nsec - start->tv_nsec) / 1000000L;
}

/* "2 s" or "50 ms", for messages about a wait. */
static const char *wait_text(unsigned ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%u s", ms / 1000);
    else
        snprintf(buf, len, "%u ms", ms);
    return buf;
}

/* flock(fd, op), trying for at most `wait_ms`: a blocking flock() could
 * wait forever for a holder that never lets go. 0, TENON_EBUSY when still
 * held, TENON_EIO (errno set) when flock fails otherwise. */
static int flock_within(int fd, int op, unsigned wait_ms, const char *path)
{
    struct timespec start, nap = {0, 1000000L};
    int told = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (flock(fd, op | LOCK_NB) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return TENON_EIO;
        if (!told && tenon__install_hook)
            tenon__install_hook(TENON__HOOK_LOCK_BUSY, path);
        told = 1;
        long left = (long)wait_ms - ms_since(&start);
        if (left <= 0)
            return TENON_EBUSY;
        if (nap.tv_nsec / 1000000L > left)
            nap.tv_nsec = left * 1000000L;
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < NAP_MAX_NS / 2)
            nap.tv_nsec *= 2;
    }
}

/* Open the lock file without following a symbolic link or blocking on a
 * FIFO. Read-only is enough for flock(), and works for a lock file that
 * belongs to another user. With `create`, one is made when missing, 0644
 * whatever the umask: readers of other users must be able to wait on it. */
static int open_lock(const char *path, int create)
{
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    for (int tries = 0;; tries++) {
        int fd;
        if (create && (fd = open(path, flags | O_CREAT | O_EXCL, 0644)) >= 0) {
            (void)fchmod(fd, 0644);
            return fd;
        }
        if (create && errno != EEXIST)
            return -1;
        fd = open(path, flags);
        /* ENOENT after EEXIST: removed in between; create it again */
        if (fd >= 0 || !create || errno != ENOENT || tries == 8)
            return fd;
    }
}

/* Lock the install lock of the directory (the first `dlen` bytes of `dir`)
 * with `op`, creating the lock file when `create`. Returns the descriptor,
 * or TENON_ENOENT (no lock file, or no directory), TENON_EBUSY (still
 * held after wait_ms; no reason written), TENON_EIO or TENON_ENOMEM with
 * the reason naming the lock file. */
static int lock_dir(const char *dir, size_t dlen, int op, int create,
                    unsigned wait_ms, char *why, size_t len)
{
    char *path =
        tenon__asprintf("%.*s/%s", (int)dlen, dir, TENON__INSTALL_LOCK);
    struct stat st, now;
    int fd = -1, rc = 0;
    if (!path)
        return tenon__reason(why, len, TENON_ENOMEM, "out of memory");
    for (int tries = 0; rc == 0; tries++) {
        if ((fd = open_lock(path, create)) < 0) {
            rc = tenon__reason(why, len,
                               errno == ENOENT ? TENON_ENOENT : TENON_EIO,
                               "cannot open the install lock %s: %s", path,
                               errno == ELOOP ? "is a symbolic link; "
                                                "expected a regular file"
                                              : strerror(errno));
        } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            rc = tenon__reason(why, len, TENON_EIO,
                               "the install lock %s is not a regular file",
                               path);
        } else if ((rc = flock_within(fd, op, wait_ms, path)) == TENON_EIO) {
            rc = tenon__reason(why, len, TENON_EIO, "cannot lock %s: %s", path,
                               strerror(errno));
        } else if (rc == 0) {
            /* A lock on a file deleted or replaced since it was opened
             * keeps nobody out: take the one that is there now. */
            if (lstat(path, &now) == 0 && now.st_dev == st.st_dev &&
                now.st_ino == st.st_ino)
                break;
            if (tries == 8)
                rc = tenon__reason(why, len, TENON_EIO,
                                   "the install lock %s keeps being "
                                   "replaced",
                                   path);
            close(fd);
            fd = -1;
        }
    }
    if (rc && fd >= 0)
        close(fd);
    free(path);
    return rc ? rc : fd;
}

int tenon__install_settle(const char *file, unsigned wait_ms, char *reason,
                          size_t len)
{
    const char *slash = strrchr(file, '/');
    char w[32];
    /* "/x.so" locks "/.tenon-install.lock", "x.so" "./.tenon-install.lock" */
    int fd = lock_dir(slash ? file : ".", slash ? (size_t)(slash - file) : 1,
                      LOCK_SH, 0, wait_ms, reason, len);
    if (fd != TENON_EBUSY)
        return fd;
    if (wait_ms == 0)
        return tenon__reason(reason, len, TENON_EBUSY,
                             "an install appeared to be in progress: "
                             "%s is locked",
                             TENON__INSTALL_LOCK);
    return tenon__reason(reason, len, TENON_EBUSY,
                         "an install appeared to be in progress: %s stayed "
                         "locked for %s",
                         TENON__INSTALL_LOCK, wait_text(wait_ms, w, sizeof w));
}

/* The install lock of `dir`, exclusively, for tenon_install and
 * tenon_remove: into *fd, else the error is set. */
static int lock_for_writing(const char *dir, int *fd)
{
    char why[TENON__REASON_MAX + 64], w[32];
    int rc = lock_dir(dir, strlen(dir), LOCK_EX, 1, tenon__install_wait_ms, why,
                      sizeof why);
    if (rc >= 0) {
        *fd = rc;
        return 0;
    }
    if (rc == TENON_EBUSY)
        return tenon__fail(rc,
                           "another install or remove holds %s/%s; gave up "
                           "after %s",
                           dir, TENON__INSTALL_LOCK,
                           wait_text(tenon__install_wait_ms, w, sizeof w));
    return tenon__fail(rc, "%s", why);
}

/* ---- installing ---------------------------------------------------------- */

/* The user plugin directory: ~/.local/lib/tenon. */
static char *default_dir(void)
{
    const char *home = getenv("HOME");
    if (!home || !*home) {
        tenon__fail(TENON_EINVAL, "HOME is not set; give an install "
                                  "directory");
        return NULL;
    }
    char *d = tenon__asprintf("%s/.local/lib/tenon", home);
    if (!d)
        tenon__fail(TENON_ENOMEM, "out of memory");
    return d;
}

/* mkdir -p, 0755 for plugin directories. */
static int make_dirs(const char *dir)
{
    char *copy = tenon__strdup(dir);
    int rc = 0;
    if (!copy)
        return tenon__fail(TENON_ENOMEM, "out of memory");
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            rc = tenon__fail(TENON_EIO, "cannot create directory %s: %s", copy,
                             strerror(errno));
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    free(copy);
    return rc;
}

/* A host would refuse it (max_file_size): it is not copied either. */
static int too_big(const char *src)
{
    return tenon__fail(TENON_EUNAVAIL,
                       "%s is larger than %llu bytes, the most a host "
                       "hashes and loads by default (max_file_size); not "
                       "installed",
                       src, (unsigned long long)TENON_MAX_FILE_SIZE_DEFAULT);
}

/* Copy all of `in` to `out` (both open), then fsync `out`. */
static int copy_fd(int in, int out, const char *src, const char *dst)
{
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(in, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tenon__fail(TENON_EIO, "reading %s: %s", src,
                               strerror(errno));
        if (n == 0)
            break;
        if ((uint64_t)off + (uint64_t)n > TENON_MAX_FILE_SIZE_DEFAULT)
            return too_big(src);
        for (ssize_t w = 0; w < n;) {
            ssize_t m = write(out, buf + w, (size_t)(n - w));
            if (m < 0 && errno == EINTR)
                continue;
            if (m < 0)
                return tenon__fail(TENON_EIO, "writing %s: %s", dst,
                                   strerror(errno));
            w += m;
        }
        off += n;
    }
    if (fsync(out) != 0)
        return tenon__fail(TENON_EIO, "syncing %s: %s", dst, strerror(errno));
    return 0;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Probe `path` like the inventory does; the caller frees *out. */
static int check_plugin(const char *path, struct tenon_plugin **out)
{
    size_t len = strlen(path);
    struct tenon_plugin *p = calloc(1, sizeof *p + len + 1);
    if (!p)
        return tenon__fail(TENON_ENOMEM, "out of memory");
    memcpy(p->path, path, len + 1);
    tenon__plugin_probe(p, AT_FDCWD, path);
    if (p->status != TENON_AVAILABLE) {
        int rc = tenon__fail(TENON_EUNAVAIL,
                             "%s is not an installable plugin: "
                             "%s",
                             path, p->reason);
        tenon__plugin_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* The .meta for the copy open as `fd`, in *m (freed by the caller either
 * way): its digest, and the signature of src.meta when that .meta's digest
 * is the copy's, with what that signature covers besides (created_at and
 * the bundled libraries, from the second statement on), which must stay
 * as signed. Otherwise created_at is the time of the install. */
static int build_meta(const struct tenon_plugin *p, const char *src, int fd,
                      struct tenon__meta *m)
{
    struct tenon__meta from;
    char why[TENON__REASON_MAX], *src_meta;
    int rc;

    memset(m, 0, sizeof *m);
    if ((rc = tenon__digest_fd(fd, TENON_MAX_FILE_SIZE_DEFAULT, m->digest)))
        return tenon__fail(rc, "cannot hash the copy of %s", src);
    if (!(src_meta = tenon__asprintf("%s.meta", src)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    rc = tenon__meta_read(src_meta, &from, why, sizeof why);
    if (rc == 0) {
        if (memcmp(from.digest, m->digest, sizeof m->digest) != 0)
            rc = tenon__fail(TENON_EPERM,
                             "%s does not describe %s: its digest is not the "
                             "file's (the file changed after signing?)",
                             src_meta, src);
        else if (from.is_signed) {
            m->is_signed = 1;
            memcpy(m->signature, from.signature, sizeof m->signature);
            memcpy(m->key_id, from.key_id, sizeof m->key_id);
            memcpy(m->statement, from.statement, sizeof m->statement);
            if (strcmp(from.statement, TENON__STMT_PLUGIN_V1) != 0) {
                memcpy(m->created_at, from.created_at, sizeof m->created_at);
                m->deps = from.deps;
                m->ndeps = from.ndeps;
                from.deps = NULL;
            }
        }
        tenon__meta_free(&from);
    } else if (rc == TENON_ENOENT) {
        rc = 0; /* unsigned: the new .meta has the digest only */
    } else {
        rc = tenon__fail(rc, "%s: %s", src_meta, why);
    }
    free(src_meta);
    if (rc)
        return rc;
    if (!m->created_at[0])
        tenon__rfc3339(time(NULL), m->created_at);
    if (!(m->info = tenon__meta_info(&p->info)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    return 0;
}

/* Under the install lock: `m` as dst.meta, then the copy `tmp` (open as
 * `out`) as dst. The .meta first, because a scan must not find the plugin
 * without it; the one it replaces is kept (as `old_meta`) until the copy
 * is in place, and put back if the copy cannot be. */
static int publish(const struct tenon__meta *m, const char *tmp, int out,
                   const char *dst, const char *meta, const char *old_meta)
{
    char why[TENON__REASON_MAX];
    int kept_old = link(meta, old_meta) == 0, rc;
    if ((rc = tenon__meta_write(meta, m, why, sizeof why))) {
        rc = tenon__fail(rc, "%s", why);
    } else {
        if (tenon__install_hook)
            tenon__install_hook(TENON__HOOK_META_PUBLISHED, dst);
        if (fchmod(out, 0755) != 0 || rename(tmp, dst) != 0) {
            rc = tenon__fail(TENON_EIO, "cannot move %s into place as %s: %s",
                             tmp, dst, strerror(errno));
            if (kept_old)
                rename(old_meta, meta);
            else
                unlink(meta);
            kept_old = 0;
        }
    }
    if (kept_old)
        unlink(old_meta);
    return rc;
}

int tenon_install(const char *file, const char *dir, char **installed)
{
    struct tenon_plugin *p = NULL, *copy = NULL;
    struct tenon__meta m;
    char *owned_dir = NULL, *dst = NULL, *tmp = NULL, *meta = NULL,
         *old_meta = NULL;
    int in = -1, out = -1, lock = -1, rc;

    memset(&m, 0, sizeof m);
    if (installed)
        *installed = NULL;
    if ((rc = check_plugin(file, &p)))
        return rc;
    if ((uint64_t)p->size > TENON_MAX_FILE_SIZE_DEFAULT) {
        rc = too_big(file);
        goto out;
    }
    if (!dir && !(dir = owned_dir = default_dir())) {
        rc = TENON_EINVAL;
        goto out;
    }
    if ((rc = make_dirs(dir)))
        goto out;
    /* One file per name and version, so versions install side by side. */
    dst = tenon__asprintf("%s/%s-%s.so", dir, p->info.name, p->info.version);
    tmp = tenon__asprintf("%s/.tenon-install-XXXXXX", dir);
    if (!dst || !tmp) {
        rc = tenon__fail(TENON_ENOMEM, "out of memory");
        goto out;
    }
    in = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (in < 0) {
        rc =
            tenon__fail(TENON_EIO, "cannot open %s: %s", file, strerror(errno));
        goto out;
    }
    out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0) {
        rc = tenon__fail(TENON_EIO, "cannot create a file in %s: %s", dir,
                         strerror(errno));
        goto out;
    }
    if ((rc = copy_fd(in, out, file, tmp)))
        goto out;
    /* What is installed is the copy: check it again, in case the source
     * changed after the first check. */
    if ((rc = check_plugin(tmp, &copy)))
        goto out;
    if (strcmp(copy->info.name, p->info.name) != 0 ||
        strcmp(copy->info.version, p->info.version) != 0 ||
        copy->info.size != p->info.size ||
        memcmp(copy->info.raw, p->info.raw, p->info.size) != 0) {
        rc = tenon__fail(TENON_EINVAL,
                         "%s changed while it was being "
                         "installed; try again",
                         file);
        goto out;
    }
    /* Hashing and reading the source's .meta happen before the lock, so
     * it is held only for the renames. */
    if ((rc = build_meta(p, file, out, &m)))
        goto out;
    meta = tenon__asprintf("%s.meta", dst);
    old_meta = tenon__asprintf("%s.meta-old", tmp);
    if (!meta || !old_meta) {
        rc = tenon__fail(TENON_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = lock_for_writing(dir, &lock)) ||
        (rc = publish(&m, tmp, out, dst, meta, old_meta)))
        goto out;
    sync_dir(dir);
    if (installed) {
        *installed = dst;
        dst = NULL;
    }
out:
    if (lock >= 0)
        close(lock);
    if (out >= 0) {
        close(out);
        if (rc)
            unlink(tmp);
    }
    if (in >= 0)
        close(in);
    tenon__meta_free(&m);
    tenon__plugin_free(p);
    tenon__plugin_free(copy);
    free(meta);
    free(old_meta);
    free(owned_dir);
    free(dst);
    free(tmp);
    return rc;
}

int tenon_remove(const char *spec, const char *dir, size_t *removed)
{
    char *owned_dir = NULL;
    const tenon_plugin_t *match;
    tenon_t *t = NULL;
    size_t n = 0;
    int rc, lock = -1;

    if (removed)
        *removed = 0;
    if (!dir && !(dir = owned_dir = default_dir()))
        return TENON_EINVAL;
    /* Under the lock from before the listing: what is found is what is
     * deleted, and no install is half done meanwhile. A directory that does
     * not exist has nothing to lock, and nothing to remove either. */
    if ((rc = lock_for_writing(dir, &lock)) == TENON_ENOENT)
        rc = 0;
    if (rc)
        goto out;
    /* A context over that one directory, so nothing elsewhere on the search
     * path is touched; the spec is checked by tenon_find's rules. No trust
     * policy: an install is removed whether it verifies or not, and its
     * scan must not wait for the lock this call holds. */
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = &dir,
                              .plugin_path_count = 1,
                              .trust = TENON_TRUST_OFF,
                              .log_level = -1 /* from TENON_LOG */};
    if ((rc = tenon_open(&t, &o)))
        goto out;
    rc = tenon_find(t, spec, &match);
    if (rc == TENON_EUNAVAIL)
        rc = 0; /* an unusable install can still be removed */
    if (rc == TENON_ENOENT)
        rc = tenon__fail(TENON_ENOENT, "no plugin '%s' installed in %s", spec,
                         dir);
    if (rc)
        goto out;
    const char *at = strchr(spec, '@');
    size_t nlen = at ? (size_t)(at - spec) : strlen(spec);
    for (size_t i = 0, count = tenon_plugin_count(t); i < count; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        if (!p->info.name || strlen(p->info.name) != nlen ||
            strncmp(p->info.name, spec, nlen) != 0 ||
            (at && (!p->info.version || strcmp(p->info.version, at + 1))))
            continue;
        /* The file before its .meta, which a scan never lists alone. */
        if (unlink(p->path) != 0) {
            rc = tenon__fail(TENON_EIO, "cannot remove %s: %s", p->path,
                             strerror(errno));
            goto out;
        }
        char *meta = tenon__asprintf("%s.meta", p->path);
        if (meta)
            unlink(meta); /* absent is fine */
        free(meta);
        n++;
    }
    if (n == 0)
        rc = tenon__fail(TENON_ENOENT, "no plugin '%s' installed in %s", spec,
                         dir);
    else
        sync_dir(dir);
    if (removed)
        *removed = n;
out:
    if (lock >= 0)
        close(lock);
    tenon_close(t);
    free(owned_dir);
    return rc;
}
