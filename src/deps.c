/*
 * The libraries a plugin brings along: its DT_NEEDED entries, looked for
 * the way the dynamic loader would look for them through the plugin's own
 * DT_RPATH and DT_RUNPATH, with $ORIGIN the plugin's directory.
 *
 * Left to itself the loader gets both wrong for Tenon: a plugin is loaded
 * from a descriptor (/proc/self/fd/N), so it would take /proc/self/fd for
 * $ORIGIN; and it opens whatever sits in those directories when it looks,
 * after every check. So Tenon finds each dependency itself and loads it
 * before the plugin. The loader matches a DT_NEEDED name against the names
 * and DT_SONAMEs of the objects already loaded before it searches anything,
 * so it then finds every dependency loaded and never searches.
 *
 * A dependency found outside the system library directories is bundled:
 * under a trust policy it is verified like the plugin, and it is loaded
 * from a sealed copy of the bytes that were checked; for the loader to match
 * that copy, its DT_SONAME must be the name the plugin asks for. The rest is
 * left to the system: loaded by name through the host's own search path
 * (the host's RPATH, LD_LIBRARY_PATH, ld.so.cache), which Tenon does not
 * police. docs/trust.md says what is covered.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#elif defined(__riscv) && __riscv_xlen == 64
#define MULTIARCH "riscv64-linux-gnu"
#else
#error "unsupported host architecture: add its multiarch triplet here"
#endif

/* The loader's trusted directories on Linux: what the system installs. */
static const char *const system_dirs[] = {
    "/lib/" MULTIARCH, "/usr/lib/" MULTIARCH, "/lib", "/usr/lib",
    "/lib64",          "/usr/lib64"};
#define NSYSTEM (sizeof system_dirs / sizeof *system_dirs)

/* Deepest chain of bundled libraries followed, and most dependencies. */
#define DEPTH_MAX 16
#define DEPS_MAX  256

struct resolver {
    struct tenon__deps *out;
    const char *plugin_path;
    const struct tenon__dyn *plugin_dyn;
    unsigned flags;
    uint64_t max_size;
    struct stat sys[NSYSTEM];
    int have_sys[NSYSTEM];
    char *reason;
    size_t reason_len;
};

#define FAIL(...)                                                              \
    tenon__reason(r->reason, r->reason_len, TENON_EUNAVAIL, __VA_ARGS__)

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Object o: 0 is the plugin, i + 1 is out->v[i]. */
static const struct tenon__dyn *dyn_of(const struct resolver *r, size_t o)
{
    return o ? &r->out->v[o - 1].dynv : r->plugin_dyn;
}

static const char *path_of(const struct resolver *r, size_t o)
{
    return o ? r->out->v[o - 1].path : r->plugin_path;
}

static size_t loader_of(const struct resolver *r, size_t o)
{
    return o ? r->out->v[o - 1].needed_by : 0;
}

static int is_system_dir(const struct resolver *r, const struct stat *st)
{
    for (size_t i = 0; i < NSYSTEM; i++)
        if (r->have_sys[i] && r->sys[i].st_dev == st->st_dev &&
            r->sys[i].st_ino == st->st_ino)
            return 1;
    return 0;
}

/* One element of a search path with $ORIGIN and ${ORIGIN} replaced by the
 * directory of `obj` (as the loader does: the path it was opened by, up to
 * its last '/'), malloc'd; NULL with *skip set for $LIB and $PLATFORM,
 * which Tenon does not expand: such a directory is not searched. */
