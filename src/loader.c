/*
 * Loading plugin libraries: dlopen on first use, one refcounted library per
 * distinct content, closed when its last instance is gone.
 *
 * What runs is always a sealed copy: the file is opened once, checked to be
 * the inode the scan saw, and its bytes are copied into a memory file that
 * is then sealed against every write, shrink and grow; the digest, the
 * static info, the trust check and the dynamic section are all read from
 * that copy, and the copy is what dlopen maps (as /proc/<pid>/fd/N). So
 * replacing the file by name, or writing into it, after the check changes
 * nothing, and cannot pull pages out from under code that is running.
 *
 * A library is shared between instances only when the bytes are proven the
 * same: equal digests (the file of a loaded library is hashed again on
 * each acquisition; the library keeps it open, so its inode number is not
 * reused meanwhile). The checks (availability, trust, entry) run on every
 * acquisition, before a library is shared.
 *
 * Dependencies are found and loaded first (deps.c), so $ORIGIN means the
 * plugin's directory and a bundled library is verified like the plugin.
 *
 * The entry struct a library exports must describe the same plugin as the
 * static info that the inventory checked: same ABI, name, version and the
 * very same info bytes. A file whose code disagrees with its info is marked
 * unavailable and closed again.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void (*tenon__before_load_hook)(const char *path);

int tenon__sealed_copy(int fd, const char *path, uint64_t max, char *why,
                       size_t len)
{
    const char *base = strrchr(path, '/');
    int mfd =
        memfd_create(base ? base + 1 : path, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    char buf[65536];
    off_t off = 0;
    if (mfd < 0) {
        snprintf(why, len, "memfd_create: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0 && (uint64_t)off + (uint64_t)n > max) {
            snprintf(why, len,
                     "%s grew past %llu bytes, the most the host checks "
                     "(max_file_size)",
                     path, (unsigned long long)max);
            close(mfd);
            return -1;
        }
        if (n < 0 || (n > 0 && write(mfd, buf, (size_t)n) != n)) {
            snprintf(why, len, "copying %s: %s", path, strerror(errno));
            close(mfd);
            return -1;
        }
        if (n == 0)
            break;
        off += n;
    }
    if (fcntl(mfd, F_ADD_SEALS,
              F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        snprintf(why, len, "sealing the copy of %s: %s", path, strerror(errno));
        close(mfd);
        return -1;
    }
    return mfd;
}

/* "/proc/<pid>/fd/N" for *fd, under a name the dynamic loader does not
 * already know. glibc matches loaded objects by name before anything else,
 * and a library that stayed mapped after its dlclose (-z nodelete, C++
 * unique symbols) keeps the name of a descriptor number since reused: such
 * a name would hand back that old library. Moving to another number until
 * the name is free avoids it. */
static int free_fd_name(int *fd, char *name, size_t len)
{
    for (int tries = 0; tries < 64; tries++) {
        snprintf(name, len, "/proc/%ld/fd/%d", (long)getpid(), *fd);
        void *old = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
        struct link_map *lm = NULL;
        if (!old)
            return 0;
        /* Found by its device and inode under another name, it is this
         * very file, already mapped: loading it again is right. */
        int taken = dlinfo(old, RTLD_DI_LINKMAP, &lm) != 0 || !lm ||
                    strcmp(lm->l_name, name) == 0;
        dlclose(old); /* drop the reference NOLOAD took */
        if (!taken)
            return 0;
        int moved = fcntl(*fd, F_DUPFD_CLOEXEC, *fd + 1);
        if (moved < 0)
            break;
        close(*fd);
        *fd = moved;
    }
    return tenon__fail(TENON_EIO, "no free descriptor name to load from: "
                                  "64 are taken by libraries still mapped");
}

/* The smallest entry struct this host can use: ABI 1 as first published. */
#define ENTRY_MIN_SIZE offsetof(struct tenon_plugin_entry, targets)

