/* The trust policy at load time: require refuses what does not verify,
 * warn loads it with a warning, off checks nothing, and the default is
 * require exactly when a trusted key exists. What is checked is a sealed
 * copy, so a write into the file after the check cannot change what runs. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testapi.h"
#include "testutil.h"

struct env {
    char *root, *plugins, *keys, *empty, *key;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    struct run r;
    e->root = make_tmpdir();
    e->plugins = path_join(e->root, "plugins");
    e->keys = path_join(e->root, "keys");
    e->empty = path_join(e->root, "nokeys");
    e->key = path_join(e->keys, "dev.key");
    assert_int_equal(mkdir(e->plugins, 0755), 0);
    assert_int_equal(mkdir(e->empty, 0755), 0);
    RUN(&r, "keygen", "--out", e->keys, "--name", "dev");
    assert_status(&r, 0);
    run_free(&r);
    char *signed_so = path_join(e->plugins, "basic.so");
    char *unsigned_so = path_join(e->plugins, "required.so");
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", signed_so);
    copy_path(TEST_PLUGIN_DIR "/required.so", unsigned_so);
    RUN(&r, "sign", signed_so, "--key", e->key);
    assert_status(&r, 0);
    run_free(&r);
    free(signed_so);
    free(unsigned_so);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    remove_tree(e->root); /* frees root */
    free(e->plugins);
    free(e->keys);
    free(e->empty);
    free(e->key);
    free(e);
    return 0;
}

static char last_warning[512];

static void keep_warning(void *ud, int level, const char *origin,
                         const char *msg)
{
    (void)ud, (void)origin;
    if (level == TENON_LOG_WARN)
        snprintf(last_warning, sizeof last_warning, "%s", msg);
}

/* A context without cache whose trust directories are `tdirs`. */
static tenon_t *open_trust_dirs(const struct env *e, int trust,
                                const char *const *tdirs, size_t n)
{
    const char *dirs[] = {e->plugins};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_WARN,
                              .log_fn = keep_warning,
                              .trust = trust,
                              .trust_dirs = tdirs,
                              .trust_dir_count = n,
                              .no_cache = 1};
    tenon_t *t;
    assert_int_equal(tenon_open(&t, &o), 0);
    return t;
}

static tenon_t *open_policy(const struct env *e, int trust, const char *keys)
{
    const char *tdirs[] = {keys};
    return open_trust_dirs(e, trust, tdirs, 1);
}

static void require_loads_only_verified(void **state)
{
    struct env *e = *state;
    tenon_instance_t *inst = NULL;
    tenon_t *t = open_policy(e, TENON_TRUST_REQUIRE, e->keys);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), 0);
    assert_string_equal(version_of(inst), "1.2.0");
    tenon_destroy(inst);
    inst = NULL;
    /* the scan already refuses the unsigned plugin, with the reason */
    assert_int_equal(tenon_create(t, "required:1,os=linux", NULL, &inst),
                     TENON_EUNAVAIL);
    assert_null(inst);
    assert_contains(tenon_last_error(), "refused by the require trust "
                                        "policy: unsigned");

    /* one byte appended after the scan: the loader's own check on the
     * bytes it is about to load catches it */
    char *so = path_join(e->plugins, "basic.so");
    FILE *f = fopen(so, "ab");
    assert_non_null(f);
    fputc(0, f);
    fclose(f);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), TENON_EPERM);
    assert_contains(tenon_last_error(), "not loaded under the require trust "
                                        "policy");
    assert_contains(tenon_last_error(), "digest mismatch");
    tenon_close(t);

    /* and a fresh scan lists it as unavailable */
    t = open_policy(e, TENON_TRUST_REQUIRE, e->keys);
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "basic", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "digest mismatch");
    tenon_close(t);
    free(so);
}

static void untrusted_key_is_refused(void **state)
{
    struct env *e = *state;
    tenon_instance_t *inst = NULL;
    /* require with a trust store that does not hold the signing key */
    tenon_t *t = open_policy(e, TENON_TRUST_REQUIRE, e->empty);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "signed by untrusted key");
    tenon_close(t);
}