static char *expand(const char *elem, size_t len, const char *obj, int *skip)
{
    const char *slash = strrchr(obj, '/');
    size_t olen = slash ? (size_t)(slash - obj) : 1;
    const char *origin = slash ? obj : ".";
    size_t cap = len + 1, n = 0;
    char *out;
    *skip = 0;
    if (slash == obj) /* "/x.so": the origin is "/" */
        olen = 1;
    for (size_t i = 0; i + 1 < len; i++)
        if (elem[i] == '$')
            cap += olen;
    if (!(out = malloc(cap)))
        return NULL;
    for (size_t i = 0; i < len;) {
        const char *t = elem + i;
        size_t tl = 0;
        if (*t == '$' && len - i >= 7 && memcmp(t, "$ORIGIN", 7) == 0)
            tl = 7;
        else if (*t == '$' && len - i >= 9 && memcmp(t, "${ORIGIN}", 9) == 0)
            tl = 9;
        else if (*t == '$' &&
                 ((len - i >= 4 &&
                   (memcmp(t, "$LIB", 4) == 0 ||
                    (len - i >= 6 && memcmp(t, "${LIB}", 6) == 0))) ||
                  (len - i >= 9 && memcmp(t, "$PLATFORM", 9) == 0) ||
                  (len - i >= 11 && memcmp(t, "${PLATFORM}", 11) == 0))) {
            free(out);
            *skip = 1;
            return NULL;
        }
        if (tl &&
            (tl == 9 || i + 7 == len || t[7] == '/' || t[7] == '$' ||
             !(t[7] == '_' || (t[7] >= 'a' && t[7] <= 'z') ||
               (t[7] >= 'A' && t[7] <= 'Z') || (t[7] >= '0' && t[7] <= '9')))) {
            memcpy(out + n, origin, olen);
            n += olen;
            i += tl;
            continue;
        }
        out[n++] = elem[i++];
    }
    out[n] = '\0';
    return out;
}

/* A newly found dependency, appended to out. */
static struct tenon__dep *add_dep(struct resolver *r, const char *name,
                                  size_t needed_by, int kind)
{
    struct tenon__deps *d = r->out;
    struct tenon__dep *dep;
    if (tenon__grow(&d->v, &d->cap, d->n + 1, sizeof *d->v))
        return NULL;
    dep = &d->v[d->n];
    memset(dep, 0, sizeof *dep);
    dep->fd = -1;
    dep->kind = kind;
    dep->needed_by = needed_by;
    if (!(dep->name = tenon__strdup(name)))
        return NULL;
    d->n++;
    return dep;
}

/* A file found at dir/name through `what`: bundled, read and checked. */
static int take_bundled(struct resolver *r, struct tenon__dep *dep, int fd,
                        const struct stat *st, const char *what)
{
    char why[TENON__REASON_MAX];
    struct tenon__elf elf;
    int src = fd, rc;

    if (!(dep->via = tenon__strdup(what)))
        return TENON_ENOMEM;
    if ((uint64_t)st->st_size > r->max_size)
        return FAIL("dependency %s (%s, through %s) is %lld bytes, more than "
                    "the %llu the host checks (max_file_size)",
                    dep->name, dep->path, what, (long long)st->st_size,
                    (unsigned long long)r->max_size);
    if (r->flags & TENON__DEPS_LOAD) {
        /* Everything below is about the copy that will be loaded. */
        if ((dep->fd = tenon__sealed_copy(fd, dep->path, r->max_size, why,
                                          sizeof why)) < 0)
            return FAIL("dependency %s: %s", dep->name, why);
        src = dep->fd;
    }
    if ((rc = tenon__digest_fd(src, r->max_size, dep->digest)) == 0)
        dep->have_digest = 1;
    else
        return FAIL("dependency %s (%s): %s", dep->name, dep->path,
                    rc == TENON_ERANGE ? "more bytes than the host hashes "
                                         "(max_file_size)"
                    : rc == TENON_EIO  ? strerror(errno)
                                       : "out of memory");
    rc = tenon__elf_read_fd(src, (uint64_t)st->st_size, TENON__ELF_DYN, &elf,
                            why, sizeof why);
    if (rc)
        return FAIL("dependency %s (%s): %s", dep->name, dep->path, why);
    dep->dyn = elf.dyn;
    dep->dyn_size = elf.dyn_size;
    if ((rc = tenon__dyn_split(dep->dyn, dep->dyn_size, &dep->dynv)))
        return rc;
    /* The loader matches the plugin's DT_NEEDED against what is loaded by
     * DT_SONAME: without it, it would go looking for the file itself. */
    if (!dep->dynv.soname || strcmp(dep->dynv.soname, dep->name) != 0)
        return FAIL("dependency %s (%s, through %s) has %s%s; expected "
                    "DT_SONAME %s (link it with -Wl,-soname,%s)",
                    dep->name, dep->path, what,
                    dep->dynv.soname ? "DT_SONAME " : "no DT_SONAME",
                    dep->dynv.soname ? dep->dynv.soname : "", dep->name,
                    dep->name);
    return 0;
}