static int check_entry(const struct tenon_plugin *p,
                       const struct tenon_plugin_entry *e, char *why,
                       size_t len)
{
    const struct tenon__info *info = &p->info;
    if (e->struct_size < ENTRY_MIN_SIZE)
        snprintf(why, len, "entry struct is %u bytes; expected at least %zu",
                 e->struct_size, ENTRY_MIN_SIZE);
    else if (e->abi != (uint32_t)info->abi)
        snprintf(why, len, "entry ABI %u differs from static info ABI %d",
                 e->abi, info->abi);
    else if (!e->name || strcmp(e->name, info->name) != 0)
        snprintf(why, len,
                 "entry name '%.64s' differs from static info name '%s'",
                 e->name ? e->name : "(null)", info->name);
    else if (!e->version || strcmp(e->version, info->version) != 0)
        snprintf(why, len,
                 "entry version '%.64s' differs from static info version '%s'",
                 e->version ? e->version : "(null)", info->version);
    else if (!e->info || e->info_size != info->size ||
             memcmp(e->info, info->raw, info->size) != 0)
        snprintf(why, len,
                 "entry info differs from the %s section read "
                 "from the file",
                 TENON_INFO_SECTION);
    else if (!e->create || !e->destroy || !e->get_interface)
        snprintf(why, len, "entry lacks create, destroy or get_interface");
    else
        return 0;
    return -1;
}

/* The entry is ours and the caller holds t->lock; an available entry has no
 * reason yet, so no reader can hold the string being replaced. */
static void make_unavailable(const struct tenon_plugin *cp, const char *why)
{
    tenon__plugin_set_reason((struct tenon_plugin *)cp, TENON_UNAVAILABLE, why);
}

/* What the trust policy made of the bytes about to be loaded. */
struct checked {
    int policy;
    const struct tenon__keyring *kr;
    struct tenon__trust_result res; /* the plugin's; freed by the caller */
};

/* The name still holds the file the scan saw. */
static int still_scanned(const struct tenon_plugin *p)
{
    struct stat st;
    return stat(p->path, &st) == 0 && st.st_dev == p->dev &&
           st.st_ino == p->ino && (int64_t)st.st_size == p->size &&
           tenon__mtime_ns(&st) == p->mtime_ns &&
           tenon__ctime_ns(&st) == p->ctime_ns;
}

/* A refusal under require, a warning under warn: 0 to go on. */
static int refuse(tenon_t *t, const struct tenon_plugin *p,
                  const struct checked *c, const char *why)
{
    if (c->policy == TENON_TRUST_WARN) {
        tenon__log(t, TENON_LOG_WARN, "tenon", "loading %s anyway: %s%s",
                   p->path, why, tenon__keyring_error(c->kr));
        return 0;
    }
    return tenon__fail(TENON_EPERM,
                       "%s: not loaded under the require trust policy: %s%s",
                       p->path, why, tenon__keyring_error(c->kr));
}

/* What the bytes about to be loaded (the sealed copy `fd`, or the file of
 * a loaded library with the same bytes) say, checked: the static info is
 * p's, and under a trust policy the digest and signature verify; a pair
 * that an install in progress could explain is checked again under the
 * directory's install lock (tenon__install_settle). *elf gets the info and
 * dynamic strings (the caller frees them), *c the verdict. 0 to go on;
 * else a negative code with the error set. */
static int check_bytes(tenon_t *t, const struct tenon_plugin *p, int fd,
                       const unsigned char digest[32], struct tenon__elf *elf,
                       struct checked *c)
{
    char why[3 * TENON__REASON_MAX], note[TENON__REASON_MAX] = "";
    struct stat st;
    int rc, lock;

