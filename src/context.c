/* The context: search path, log settings, and teardown. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef TENON_PREFIX
#define TENON_PREFIX "/usr/local"
#endif

/* A growing list of directories, each once, in the order first given. */
struct dirs {
    char ***v;
    size_t *n, cap;
};

static int add_dir(struct dirs *d, const char *dir, size_t len)
{
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < *d->n; i++)
        if (strlen((*d->v)[i]) == len && memcmp((*d->v)[i], dir, len) == 0)
            return 0;
    if (tenon__grow(d->v, &d->cap, *d->n + 1, sizeof **d->v) ||
        !((*d->v)[*d->n] = tenon__strndup(dir, len)))
        return TENON_ENOMEM;
    (*d->n)++;
    return 0;
}

/* "$HOME/rest" or "$XDG/rest" when the XDG variable is set, into the list. */
static int add_home_dir(struct dirs *d, const char *xdg_var,
                        const char *home_rel, const char *rest)
{
    const char *xdg = xdg_var ? getenv(xdg_var) : NULL, *home = getenv("HOME");
    char *dir = NULL;
    int rc;
    if (xdg && *xdg == '/')
        dir = tenon__asprintf("%s/%s", xdg, rest);
    else if (home && *home)
        dir = tenon__asprintf("%s/%s/%s", home, home_rel, rest);
    else
        return 0;
    rc = dir ? add_dir(d, dir, strlen(dir)) : TENON_ENOMEM;
    free(dir);
    return rc;
}

static int plugin_paths(tenon_t *t, const struct tenon_options *o)
{
    struct dirs d = {&t->paths, &t->npaths, 0};
    const char *env = getenv("TENON_PLUGIN_PATH");
    int rc = 0;
    if (o->plugin_paths) {
        for (size_t i = 0; i < o->plugin_path_count && rc == 0; i++)
            rc = add_dir(&d, o->plugin_paths[i], strlen(o->plugin_paths[i]));
        return rc;
    }
    if (env)
        for (const char *p = env; rc == 0;) {
            const char *colon = strchr(p, ':');
            size_t n = colon ? (size_t)(colon - p) : strlen(p);
            rc = add_dir(&d, p, n);
            if (!colon)
                break;
            p = colon + 1;
        }
    if (rc == 0)
        rc = add_home_dir(&d, NULL, ".local/lib", "tenon");
    if (rc == 0)
        rc = add_dir(&d, TENON_PREFIX "/lib/tenon",
                     strlen(TENON_PREFIX "/lib/tenon"));
    return rc;
}

static int trust_dirs(tenon_t *t, const struct tenon_options *o)
{
    struct dirs d = {&t->trust_dirs, &t->ntrust_dirs, 0};
    int rc = 0;
    if (o->trust_dirs) {
        for (size_t i = 0; i < o->trust_dir_count && rc == 0; i++)
            rc = add_dir(&d, o->trust_dirs[i], strlen(o->trust_dirs[i]));
        return rc;
    }
    rc = add_home_dir(&d, "XDG_CONFIG_HOME", ".config", "tenon/trusted");
    return rc ? rc : add_dir(&d, "/etc/tenon/trusted", 18);
}

/* TENON_TRUST when the host left the policy to the environment. */
static int trust_policy(tenon_t *t, int given)
{
    static const char *const names[] = {NULL, "off", "warn", "require"};
    const char *env = getenv("TENON_TRUST");
    if (given != TENON_TRUST_DEFAULT || !env || !*env)
        return given;
    for (int i = TENON_TRUST_OFF; i <= TENON_TRUST_REQUIRE; i++)
        if (strcmp(env, names[i]) == 0)
            return i;
    tenon__log(t, TENON_LOG_WARN, "tenon",
               "TENON_TRUST='%.40s' is not a policy (require, warn, off); "
               "using the default",
               env);
    return given;
}

