/*
 * Loading plugin libraries: dlopen on first use, one refcounted library per
 * file (by device and inode), closed when its last instance is gone.
 *
 * The entry struct a library exports must describe the same plugin as the
 * static info that the inventory checked: same ABI, name, version and the
 * very same info bytes. A file whose code disagrees with its info is marked
 * unavailable and closed again.
 *
 * The file is opened once, checked to be the inode the scan saw, and loaded
 * from that open descriptor (/proc/<pid>/fd/N), so whatever is checked
 * through the descriptor is what runs: replacing the file by name in between
 * changes nothing. The descriptor stays open while the library is loaded, so
 * the name keeps meaning the same file for debuggers and profilers that
 * read the link map.
 *
 * When a trust policy is in force the bytes are first copied into a sealed
 * memory file, and the digest and signature are checked on that copy: the
 * copy cannot change any more, so even a write into the same inode after
 * the check cannot alter what is loaded.
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

/* An immutable copy of the file open as `fd`: a memfd sealed against every
 * write, shrink and grow. Returns the new descriptor or -1 with `why`. */
static int sealed_copy(int fd, const char *path, char *why, size_t len)
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

/* Under a trust policy, swap `*fd` for a sealed copy and check the copy's
 * digest and signature. 0 to go on loading; else a negative code. */
static int verify_for_load(tenon_t *t, const struct tenon_plugin *p, int *fd)
{
    char why[TENON__REASON_MAX];
    const struct tenon__keyring *kr;
    int policy = tenon__trust_policy(t, &kr), rc;
    if (policy == TENON_TRUST_OFF)
        return 0;
    int mfd = sealed_copy(*fd, p->path, why, sizeof why);
    if (mfd < 0)
        return tenon__fail(TENON_EIO, "%s: %s", p->path, why);
    close(*fd);
    *fd = mfd;
    rc = tenon__trust_check_with(kr, p, mfd, why, sizeof why, NULL);
    if (rc == 0)
        return 0;
    if (policy == TENON_TRUST_WARN) {
        tenon__log(t, TENON_LOG_WARN, "tenon", "loading %s anyway: %s", p->path,
                   why);
        return 0;
    }
    return tenon__fail(TENON_EPERM,
                       "%s: not loaded under the require trust "
                       "policy: %s%s",
                       p->path, why, tenon__keyring_error(kr));
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

int tenon__library_acquire(tenon_t *t, const struct tenon_plugin *p,
                           struct tenon__library **out)
{
    struct tenon__library *lib;
    char why[TENON__REASON_MAX];
    const struct tenon_plugin_entry *e;
    void *h;

    for (lib = t->libraries; lib; lib = lib->next)
        if (lib->dev == p->dev && lib->ino == p->ino) {
            lib->refs++;
            *out = lib;
            return 0;
        }
    if (p->status != TENON_AVAILABLE)
        return tenon__fail(TENON_EUNAVAIL, "%s is unavailable: %s", p->path,
                           p->reason);
    int fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int rc = tenon__fail(TENON_EIO, "%s: cannot open for loading: %s",
                             p->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (st.st_dev != p->dev || st.st_ino != p->ino) {
        close(fd);
        return tenon__fail(TENON_EUNAVAIL,
                           "%s was replaced since the scan; rescan to see "
                           "what it is now",
                           p->path);
    }
    int rc = verify_for_load(t, p, &fd);
    if (rc) {
        close(fd);
        return rc;
    }
    if (tenon__before_load_hook)
        tenon__before_load_hook(p->path);
    char fdpath[64];
    if ((rc = free_fd_name(&fd, fdpath, sizeof fdpath))) {
        close(fd);
        return rc;
    }
    h = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *err = dlerror();
        close(fd);
        snprintf(why, sizeof why, "dlopen failed: %s", err ? err : "?");
        make_unavailable(p, why);
        return tenon__fail(TENON_EUNAVAIL, "%s: %s", p->path, why);
    }
    e = dlsym(h, TENON_ENTRY_SYMBOL);
    if (!e)
        snprintf(why, sizeof why, "no exported %s symbol", TENON_ENTRY_SYMBOL);
    if (!e || check_entry(p, e, why, sizeof why) != 0) {
        dlclose(h);
        close(fd);
        make_unavailable(p, why);
        return tenon__fail(TENON_EUNAVAIL, "%s: %s", p->path, why);
    }
    lib = calloc(1, sizeof *lib);
    if (!lib || !(lib->path = tenon__strdup(p->path))) {
        free(lib);
        dlclose(h);
        close(fd);
        return tenon__fail(TENON_ENOMEM, "out of memory loading %s", p->path);
    }
    lib->fd = fd;
    lib->dev = p->dev;
    lib->ino = p->ino;
    lib->handle = h;
    lib->entry = e;
    lib->refs = 1;
    lib->next = t->libraries;
    t->libraries = lib;
    tenon__log(t, TENON_LOG_DEBUG, "tenon", "loaded %s", p->path);
    *out = lib;
    return 0;
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
    dlclose(lib->handle);
    close(lib->fd);
    free(lib->path);
    free(lib);
}

int tenon_plugin_loaded(tenon_t *t, const tenon_plugin_t *p)
{
    int loaded = 0;
    pthread_mutex_lock(&t->lock);
    for (struct tenon__library *lib = t->libraries; lib; lib = lib->next)
        loaded |= lib->dev == p->dev && lib->ino == p->ino;
    pthread_mutex_unlock(&t->lock);
    return loaded;
}