    memset(elf, 0, sizeof *elf);
    if (fstat(fd, &st) != 0)
        return tenon__fail(TENON_EIO, "%s: cannot stat: %s", p->path,
                           strerror(errno));
    if ((rc = tenon__elf_read_fd(fd, (uint64_t)st.st_size,
                                 TENON__ELF_INFO | TENON__ELF_DYN, elf, why,
                                 sizeof why)))
        return tenon__fail(TENON_EUNAVAIL,
                           "%s changed since it was scanned: %s", p->path, why);
    if (elf->info_size != p->info.size ||
        memcmp(elf->info, p->info.raw, p->info.size) != 0)
        return tenon__fail(TENON_EUNAVAIL,
                           "%s changed since it was scanned: static info "
                           "differs from the scanned file's; rescan",
                           p->path);
    if ((c->policy = tenon__trust_policy(t, &c->kr)) == TENON_TRUST_OFF)
        return 0;
    rc = tenon__trust_check_file(c->kr, p->path, p->info.name, p->info.version,
                                 fd, 0, digest, &c->res);
    if (rc && (c->res.verdict == TENON__TRUST_MISMATCH ||
               c->res.verdict == TENON__TRUST_UNSIGNED ||
               c->res.verdict == TENON__TRUST_ERROR)) {
        /* Not waited for: the caller holds t->lock, and a lock held on
         * purpose must not stall every tenon_create(). A pair finished
         * meanwhile is seen; one in progress fails this load. */
        lock = tenon__install_settle(p->path, 0, note, sizeof note);
        if (lock >= 0) {
            if (!still_scanned(p)) {
                close(lock);
                return tenon__fail(TENON_EUNAVAIL,
                                   "%s was replaced since the scan; rescan "
                                   "to see what it is now",
                                   p->path);
            }
            /* The same bytes against the .meta the install left. */
            tenon__trust_result_free(&c->res);
            rc = tenon__trust_check_file(c->kr, p->path, p->info.name,
                                         p->info.version, fd, 0, digest,
                                         &c->res);
            close(lock);
            note[0] = '\0';
        } else if (lock != TENON_EBUSY) {
            note[0] = '\0';
        }
    }
    if (rc == 0)
        return 0;
    snprintf(why, sizeof why, "%s: %s%s%s", p->path, c->res.reason,
             note[0] ? "; " : "", note);
    return refuse(t, p, c, why);
}

/* The bundled libraries, checked against the trust policy. */
static int check_deps(tenon_t *t, const struct tenon_plugin *p,
                      const struct checked *c, const struct tenon__deps *d)
{
    char why[TENON__REASON_MAX];
    if (c->policy == TENON_TRUST_OFF ||
        tenon__trust_deps(c->kr, &c->res, d, why, sizeof why) == 0)
        return 0;
    return refuse(t, p, c, why);
}

/* dlopen the sealed copy `*fd` under a fresh /proc/<pid>/fd name. */
static void *open_copy(int *fd, char *why, size_t len)
{
    char name[64];
    void *h;
    if (free_fd_name(fd, name, sizeof name)) {
        snprintf(why, len, "%s", tenon_last_error());
        return NULL;
    }
    if (!(h = dlopen(name, RTLD_NOW | RTLD_LOCAL))) {
        const char *err = dlerror();
        snprintf(why, len, "dlopen failed: %s", err ? err : "?");
    }
    return h;
}

static int load_one(struct tenon__dep *dep, char *why, size_t len)
{
    void *h;
    if (dep->kind == TENON__DEP_SYSTEM) {
        if (!(dep->handle = dlopen(dep->name, RTLD_NOW | RTLD_LOCAL))) {
            const char *err = dlerror();
            snprintf(why, len, "dependency %s: %s", dep->name,
                     err ? err : "cannot be loaded");
            return -1;
        }
        return 0;
    }
    if (!(dep->handle = open_copy(&dep->fd, why, len)))
        return -1;
    /* The plugin asks for it by name: that name must now find this copy. */
    h = dlopen(dep->name, RTLD_LAZY | RTLD_NOLOAD);
    if (h)
        dlclose(h);
    if (h != dep->handle) {
        snprintf(why, len,
                 "dependency %s (%s): the dynamic loader does not match it "
                 "by its DT_SONAME",
                 dep->name, dep->path);
        return -1;
    }
    return 0;
}

/* Load what the plugin needs, each after what it needs in turn (the order
 * tenon__deps_resolve found): when the loader maps the plugin, or a bundled
 * library, everything it asks for by name is loaded already, so it
 * searches nothing. */
static int load_deps(const struct tenon_plugin *p, struct tenon__deps *d)
{
    char why[TENON__REASON_MAX];
    for (size_t k = 0; k < d->norder; k++)
        if (load_one(&d->v[d->order[k]], why, sizeof why))
            return tenon__fail(TENON_EUNAVAIL, "%s: %s", p->path, why);
    return 0;
}

/* Is a library loaded from this very file (its inode, which the library
 * keeps open)? Its bytes may have changed since. */
static int same_inode(tenon_t *t, const struct stat *st)
{
    for (struct tenon__library *lib = t->libraries; lib; lib = lib->next)
        if (lib->dev == st->st_dev && lib->ino == st->st_ino)
            return 1;
    return 0;
}

static struct tenon__library *same_digest(tenon_t *t,
                                          const unsigned char digest[32])
{
    for (struct tenon__library *lib = t->libraries; lib; lib = lib->next)
        if (memcmp(lib->digest, digest, 32) == 0)
            return lib;
    return NULL;
}

