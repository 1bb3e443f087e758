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
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* Write dst.meta for the copy open as `fd`, keeping the signature of
 * src.meta when that .meta's digest is the copy's. */
static int write_meta(const struct tenon_plugin *p, const char *src,
                      const char *dst, int fd)
{
    struct tenon__meta m, from;
    char why[TENON__REASON_MAX], *src_meta, *dst_meta;
    int rc;

    memset(&m, 0, sizeof m);
    if ((rc = tenon__digest_fd(fd, m.digest)))
        return tenon__fail(rc, "cannot hash the copy of %s", src);
    src_meta = tenon__asprintf("%s.meta", src);
    dst_meta = tenon__asprintf("%s.meta", dst);
    if (!src_meta || !dst_meta) {
        rc = tenon__fail(TENON_ENOMEM, "out of memory");
        goto out;
    }
    rc = tenon__meta_read(src_meta, &from, why, sizeof why);
    if (rc == 0) {
        if (memcmp(from.digest, m.digest, sizeof m.digest) != 0)
            rc = tenon__fail(TENON_EPERM,
                             "%s does not describe %s: its digest is not the "
                             "file's (the file changed after signing?)",
                             src_meta, src);
        else if (from.is_signed) {
            m.is_signed = 1;
            memcpy(m.signature, from.signature, sizeof m.signature);
            memcpy(m.key_id, from.key_id, sizeof m.key_id);
        }
        tenon__meta_free(&from);
    } else if (rc == TENON_ENOENT) {
        rc = 0; /* unsigned: the new .meta has the digest only */
    } else {
        rc = tenon__fail(rc, "%s: %s", src_meta, why);
    }
    if (rc)
        goto out;
    tenon__rfc3339(time(NULL), m.created_at);
    if (!(m.info = tenon__meta_info(&p->info))) {
        rc = tenon__fail(TENON_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = tenon__meta_write(dst_meta, &m, why, sizeof why)))
        rc = tenon__fail(rc, "%s", why);
out:
    tenon__meta_free(&m);
    free(src_meta);
    free(dst_meta);
    return rc;
}

int tenon_install(const char *file, const char *dir, char **installed)
{
    struct tenon_plugin *p = NULL, *copy = NULL;
    char *owned_dir = NULL, *dst = NULL, *tmp = NULL, *meta = NULL,
         *old_meta = NULL;
    int in = -1, out = -1, rc, kept_old = 0, meta_written = 0;

    if (installed)
        *installed = NULL;
    if ((rc = check_plugin(file, &p)))
        return rc;
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
    meta = tenon__asprintf("%s.meta", dst);
    old_meta = tenon__asprintf("%s.meta-old", tmp);
    if (!meta || !old_meta) {
        rc = tenon__fail(TENON_ENOMEM, "out of memory");
        goto out;
    }
    /* The .meta goes in first (a scan must not find the plugin without it);
     * the one it replaces is kept until the plugin itself is in place. */
    kept_old = link(meta, old_meta) == 0;
    if ((rc = write_meta(p, file, dst, out)))
        goto out;
    meta_written = 1;
    if (fchmod(out, 0755) != 0 || rename(tmp, dst) != 0) {
        rc = tenon__fail(TENON_EIO, "cannot move %s into place as %s: %s", tmp,
                         dst, strerror(errno));
        goto out;
    }
    sync_dir(dir);
    if (installed) {
        *installed = dst;
        dst = NULL;
    }
out:
    if (rc && meta_written) { /* put the old .meta back, or remove ours */
        if (kept_old)
            rename(old_meta, meta);
        else
            unlink(meta);
    } else if (kept_old) {
        unlink(old_meta);
    }
    if (out >= 0) {
        close(out);
        if (rc)
            unlink(tmp);
    }
    if (in >= 0)
        close(in);
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
    int rc;

    if (removed)
        *removed = 0;
    if (!dir && !(dir = owned_dir = default_dir()))
        return TENON_EINVAL;
    /* A context over that one directory, so nothing elsewhere on the search
     * path is touched; the spec is checked by tenon_find's rules. */
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = &dir,
                              .plugin_path_count = 1,
                              .no_cache = 1};
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
    tenon_close(t);
    free(owned_dir);
    return rc;
}