static void warn_loads_with_a_warning(void **state)
{
    struct env *e = *state;
    tenon_instance_t *inst = NULL;
    last_warning[0] = '\0';
    tenon_t *t = open_policy(e, TENON_TRUST_WARN, e->keys);
    assert_int_equal(tenon_create(t, "required:1,os=linux", NULL, &inst), 0);
    assert_contains(last_warning, "loading");
    assert_contains(last_warning, "unsigned");
    tenon_destroy(inst);
    tenon_close(t);
}

static void default_policy_follows_the_trust_store(void **state)
{
    struct env *e = *state;
    tenon_instance_t *inst = NULL;
    /* no trust directory: off, the unsigned plugin loads silently */
    char *none = path_join(e->root, "no-such-dir");
    last_warning[0] = '\0';
    tenon_t *t = open_policy(e, TENON_TRUST_DEFAULT, none);
    assert_int_equal(tenon_create(t, "required:1,os=linux", NULL, &inst), 0);
    assert_string_equal(last_warning, "");
    tenon_destroy(inst);
    tenon_close(t);
    free(none);
    /* a trust directory without keys (the last one removed, as for a
     * leaked key): still require, not off */
    t = open_policy(e, TENON_TRUST_DEFAULT, e->empty);
    assert_int_equal(tenon_create(t, "required:1,os=linux", NULL, &inst),
                     TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "refused by the require trust policy");
    tenon_close(t);
    /* a trusted key: require */
    t = open_policy(e, TENON_TRUST_DEFAULT, e->keys);
    assert_int_equal(tenon_create(t, "required:1,os=linux", NULL, &inst),
                     TENON_EUNAVAIL);
    tenon_close(t);
    /* the only key removed while the host runs (a leaked key): the next
     * instances are refused, not loaded with checking turned off */
    t = open_policy(e, TENON_TRUST_DEFAULT, e->keys);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), 0);
    tenon_destroy(inst);
    char *pub = path_join(e->keys, "dev.pub"),
         *kept = path_join(e->root, "dev.pub");
    assert_int_equal(rename(pub, kept), 0);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "untrusted key");
    assert_int_equal(tenon_create(t, "required:1,os=linux", NULL, &inst),
                     TENON_EUNAVAIL);
    tenon_close(t);
    assert_int_equal(rename(kept, pub), 0);
    free(pub);
    free(kept);
    /* TENON_TRUST from the environment when the host leaves it open */
    setenv("TENON_TRUST", "off", 1);
    t = open_policy(e, TENON_TRUST_DEFAULT, e->keys);
    assert_int_equal(tenon_create(t, "required:1,os=linux", NULL, &inst), 0);
    tenon_destroy(inst);
    tenon_close(t);
    unsetenv("TENON_TRUST");
}

static const char *target, *replacement;

/* Overwrite the checked file in place (same inode) right before dlopen. */
static void overwrite_in_place(const char *path)
{
    char buf[65536];
    int in = open(replacement, O_RDONLY), out = open(path, O_WRONLY | O_TRUNC);
    ssize_t n;
    assert_string_equal(path, target);
    assert_true(in >= 0 && out >= 0);
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

static void write_after_check_changes_nothing(void **state)
{
    struct env *e = *state;
    tenon_instance_t *inst = NULL;
    char *so = path_join(e->plugins, "basic.so");
    target = so;
    replacement = TEST_PLUGIN_DIR "/basic_v2.so"; /* 1.10.0 */
    tenon_t *t = open_policy(e, TENON_TRUST_REQUIRE, e->keys);
    tenon__before_load_hook = overwrite_in_place;
    int rc = tenon_create(t, "basic", NULL, &inst);
    tenon__before_load_hook = NULL;
    assert_int_equal(rc, 0);
    /* the file on disk is now 1.10.0; the verified 1.2.0 is what runs */
    assert_string_equal(version_of(inst), "1.2.0");
    tenon_destroy(inst);
    tenon_close(t);
    free(so);
}

static ino_t cache_inode(const char *cache)
{
    char *f = path_join(cache, "scan-x86_64.cache");
    struct stat st;
    assert_int_equal(stat(f, &st), 0);
    free(f);
    return st.st_ino;
}

static void scan_with_cache(const struct env *e, int trust, const char *cache)
{
    const char *dirs[] = {e->plugins}, *tdirs[] = {e->keys};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR,
                              .trust = trust,
                              .trust_dirs = tdirs,
                              .trust_dir_count = 1,
                              .cache_dir = cache};
    tenon_t *t;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_scan(t), 0);
    tenon_close(t);
}