/* A dependency found already loaded: when this context loaded it, as a
 * bundled library of another plugin, its digest is known. */
static void known_digests(tenon_t *t, struct tenon__deps *d)
{
    for (size_t i = 0; i < d->n; i++) {
        struct tenon__dep *dep = &d->v[i];
        if (dep->kind != TENON__DEP_LOADED)
            continue;
        for (struct tenon__library *lib = t->libraries; lib; lib = lib->next)
            for (size_t j = 0; j < lib->deps.n; j++)
                if (lib->deps.v[j].handle == dep->handle &&
                    lib->deps.v[j].have_digest) {
                    memcpy(dep->digest, lib->deps.v[j].digest, 32);
                    dep->have_digest = 1;
                }
    }
}

/* Map the checked copy and its dependencies, and check its entry. */
static int load(tenon_t *t, const struct tenon_plugin *p, int *mfd,
                const struct tenon__dyn *dyn, const struct checked *c,
                struct tenon__library *lib)
{
    char why[TENON__REASON_MAX];
    const struct tenon_plugin_entry *e;
    int rc;

    if ((rc = tenon__deps_resolve(p->path, dyn, TENON__DEPS_LOAD,
                                  t->max_file_size, &lib->deps, why,
                                  sizeof why)))
        return tenon__fail(rc == TENON_ENOMEM ? rc : TENON_EUNAVAIL, "%s: %s",
                           p->path, why);
    known_digests(t, &lib->deps);
    if ((rc = check_deps(t, p, c, &lib->deps)))
        return rc;
    if ((rc = load_deps(p, &lib->deps)))
        return rc;
    if (tenon__before_load_hook)
        tenon__before_load_hook(p->path);
    if (!(lib->handle = open_copy(mfd, why, sizeof why))) {
        make_unavailable(p, why);
        return tenon__fail(TENON_EUNAVAIL, "%s: %s", p->path, why);
    }
    e = dlsym(lib->handle, TENON_ENTRY_SYMBOL);
    if (!e)
        snprintf(why, sizeof why, "no exported %s symbol", TENON_ENTRY_SYMBOL);
    if (!e || check_entry(p, e, why, sizeof why) != 0) {
        make_unavailable(p, why);
        return tenon__fail(TENON_EUNAVAIL, "%s: %s", p->path, why);
    }
    lib->entry = e;
    lib->fd = *mfd;
    *mfd = -1;
    return 0;
}

static void lib_free(struct tenon__library *lib)
{
    if (lib->handle)
        dlclose(lib->handle);
    tenon__deps_free(&lib->deps); /* after the plugin that needs them */
    if (lib->fd >= 0)
        close(lib->fd);
    if (lib->file_fd >= 0)
        close(lib->file_fd);
    free(lib->path);
    free(lib);
}

int tenon__library_acquire(tenon_t *t, const struct tenon_plugin *p,
                           struct tenon__library **out)
{
    struct tenon__library *lib = NULL, *shared = NULL;
    char why[TENON__REASON_MAX];
    unsigned char digest[32];
    struct tenon__elf elf = {0};
    struct checked c = {0};
    struct stat st;
    int fd, mfd = -1, rc;