/* Look for `name` in the directories of `list` (a search path of object
 * o). 1 when found (and recorded), 0 when not, or a negative code. */
static int search_list(struct resolver *r, size_t o, const char *list,
                       const char *tag, const char *name, size_t needed_by)
{
    const char *obj = path_of(r, o);
    for (const char *p = list;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        int skip, dfd, fd, rc;
        struct stat dst, st;
        char *dir = expand(p, len, obj, &skip), *what;
        if (!dir && !skip)
            return TENON_ENOMEM;
        /* An empty element is the current directory, as for the loader;
         * like the loader, a directory it may search but not list will
         * do (O_PATH). */
        dfd =
            dir ? open(*dir ? dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        fd = dfd >= 0 && fstat(dfd, &dst) == 0
                 ? tenon__open_regular(dfd, name, &st)
                 : -1;
        if (dfd >= 0)
            close(dfd);
        if (fd >= 0 && (!S_ISREG(st.st_mode) || !tenon__elf_is_host(fd))) {
            close(fd); /* the loader skips files it cannot use, too */
            fd = -1;
        }
        if (fd >= 0) {
            struct tenon__dep *dep =
                add_dep(r, name, needed_by,
                        is_system_dir(r, &dst) ? TENON__DEP_SYSTEM
                                               : TENON__DEP_BUNDLED);
            what = tenon__asprintf("%s '%.*s' of %s", tag, (int)len, p,
                                   base_name(obj));
            rc = !dep || !what ? TENON_ENOMEM : 0;
            if (rc == 0 && dep->kind == TENON__DEP_BUNDLED &&
                !(dep->path =
                      tenon__asprintf("%s%s%s", dir, *dir ? "/" : "", name)))
                rc = TENON_ENOMEM;
            if (rc == 0 && dep->kind == TENON__DEP_BUNDLED)
                rc = take_bundled(r, dep, fd, &st, what);
            free(what);
            free(dir);
            close(fd);
            return rc ? rc : 1;
        }
        free(dir);
        if (!colon)
            return 0;
        p = colon + 1;
    }
}

static int find_one(struct resolver *r, size_t o, const char *name)
{
    struct tenon__dep *dep;
    int rc;

    for (size_t i = 0; i < r->out->n; i++)
        if (strcmp(r->out->v[i].name, name) == 0)
            return 0; /* the first one found serves everyone, as loaded */
    if (r->out->n == DEPS_MAX)
        return FAIL("more than %d dependencies", DEPS_MAX);
    if (!tenon__plain_name(name)) { /* the loader resolves it itself */
        dep = add_dep(r, name, o, TENON__DEP_PATH);
        return dep ? 0 : TENON_ENOMEM;
    }
    /* Already loaded under that name or DT_SONAME: the loader takes it. */
    if (r->flags & TENON__DEPS_LOAD) {
        void *h = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            if (!(dep = add_dep(r, name, o, TENON__DEP_LOADED))) {
                dlclose(h);
                return TENON_ENOMEM;
            }
            dep->handle = h; /* held until the plugin is unloaded */
            return 0;
        }
    }
    /* DT_RPATH of the object and of the objects that loaded it, unless it
     * has a DT_RUNPATH (which makes the loader ignore its DT_RPATH), then
     * its DT_RUNPATH. */
    if (!dyn_of(r, o)->runpath)
        for (size_t l = o;; l = loader_of(r, l)) {
            const struct tenon__dyn *ld = dyn_of(r, l);
            if (!ld->runpath && ld->rpath &&
                (rc = search_list(r, l, ld->rpath, "DT_RPATH", name, o)))
                return rc < 0 ? rc : 0;
            if (l == 0)
                break;
        }
    if (dyn_of(r, o)->runpath &&
        (rc = search_list(r, o, dyn_of(r, o)->runpath, "DT_RUNPATH", name, o)))
        return rc < 0 ? rc : 0;
    dep = add_dep(r, name, o, TENON__DEP_SYSTEM);
    return dep ? 0 : TENON_ENOMEM;
}

int tenon__plain_name(const char *name)
{
    /* A '/' makes it a path; a '$' may be a dynamic string token ($LIB,
     * $PLATFORM, $ORIGIN), which the loader expands in DT_NEEDED too,
     * into another name or a path, and then looks for that. */
    return !strchr(name, '/') && !strchr(name, '$');
}