/* Plugin files, .meta and their directory older than any cache, so that
 * none is "racy" (changed in the clock tick a cache was written in). */
static void make_old(const struct env *e)
{
    struct timespec old[2] = {{1600000000, 0}, {1600000000, 0}};
    const char *names[] = {"basic.so", "basic.so.meta", "required.so"};
    for (int i = 0; i < 3; i++) {
        char *f = path_join(e->plugins, names[i]);
        assert_int_equal(utimensat(AT_FDCWD, f, old, 0), 0);
        free(f);
    }
    assert_int_equal(utimensat(AT_FDCWD, e->plugins, old, 0), 0);
}

/* Digests computed under a policy reach the cache even for entries the
 * cache already had (written earlier without digests), so the next scan
 * under the policy does not hash the files again. */
static void digests_reach_an_existing_cache(void **state)
{
    struct env *e = *state;
    char *cache = path_join(e->root, "cache");
    make_old(e);
    scan_with_cache(e, TENON_TRUST_OFF, cache); /* no digests */
    ino_t first = cache_inode(cache);
    scan_with_cache(e, TENON_TRUST_OFF, cache);
    assert_true(cache_inode(cache) == first); /* unchanged: not rewritten */
    scan_with_cache(e, TENON_TRUST_REQUIRE, cache);
    ino_t second = cache_inode(cache);
    assert_true(second != first); /* rewritten with the digests */
    scan_with_cache(e, TENON_TRUST_REQUIRE, cache);
    assert_true(cache_inode(cache) == second); /* nothing new to learn */
    free(cache);
}

static long verdicts_reused;

static void count_verdicts(void *ud, int level, const char *origin,
                           const char *msg)
{
    (void)ud, (void)level, (void)origin;
    sscanf(msg, "trust: %ld good verdicts reused", &verdicts_reused);
}

/* A context under require with the cache, logging at debug level so that
 * the number of verdicts reused is known after each scan. */
static tenon_t *open_cached(const struct env *e, const char *cache)
{
    const char *dirs[] = {e->plugins}, *tdirs[] = {e->keys};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_DEBUG,
                              .log_fn = count_verdicts,
                              .trust = TENON_TRUST_REQUIRE,
                              .trust_dirs = tdirs,
                              .trust_dir_count = 1,
                              .cache_dir = cache};
    tenon_t *t;
    assert_int_equal(tenon_open(&t, &o), 0);
    return t;
}

/* Scan, and return how many good verdicts came from the cache; the signed
 * plugin's status is checked against `available`. */
static long scan_verdicts(tenon_t *t, int available)
{
    const tenon_plugin_t *p;
    verdicts_reused = -1;
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_find(t, "basic", &p),
                     available ? 0 : TENON_EUNAVAIL);
    return verdicts_reused;
}

static long scan_once(const struct env *e, const char *cache, int available)
{
    tenon_t *t = open_cached(e, cache);
    long n = scan_verdicts(t, available);
    tenon_close(t);
    return n;
}

/* A good verdict is cached with the fingerprint of the keyring that
 * reached it: a warm scan verifies nothing, and any change to the trusted
 * keys makes every plugin verified again. Only good verdicts are kept: the
 * unsigned plugin is checked (and refused) on every scan. */