    if (p->status != TENON_AVAILABLE)
        return tenon__fail(TENON_EUNAVAIL, "%s is unavailable: %s", p->path,
                           p->reason);
    fd = tenon__open_regular(AT_FDCWD, p->path, &st);
    if (fd < 0)
        return tenon__fail(TENON_EIO, "%s: cannot open for loading: %s",
                           p->path, strerror(errno));
    if (st.st_dev != p->dev || st.st_ino != p->ino) {
        close(fd);
        return tenon__fail(TENON_EUNAVAIL,
                           "%s was replaced since the scan; rescan to see "
                           "what it is now",
                           p->path);
    }
    if ((uint64_t)st.st_size > t->max_file_size) {
        close(fd);
        return tenon__fail(TENON_EUNAVAIL,
                           "%s is %lld bytes, more than the %llu the host "
                           "checks and loads (max_file_size)",
                           p->path, (long long)st.st_size,
                           (unsigned long long)t->max_file_size);
    }
    /* The file of a loaded library, hashed now: when it still holds that
     * library's bytes, they are what is checked and shared (no copy). No
     * stat key can prove that: a write through a shared mapping whose
     * pages are already dirty moves neither mtime nor ctime. Otherwise a
     * sealed copy is what gets checked and, unless some library holds the
     * same bytes, loaded. */
    if (same_inode(t, &st) &&
        tenon__digest_fd(fd, t->max_file_size, digest) == 0)
        shared = same_digest(t, digest);
    if (!shared && ((mfd = tenon__sealed_copy(fd, p->path, t->max_file_size,
                                              why, sizeof why)) < 0 ||
                    (rc = tenon__digest_fd(mfd, t->max_file_size, digest)))) {
        rc = tenon__fail(TENON_EIO, "%s: %s", p->path,
                         mfd < 0 ? why : "cannot read the sealed copy");
        goto out;
    }
    if ((rc = check_bytes(t, p, shared ? shared->fd : mfd, digest, &elf, &c)))
        goto out;
    if (shared || (shared = same_digest(t, digest))) {
        /* Same bytes, so same entry; its dependencies are verified again
         * against the current trust store. */
        if ((rc = check_deps(t, p, &c, &shared->deps)))
            goto out;
        if (check_entry(p, shared->entry, why, sizeof why) != 0) {
            rc = tenon__fail(TENON_EUNAVAIL, "%s: %s", p->path, why);
            goto out;
        }
        shared->refs++;
        *out = shared;
        goto out;
    }
    if (!(lib = calloc(1, sizeof *lib)) ||
        !(lib->path = tenon__strdup(p->path))) {
        rc = tenon__fail(TENON_ENOMEM, "out of memory loading %s", p->path);
        goto out;
    }
    lib->fd = -1;
    lib->file_fd = -1;
    {
        struct tenon__dyn dyn;
        if ((rc = tenon__dyn_split(elf.dyn, elf.dyn_size, &dyn))) {
            rc = tenon__fail(rc, "out of memory loading %s", p->path);
            goto out;
        }
        rc = load(t, p, &mfd, &dyn, &c, lib);
        free(dyn.needed);
        if (rc)
            goto out;
    }
    memcpy(lib->digest, digest, sizeof digest);
    lib->file_fd = fd; /* held: the inode stays this file while loaded */
    fd = -1;
    lib->dev = st.st_dev;
    lib->ino = st.st_ino;
    lib->size = (int64_t)st.st_size;
    lib->mtime_ns = tenon__mtime_ns(&st);
    lib->ctime_ns = tenon__ctime_ns(&st);
    lib->refs = 1;
    lib->next = t->libraries;
    t->libraries = lib;
    for (size_t i = 0; i < lib->deps.n; i++)
        if (lib->deps.v[i].kind == TENON__DEP_BUNDLED)
            tenon__log(t, TENON_LOG_DEBUG, "tenon",
                       "%s: loaded bundled %s from %s (%s)", p->path,
                       lib->deps.v[i].name, lib->deps.v[i].path,
                       lib->deps.v[i].via);
    tenon__log(t, TENON_LOG_DEBUG, "tenon", "loaded %s", p->path);
    *out = lib;
    lib = NULL;
out:
    if (lib)
        lib_free(lib);
    tenon__trust_result_free(&c.res);
    tenon__trust_release(t, c.kr);
    free(elf.info);
    free(elf.dyn);
    if (mfd >= 0)
        close(mfd);
    if (fd >= 0)
        close(fd);
    return rc;
}

void tenon__library_release(tenon_t *t, struct tenon__library *lib)
{
    if (--lib->refs)
        return;
    for (struct tenon__library **pp = &t->libraries; *pp; pp = &(*pp)->next)
        if (*pp == lib) {
            *pp = lib->next;
            break;
        }
    tenon__log(t, TENON_LOG_DEBUG, "tenon", "unloading %s", lib->path);
    lib_free(lib);
}

int tenon_plugin_loaded(tenon_t *t, const tenon_plugin_t *p)
{
    int loaded = 0;
    pthread_mutex_lock(&t->lock);
    for (struct tenon__library *lib = t->libraries; lib; lib = lib->next)
        loaded |= lib->dev == p->dev && lib->ino == p->ino &&
                  lib->size == p->size && lib->mtime_ns == p->mtime_ns &&
                  lib->ctime_ns == p->ctime_ns;
    pthread_mutex_unlock(&t->lock);
    return loaded;
}