static int cache_dir(tenon_t *t, const struct tenon_options *o)
{
    const char *env = getenv("TENON_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (o->no_cache)
        return 0;
    if (o->cache_dir || (env && *env))
        t->cache_dir = tenon__strdup(o->cache_dir ? o->cache_dir : env);
    else if (xdg && *xdg == '/')
        t->cache_dir = tenon__asprintf("%s/tenon", xdg);
    else if (home && *home)
        t->cache_dir = tenon__asprintf("%s/.cache/tenon", home);
    else
        return 0; /* nowhere to keep it: scan without a cache */
    return t->cache_dir ? 0 : TENON_ENOMEM;
}

int tenon_open(tenon_t **out, const struct tenon_options *opts)
{
    struct tenon_options o;
    int rc = 0, level = TENON_LOG_WARN;
    tenon_t *t;

    *out = NULL;
    memset(&o, 0, sizeof o);
    if (opts) /* a shorter struct from an older host: take what it has */
        memcpy(&o, opts,
               opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    if (!(t = calloc(1, sizeof *t)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    if (tenon__callbacks_init(&t->callbacks)) {
        free(t);
        return tenon__fail(TENON_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->trust_lock, NULL);
    t->scan_threads = o.scan_threads;
    t->log_fn = o.log_fn;
    t->log_ud = o.log_ud;
    const char *env = o.log_level < 0 ? getenv("TENON_LOG") : NULL;
    int bad_env = 0;
    if (o.log_level > 0)
        level = o.log_level > TENON_LOG_TRACE ? TENON_LOG_TRACE : o.log_level;
    else if (env && tenon_log_level_parse(env, &level) != 0) {
        level = TENON_LOG_WARN;
        bad_env = 1;
    }
    atomic_init(&t->log_level, level);
    if (bad_env)
        tenon__log(t, TENON_LOG_WARN, "tenon",
                   "TENON_LOG='%.40s' is not a level (off, error, warn, info, "
                   "debug, trace); using warn",
                   env);
    t->no_cache = o.no_cache;
    t->max_file_size =
        o.max_file_size ? o.max_file_size : TENON_MAX_FILE_SIZE_DEFAULT;
    t->trust = trust_policy(t, o.trust);
    if (!(rc = plugin_paths(t, &o)) && !(rc = trust_dirs(t, &o)))
        rc = cache_dir(t, &o);
    if (rc) {
        tenon_close(t);
        return tenon__fail(rc, "out of memory");
    }
    /* an operator's policy that cannot be read must not mean "no policy" */
    if ((rc = tenon__ops_policy_env(t))) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tenon_last_error());
        tenon_close(t);
        return tenon__fail(rc, "TENON_POLICY: %s", msg);
    }
    *out = t;
    return 0;
}

void tenon_close(tenon_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nplugins; i++)
        tenon__plugin_free(t->plugins[i]);
    for (size_t i = 0; i < t->nretired; i++)
        tenon__plugin_free(t->retired[i]);
    for (size_t i = 0; i < t->npaths; i++)
        free(t->paths[i]);
    for (size_t i = 0; i < t->ntrust_dirs; i++)
        free(t->trust_dirs[i]);
    free(t->trust_dirs);
    free(t->cache_dir);
    while (t->libraries) { /* leaked instances: keep their code mapped */
        struct tenon__library *lib = t->libraries;
        t->libraries = lib->next;
        tenon__log(t, TENON_LOG_WARN, "tenon",
                   "%s still has %zu live instance(s) at close", lib->path,
                   lib->refs);
        free(lib->path);
        free(lib);
    }
    free(t->plugins);
    free(t->retired);
    free(t->paths);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->trust_lock);
    tenon__callbacks_free(&t->callbacks);
    tenon__ops_free(t);
    while (t->keyring) {
        struct tenon__keyring *kr = t->keyring;
        t->keyring = kr->older;
        tenon__keyring_free(kr);
        free(kr);
    }
    free(t->trust_stamps);
    free(t);
}

size_t tenon_search_path_count(const tenon_t *t) { return t->npaths; }

const char *tenon_search_path(const tenon_t *t, size_t i)
{
    return i < t->npaths ? t->paths[i] : NULL;
}

/* ---- logging ------------------------------------------------------------- */

static const char *const level_names[] = {"off",  "error", "warn",
                                          "info", "debug", "trace"};

const char *tenon_log_level_name(int level)
{
    return level >= 0 && level <= TENON_LOG_TRACE ? level_names[level] : "?";
}

int tenon_log_level_parse(const char *s, int *level)
{
    for (int i = 0; i <= TENON_LOG_TRACE; i++)
        if (strcmp(s, level_names[i]) == 0 ||
            (s[0] == '0' + i && s[1] == '\0')) {
            *level = i;
            return 0;
        }
    if (strcmp(s, "warning") == 0) {
        *level = TENON_LOG_WARN;
        return 0;
    }
    return tenon__fail(TENON_EINVAL,
                       "unknown log level '%s'; expected off, error, warn, "
                       "info, debug or trace",
                       s);
}

void tenon_set_log_level(tenon_t *t, int level)
{
    if (level < TENON_LOG_OFF)
        level = TENON_LOG_OFF;
    if (level > TENON_LOG_TRACE)
        level = TENON_LOG_TRACE;
    atomic_store(&t->log_level, level);
}

int tenon_get_log_level(const tenon_t *t)
{
    return atomic_load(&((tenon_t *)t)->log_level);
}

void tenon__vlog(const tenon_t *t, int level, const char *origin,
                 const char *fmt, va_list ap)
{
    char msg[1024];
    if (level <= TENON_LOG_OFF || level > tenon_get_log_level(t))
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (t->log_fn) {
        t->log_fn(t->log_ud, level, origin ? origin : "?", msg);
        return;
    }
    /* To a terminal, most likely: what a plugin or a file name put in the
     * line is escaped, so it cannot forge lines or steer the terminal. */
    char *safe = tenon__escape(msg);
    fprintf(stderr, "%s: %s: %s\n", origin ? origin : "?",
            tenon_log_level_name(level), safe ? safe : "(out of memory)");
    free(safe);
}

void tenon__log(const tenon_t *t, int level, const char *origin,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tenon__vlog(t, level, origin, fmt, ap);
    va_end(ap);
}

/* ---- the trust policy ---------------------------------------------------- */

/* Stamp each trust directory (listed = it exists). */
static void stamp_trust_dirs(const tenon_t *t, struct tenon__dir_stamp *out)
{
    for (size_t i = 0; i < t->ntrust_dirs; i++) {
        struct stat st;
        memset(&out[i], 0, sizeof out[i]);
        if (stat(t->trust_dirs[i], &st) != 0)
            continue;
        out[i].listed = 1;
        out[i].dev = (uint64_t)st.st_dev;
        out[i].ino = (uint64_t)st.st_ino;
        out[i].mtime_ns = tenon__mtime_ns(&st);
        out[i].ctime_ns = tenon__ctime_ns(&st);
    }
}

/* Did a directory change within the last second? A second change within
 * the file system's clock tick could then leave the same stamp, so such
 * stamps are not trusted: the keyring is read again on the next call. */
static int recently_changed(const struct tenon__dir_stamp *s, size_t n)
{
    struct timespec ts;
    int64_t now;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    for (size_t i = 0; i < n; i++)
        if (s[i].listed && (s[i].mtime_ns > now - 1000000000 ||
                            s[i].ctime_ns > now - 1000000000))
            return 1;
    return 0;
}

/* Do the key files that are symbolic links still lead to what they led to
 * when the keyring was read? (A removed or replaced target leaves the
 * trust directory as it was.) */
static int links_unchanged(const struct tenon__keyring *kr)
{
    struct stat st;
    for (size_t i = 0; kr && i < kr->n; i++)
        if (kr->keys[i].link &&
            (stat(kr->keys[i].path, &st) != 0 ||
             st.st_dev != kr->keys[i].target_dev ||
             st.st_ino != kr->keys[i].target_ino ||
             tenon__ctime_ns(&st) != kr->keys[i].target_ctime_ns))
            return 0;
    return 1;
}

/* Free the replaced keyrings that no caller uses any more. Caller holds
 * trust_lock. */
static void drop_unused(tenon_t *t)
{
    struct tenon__keyring **pp = &t->keyring->older;
    while (*pp) {
        struct tenon__keyring *kr = *pp;
        if (kr->users) {
            pp = &kr->older;
            continue;
        }
        *pp = kr->older;
        tenon__keyring_free(kr);
        free(kr);
    }
}

/* Load the keyring when it was never loaded, when a trust directory changed
 * since (a key added or removed, e.g. by `tenon trust`), or when the last
 * load had problems: a passing one (EMFILE) must not stick, and a fixed one
 * takes effect. A reload that finds what the keyring in use holds keeps
 * that one, so retrying on every call costs no memory. A keyring replaced
 * may be in use by another thread: it is kept until its last user gives it
 * back. Caller holds trust_lock. */
static void refresh_keyring(tenon_t *t)
{
    size_t n = t->ntrust_dirs ? t->ntrust_dirs : 1;
    struct tenon__dir_stamp *now = calloc(n, sizeof *now);
    struct tenon__keyring *kr;
    int loaded = t->keyring_state > 0;
    if (!now) {
        if (t->keyring_state == 0)
            t->keyring_state = -1;
        return;
    }
    /* Stamped before reading, so a change made while reading is seen by
     * the next call. */
    stamp_trust_dirs(t, now);
    int same = t->trust_stamps && !t->trust_racy &&
               memcmp(now, t->trust_stamps, n * sizeof *now) == 0 &&
               links_unchanged(t->keyring);
    if (loaded && same && !t->keyring->nproblems) {
        free(now);
        return;
    }
    if (loaded && !same)
        tenon__log(t, TENON_LOG_DEBUG, "tenon",
                   "trust directories changed: reloading the trusted keys");
    if (!(kr = calloc(1, sizeof *kr)) || tenon__keyring_load(t, kr) != 0) {
        free(kr);
        free(now);
        if (t->keyring_state <= 0) {
            t->keyring_state = -1;
            tenon__log(t, TENON_LOG_ERROR, "tenon",
                       "cannot load the trusted keys: every signature "
                       "check will fail");
        }
        return; /* a loaded keyring stays; the next call tries again */
    }
    if (loaded && tenon__keyring_same(kr, t->keyring)) {
        tenon__keyring_free(kr);
        free(kr);
    } else {
        tenon__keyring_warn(t, kr);
        kr->older = t->keyring;
        t->keyring = kr;
        t->keyring_state = 1;
        drop_unused(t);
    }
    free(t->trust_stamps);
    t->trust_stamps = now;
    t->trust_racy = recently_changed(now, t->ntrust_dirs);
}

/* The policy in force with keyring `kr`: the host's or TENON_TRUST's, else
 * require when a trust directory exists (with keys or not: removing the
 * last key must not turn checking off) or the trust store has a problem
 * (it fails closed), else off. */
static int policy_for(const tenon_t *t, const struct tenon__keyring *kr)
{
    if (t->trust != TENON_TRUST_DEFAULT)
        return t->trust;
    return kr->n || kr->ndirs || kr->error ? TENON_TRUST_REQUIRE
                                           : TENON_TRUST_OFF;
}

/* The keyrings of the policy off, and of a load that failed for memory. */
static const struct tenon__keyring none = {.fingerprint = 1};
static const struct tenon__keyring failed = {
    .fingerprint = 1,
    .error = "; trust store problem: the trusted keys could not be "
             "loaded (out of memory)"};

int tenon__trust_policy(tenon_t *t, const struct tenon__keyring **kr)
{
    *kr = &none;
    if (t->trust == TENON_TRUST_OFF)
        return TENON_TRUST_OFF;
    pthread_mutex_lock(&t->trust_lock);
    refresh_keyring(t);
    if (t->keyring_state > 0) {
        t->keyring->users++;
        *kr = t->keyring;
    } else {
        *kr = &failed;
    }
    pthread_mutex_unlock(&t->trust_lock);
    return policy_for(t, *kr);
}

void tenon__trust_release(tenon_t *t, const struct tenon__keyring *kr)
{
    if (!kr || kr == &none || kr == &failed) /* nothing was taken */
        return;
    pthread_mutex_lock(&t->trust_lock);
    ((struct tenon__keyring *)kr)->users--;
    if (t->keyring && kr != t->keyring)
        drop_unused(t);
    pthread_mutex_unlock(&t->trust_lock);
}