static void verdicts_cached_per_keyring(void **state)
{
    struct env *e = *state;
    char *cache = path_join(e->root, "cache");
    struct run r;
    make_old(e);
    assert_int_equal(scan_once(e, cache, 1), 0);
    assert_int_equal(scan_once(e, cache, 1), 1);
    /* a second trusted key (rotation): another keyring, checked again */
    RUN(&r, "keygen", "--out", e->keys, "--name", "next");
    assert_status(&r, 0);
    run_free(&r);
    assert_int_equal(scan_once(e, cache, 1), 0);
    assert_int_equal(scan_once(e, cache, 1), 1);
    tenon_t *t = open_cached(e, cache);
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "required", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "unsigned");
    tenon_close(t);
    free(cache);
}

/* The signing key removed from the trust store while a host runs: its next
 * scan loads the keys again, reuses no verdict and refuses the plugin, and
 * so does its next load. */
static void removed_key_takes_effect_without_reopening(void **state)
{
    struct env *e = *state;
    char *cache = path_join(e->root, "cache");
    char *pub = path_join(e->keys, "dev.pub");
    tenon_instance_t *inst = NULL;
    make_old(e);
    assert_int_equal(scan_once(e, cache, 1), 0);
    tenon_t *t = open_cached(e, cache);
    assert_int_equal(scan_verdicts(t, 1), 1);
    assert_int_equal(unlink(pub), 0);
    assert_int_equal(scan_verdicts(t, 0), 0);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "signed by untrusted key");
    tenon_close(t);
    free(pub);
    free(cache);
}

/* The .meta rewritten in place, one signature digit changed, its size and
 * mtime as before: its ctime moved, so the cached verdict is not used. */
static void meta_rewritten_in_place_is_checked(void **state)
{
    struct env *e = *state;
    char *cache = path_join(e->root, "cache");
    char *meta = path_join(e->plugins, "basic.so.meta");
    char buf[8192];
    struct stat st;
    make_old(e);
    assert_int_equal(scan_once(e, cache, 1), 0);
    assert_int_equal(scan_once(e, cache, 1), 1);
    assert_int_equal(stat(meta, &st), 0);
    FILE *f = fopen(meta, "r+");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    char *sig = strstr(buf, "\"signature\"");
    assert_non_null(sig);
    sig = strchr(sig + 11, '"') + 1; /* first digit of the value */
    *sig = *sig == '0' ? '1' : '0';
    rewind(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, meta, ts, 0), 0);
    assert_int_equal(scan_once(e, cache, 0), 0);
    tenon_t *t = open_cached(e, cache);
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "basic", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "signature");
    tenon_close(t);
    free(meta);
    free(cache);
}

/* ---- a trust store that cannot be used fails closed ---------------------- */

/* The reason tenon_find() gives for `name`, which must be unavailable. */
static void expect_refused(tenon_t *t, const char *name, const char *why,
                           const char *store)
{
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, name, &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "refused by the require trust policy");
    assert_contains(tenon_last_error(), why);
    assert_contains(tenon_last_error(), store);
}

/* How many keyrings the context has loaded that differ from each other. */
static size_t keyrings(const tenon_t *t)
{
    size_t n = 0;
    for (const struct tenon__keyring *kr = t->keyring; kr; kr = kr->older)
        n++;
    return n;
}

/* The trust directory exists and cannot be read: no key is known, so
 * without failing closed the default policy would be off and unsigned code
 * would run. It is require, and the refusal says why. */
static void unreadable_trust_dir_fails_closed(void **state)
{
    struct env *e = *state;
    char want[512];
    assert_int_equal(chmod(e->keys, 0), 0);
    if (permissions_enforce() != 0 ||
        faccessat(AT_FDCWD, e->keys, R_OK, AT_EACCESS) == 0) {
        permissions_restore();
        chmod(e->keys, 0700);
        skip(); /* the mode bits cannot be made to bind here */
    }
    last_warning[0] = '\0';
    tenon_t *t = open_policy(e, TENON_TRUST_DEFAULT, e->keys);
    int rc = tenon_scan(t);
    permissions_restore();
    assert_int_equal(chmod(e->keys, 0700), 0);
    assert_int_equal(rc, 0);
    snprintf(want, sizeof want,
             "; trust store problem: trust directory %s cannot be read: "
             "Permission denied",
             e->keys);
    expect_refused(t, "required", "unsigned: no ", want);
    expect_refused(t, "basic", "signed by untrusted key", want);
    assert_contains(last_warning, "cannot be read: Permission denied; "
                                  "ignoring it (the trust store fails closed)");
    /* readable again: the next scan reads the keys */
    assert_int_equal(tenon_scan(t), 0);
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    tenon_close(t);
}