int tenon__deps_possible(const struct tenon__dyn *d)
{
    if (d->nneeded && (d->rpath || d->runpath))
        return 1;
    for (size_t i = 0; i < d->nneeded; i++)
        if (!tenon__plain_name(d->needed[i]))
            return 1;
    return 0;
}

static size_t depth(const struct resolver *r, size_t o)
{
    size_t n = 0;
    for (; o; o = loader_of(r, o))
        n++;
    return n;
}

/* The order to load in: each system or bundled library after those it
 * names that are not loaded yet (a system library's names are not read:
 * the loader finds them). Kept in out->order for the loader; a cycle among
 * bundled libraries is refused now, so that the scan and `tenon verify`
 * say what a load would. */
static int check_order(struct resolver *r)
{
    struct tenon__deps *d = r->out;
    unsigned char *done = calloc(d->n ? d->n : 1, 1);
    size_t left = 0;
    if (!done || !(d->order = malloc((d->n ? d->n : 1) * sizeof *d->order))) {
        free(done);
        return TENON_ENOMEM;
    }
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].kind == TENON__DEP_SYSTEM ||
            d->v[i].kind == TENON__DEP_BUNDLED)
            left++;
        else
            done[i] = 1; /* loaded already, or left to the loader */
    for (size_t progress = 1; left && progress;) {
        progress = 0;
        for (size_t i = 0; i < d->n; i++) {
            const struct tenon__dep *dep = &d->v[i];
            int ready = !done[i];
            for (size_t k = 0; ready && k < dep->dynv.nneeded; k++)
                for (size_t j = 0; j < d->n; j++)
                    if (!done[j] &&
                        strcmp(d->v[j].name, dep->dynv.needed[k]) == 0)
                        ready = 0;
            if (ready) {
                done[i] = 1, left--, progress++;
                d->order[d->norder++] = i;
            }
        }
    }
    for (size_t i = 0; left && i < d->n; i++)
        if (!done[i]) {
            free(done);
            return FAIL("bundled library %s (%s) is in a cycle of libraries "
                        "that need each other; Tenon loads them one at a "
                        "time, each after what it needs",
                        d->v[i].name, d->v[i].path);
        }
    free(done);
    return 0;
}

int tenon__deps_resolve(const char *path, const struct tenon__dyn *dyn,
                        unsigned flags, uint64_t max_size,
                        struct tenon__deps *out, char *reason, size_t len)
{
    struct resolver rr = {out,   path, dyn,    flags, max_size,
                          {{0}}, {0},  reason, len};
    struct resolver *r = &rr;
    int rc = 0;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < NSYSTEM; i++)
        rr.have_sys[i] = stat(system_dirs[i], &rr.sys[i]) == 0;
    /* Breadth first, like the loader: the plugin's needs, then theirs. */
    for (size_t o = 0; rc == 0 && o <= out->n; o++) {
        if (o && out->v[o - 1].kind != TENON__DEP_BUNDLED)
            continue;
        if (depth(r, o) > DEPTH_MAX)
            return FAIL("dependencies nest deeper than %d levels at %s",
                        DEPTH_MAX, path_of(r, o));
        /* out->v moves as it grows: look the object up each time. */
        for (size_t i = 0; rc == 0 && i < dyn_of(r, o)->nneeded; i++) {
            char *name = tenon__strdup(dyn_of(r, o)->needed[i]);
            rc = name ? find_one(r, o, name) : TENON_ENOMEM;
            free(name);
        }
    }
    if (rc == 0)
        rc = check_order(r);
    if (rc == TENON_ENOMEM)
        tenon__reason(reason, len, rc, "out of memory");
    return rc;
}

void tenon__deps_free(struct tenon__deps *d)
{
    /* In any order: each loaded object holds its own dependencies, so
     * the dynamic loader unmaps a library only when nothing needs it. */
    for (size_t i = 0; i < d->n; i++) {
        struct tenon__dep *dep = &d->v[i];
        if (dep->handle)
            dlclose(dep->handle);
        if (dep->fd >= 0)
            close(dep->fd);
        free(dep->name);
        free(dep->path);
        free(dep->via);
        free(dep->dyn);
        free(dep->dynv.needed);
    }
    free(d->v);
    free(d->order);
    memset(d, 0, sizeof *d);
}