/* Out of descriptors while the keyring is first read: the policy is
 * require while it lasts, retrying gives the same result without keeping
 * another keyring, and once descriptors are back the next scan reads the
 * keys, so the signed plugin becomes available. */
static void descriptor_exhaustion_is_retried(void **state)
{
    struct env *e = *state;
    const struct tenon__keyring *kr, *again;
    struct rlimit was, low;
    tenon_t *t = open_policy(e, TENON_TRUST_DEFAULT, e->keys);
    int lowest = open("/dev/null", O_RDONLY), scan_rc, policy, again_policy;
    assert_true(lowest >= 0);
    close(lowest);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
    low = was;
    low.rlim_cur = (rlim_t)lowest; /* the next open fails with EMFILE */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    scan_rc = tenon_scan(t);
    policy = tenon__trust_policy(t, &kr);
    again_policy = tenon__trust_policy(t, &again);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);

    assert_int_equal(scan_rc, 0);
    assert_int_equal(policy, TENON_TRUST_REQUIRE);
    assert_int_equal(again_policy, TENON_TRUST_REQUIRE);
    assert_int_equal(kr->n, 0);
    assert_contains(tenon__keyring_error(kr), e->keys);
    assert_contains(tenon__keyring_error(kr), "cannot be read: Too many open "
                                              "files");
    assert_ptr_equal(again, kr); /* same result: kept, not chained */
    assert_int_equal(keyrings(t), 1);
    tenon__trust_release(t, again);
    tenon__trust_release(t, kr);

    assert_int_equal(tenon_scan(t), 0);
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_int_equal(tenon_find(t, "required", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "unsigned: no ");
    assert_null(strstr(tenon_last_error(), "trust store"));
    assert_int_equal(keyrings(t), 1); /* the replaced one, unused: freed */
    tenon_close(t);
}

/* A trust directory of one key file cut short: that key is not trusted and
 * the policy still fails closed, naming the file. */
static void truncated_key_file_fails_closed(void **state)
{
    struct env *e = *state;
    char *cut = path_join(e->root, "cut"), *pub = path_join(e->keys, "dev.pub");
    char *bad = path_join(cut, "dev.pub"), line[256], want[512];
    FILE *f = fopen(pub, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_int_equal(mkdir(cut, 0700), 0);
    f = fopen(bad, "w");
    assert_non_null(f);
    fwrite(line, 1, strlen(line) / 2, f);
    fclose(f);
    last_warning[0] = '\0';
    tenon_t *t = open_policy(e, TENON_TRUST_DEFAULT, cut);
    snprintf(want, sizeof want,
             "; trust store problem: key file %s: expected one line "
             "'tenon-ed25519 <base64 key> <key id>'",
             bad);
    expect_refused(t, "required", "unsigned: no ", want);
    expect_refused(t, "basic", "signed by untrusted key", want);
    assert_contains(last_warning, bad);
    tenon_close(t);
    free(cut);
    free(pub);
    free(bad);
}

/* A trust directory that others can write to is ignored: its keys are not
 * trusted, and the default policy is require. The problem is retried on
 * every scan without a new keyring each time; fixed, it takes effect. */
static void group_writable_trust_dir_is_ignored(void **state)
{
    struct env *e = *state;
    const tenon_plugin_t *p;
    char want[512];
    assert_int_equal(chmod(e->keys, 0770), 0);
    tenon_t *t = open_policy(e, TENON_TRUST_DEFAULT, e->keys);
    snprintf(want, sizeof want,
             "; trust store problem: trust directory %s is writable by "
             "group; expected a directory writable only by its owner, owned "
             "by you or root",
             e->keys);
    expect_refused(t, "basic", "signed by untrusted key", want);
    expect_refused(t, "required", "unsigned: no ", want);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(keyrings(t), 1);
    assert_int_equal(chmod(e->keys, 0700), 0);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_int_equal(keyrings(t), 1); /* the replaced one, unused: freed */
    tenon_close(t);
}

/* A host whose trust store changes all the time (a key added and removed,
 * over and over) keeps one keyring, not one per change: a replaced keyring
 * is freed when the last scan or load using it is done, and one still in
 * use survives until then. */
static void replaced_keyrings_are_freed(void **state)
{
    struct env *e = *state;
    const struct tenon__keyring *held;
    char *pub = path_join(e->keys, "dev.pub"),
         *copy = path_join(e->keys, "copy.pub");
    tenon_t *t = open_policy(e, TENON_TRUST_DEFAULT, e->keys);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon__trust_policy(t, &held), TENON_TRUST_REQUIRE);
    for (int i = 0; i < 200; i++) {
        if (i % 2)
            assert_int_equal(unlink(copy), 0);
        else
            copy_path(pub, copy);
        assert_int_equal(tenon_scan(t), 0);
    }
    assert_int_equal(keyrings(t), 2); /* the current one and the held one */
    assert_int_equal(held->n, 1);     /* still whole */
    tenon__trust_release(t, held);
    assert_int_equal(tenon_scan(t), 0);
    copy_path(pub, copy);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(keyrings(t), 1);
    tenon_close(t);
    free(pub);
    free(copy);
}

/* A trusted key that is a symbolic link into another directory, its
 * target deleted while the host runs: the trust directory did not change,
 * but the next scan and load no longer trust the key. */
static void link_target_removed_takes_effect(void **state)
{
    struct env *e = *state;
    tenon_instance_t *inst = NULL;
    const tenon_plugin_t *p;
    char *store = path_join(e->root, "store"),
         *pub = path_join(e->keys, "dev.pub"),
         *target = path_join(store, "dev.pub"),
         *link = path_join(store, "link.pub");
    /* store/link.pub -> keys/dev.pub; the trust directory is store */
    assert_int_equal(mkdir(store, 0700), 0);
    assert_int_equal(symlink(pub, link), 0);
    free(target);
    usleep(1100 * 1000); /* an older trust directory: read once, then kept */
    tenon_t *t = open_policy(e, TENON_TRUST_REQUIRE, store);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    char *aside = path_join(e->root, "dev.pub");
    assert_int_equal(rename(pub, aside), 0);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_find(t, "basic", &p), TENON_EUNAVAIL);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), TENON_EUNAVAIL);
    tenon_close(t);
    assert_int_equal(rename(aside, pub), 0);
    free(aside);
    free(store);
    free(pub);
    free(link);
}

/* The loader's own refusal names the trust store's problem too. */
static void loader_refusal_names_the_trust_store(void **state)
{
    struct env *e = *state;
    char *odd = path_join(e->root, "odd"), *bad = path_join(odd, "bad.pub");
    char *so = path_join(e->plugins, "basic.so");
    const char *tdirs[] = {e->keys, odd};
    tenon_instance_t *inst = NULL;
    char want[512];
    assert_int_equal(mkdir(odd, 0700), 0);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("garbage\n", f);
    fclose(f);
    tenon_t *t = open_trust_dirs(e, TENON_TRUST_DEFAULT, tdirs, 2);
    assert_int_equal(tenon_scan(t), 0); /* basic is signed by a trusted key */
    f = fopen(so, "ab");
    assert_non_null(f);
    fputc(0, f);
    fclose(f);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), TENON_EPERM);
    snprintf(want, sizeof want,
             "; trust store problem: key file %s: expected one line "
             "'tenon-ed25519 <base64 key> <key id>'",
             bad);
    assert_contains(tenon_last_error(), "not loaded under the require trust "
                                        "policy");
    assert_contains(tenon_last_error(), "digest mismatch");
    assert_contains(tenon_last_error(), want);
    tenon_close(t);
    free(odd);
    free(bad);
    free(so);
}

/* ---- the largest file hashed or loaded ------------------------------------
 */

/* An 8 GiB sparse plugin with a .meta: the scan does not read it all (it
 * used to take 25 s a scan), it refuses it naming the limit. So does the
 * loader, with a host option lowering the limit under the plugin's size. */
static void huge_file_is_not_hashed(void **state)
{
    struct env *e = *state;
    const tenon_plugin_t *p;
    tenon_instance_t *inst = NULL;
    char *so = path_join(e->plugins, "basic.so"),
         *huge = path_join(e->plugins, "huge.so");
    copy_path(TEST_PLUGIN_DIR "/basic_v2.so", huge);
    assert_int_equal(truncate(huge, 8ll << 30), 0);
    struct run r;
    /* any .meta: without one there is nothing to check, so nothing to
     * hash */
    char *meta = path_join(e->plugins, "huge.so.meta");
    char *basic_meta = path_join(e->plugins, "basic.so.meta");
    copy_path(basic_meta, meta);
    free(basic_meta);
    free(meta);
    tenon_t *t = open_policy(e, TENON_TRUST_REQUIRE, e->keys);
    assert_int_equal(tenon_find(t, "basic@1.10.0", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "8589934592 bytes, more than the "
                                        "268435456 a scan hashes "
                                        "(max_file_size)");
    tenon_close(t);

    /* A limit below basic.so's size: the scan refuses it, and with no
     * policy (nothing hashed) the loader does. */
    struct stat st;
    assert_int_equal(stat(so, &st), 0);
    const char *dirs[] = {e->plugins}, *tdirs[] = {e->keys};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .trust = TENON_TRUST_REQUIRE,
                              .trust_dirs = tdirs,
                              .trust_dir_count = 1,
                              .no_cache = 1,
                              .max_file_size = (uint64_t)st.st_size - 1};
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_find(t, "basic@1.2.0", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "(max_file_size)");
    tenon_close(t);
    o.trust = TENON_TRUST_OFF;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_create(t, "basic@1.2.0", NULL, &inst),
                     TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "more than the");
    assert_contains(tenon_last_error(), "the host checks and loads "
                                        "(max_file_size)");
    tenon_close(t);

    /* The CLI's hashing and copying stop at the default limit too. */
    const char *env[] = {"TENON_TRUST=require", NULL};
    RUN_ENV(&r, env, "verify", huge);
    assert_status(&r, 1);
    assert_contains(r.out, "more than the 268435456 bytes the host hashes "
                           "(max_file_size)");
    run_free(&r);
    RUN(&r, "sign", huge, "--key", e->key);
    assert_status(&r, 1);
    assert_contains(r.err, "larger than 268435456 bytes");
    run_free(&r);
    RUN(&r, "install", huge, "--dir", e->empty);
    assert_status(&r, 1);
    assert_contains(r.err, "is larger than 268435456 bytes, the most a host "
                           "hashes and loads by default (max_file_size)");
    run_free(&r);

    /* A file read past the limit (as one that grows while it is hashed
     * would be) stops the digest there. */
    int fd = open(huge, O_RDONLY);
    unsigned char d[32];
    assert_int_equal(tenon__digest_fd(fd, 1 << 20, d), TENON_ERANGE);
    close(fd);
    free(so);
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(require_loads_only_verified, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(untrusted_key_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(warn_loads_with_a_warning, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(default_policy_follows_the_trust_store,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(write_after_check_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(digests_reach_an_existing_cache, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(verdicts_cached_per_keyring, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            removed_key_takes_effect_without_reopening, setup, teardown),
        cmocka_unit_test_setup_teardown(meta_rewritten_in_place_is_checked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(unreadable_trust_dir_fails_closed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(descriptor_exhaustion_is_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(truncated_key_file_fails_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(group_writable_trust_dir_is_ignored,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(loader_refusal_names_the_trust_store,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(huge_file_is_not_hashed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(replaced_keyrings_are_freed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(link_target_removed_takes_effect, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
