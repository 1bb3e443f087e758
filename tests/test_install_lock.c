/*
 * Installs and removes are atomic as a pair: a plugin file and its .meta
 * are replaced or deleted under the directory's install lock, so two
 * installs of one name@version never leave one's file beside the other's
 * .meta, and a scan that catches a pair half replaced waits for the lock
 * and checks again instead of refusing the plugin. A lock held forever
 * delays a scan by a bounded wait only, and makes installs fail, not hang.
 *
 * The two builds installed are both basic 1.2.0, signed with a key the
 * scans trust: basic_v1.so itself (A) and a copy with one byte appended
 * (B), whose digest differs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define INSTALLED "basic-1.2.0.so"

struct env {
    char *root, *plugins, *keys, *a, *b;
    const char *dirs[1], *tdirs[1]; /* plugins, keys: for tenon_options */
    unsigned char digest_a[32], digest_b[32];
    pid_t holder; /* a process holding the install lock, or 0 */
};

static void digest_of(const char *path, unsigned char out[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(tenon__digest_fd(fd, UINT64_MAX, out), 0);
    close(fd);
}

/* A copy of the test plugin `src` as `so`, with `extra` zero bytes appended
 * (a valid plugin still, with another digest), signed with keys/k.key. */
static void signed_copy(const struct env *e, const char *src, const char *so,
                        long extra)
{
    char *key = path_join(e->keys, "k.key");
    struct run r;
    copy_path(src, so);
    FILE *f = fopen(so, "ab");
    assert_non_null(f);
    for (long i = 0; i < extra; i++)
        fputc(0, f);
    assert_int_equal(fclose(f), 0);
    RUN(&r, "sign", so, "--key", key);
    assert_status(&r, 0);
    run_free(&r);
    free(key);
}

/* basic_v1.so as dir/basic.so, signed, with `extra` bytes appended. */
static char *signed_build(const struct env *e, const char *dir, int extra)
{
    char *so = path_join(dir, "basic.so");
    assert_int_equal(mkdir(dir, 0755), 0);
    signed_copy(e, TEST_PLUGIN_DIR "/basic_v1.so", so, extra);
    return so;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    struct run r;
    assert_non_null(e);
    e->root = make_tmpdir();
    e->plugins = path_join(e->root, "plugins");
    e->keys = path_join(e->root, "keys");
    e->dirs[0] = e->plugins;
    e->tdirs[0] = e->keys;
    assert_int_equal(mkdir(e->plugins, 0755), 0);
    RUN(&r, "keygen", "--out", e->keys, "--name", "k");
    assert_status(&r, 0);
    run_free(&r);
    char *da = path_join(e->root, "a"), *db = path_join(e->root, "b");
    e->a = signed_build(e, da, 0);
    e->b = signed_build(e, db, 1);
    digest_of(e->a, e->digest_a);
    digest_of(e->b, e->digest_b);
    free(da);
    free(db);
    *state = e;
    return 0;
}

static void release_holder(struct env *e)
{
    if (e->holder > 0) {
        kill(e->holder, SIGKILL);
        waitpid(e->holder, NULL, 0);
        e->holder = 0;
    }
}

static int teardown(void **state)
{
    struct env *e = *state;
    release_holder(e);
    tenon__install_hook = NULL;
    tenon__install_wait_ms = 30000;
    remove_tree(e->root);
    free(e->plugins);
    free(e->keys);
    free(e->a);
    free(e->b);
    free(e);
    return 0;
}

/* Which build the installed pair is: 'A' or 'B' when the file and its
 * .meta both describe that build's bytes; 'x' when they disagree. */
static char installed_pair(const struct env *e)
{
    char *so = path_join(e->plugins, INSTALLED);
    char *meta = path_join(e->plugins, INSTALLED ".meta");
    char why[TENON__REASON_MAX];
    unsigned char d[32];
    struct tenon__meta m;
    char which = 'x';
    digest_of(so, d);
    assert_int_equal(tenon__meta_read(meta, &m, why, sizeof why), 0);
    if (memcmp(d, m.digest, 32) == 0)
        which = memcmp(d, e->digest_a, 32) == 0   ? 'A'
                : memcmp(d, e->digest_b, 32) == 0 ? 'B'
                                                  : '?';
    tenon__meta_free(&m);
    free(so);
    free(meta);
    return which;
}

/* Options for the plugin directory under the require policy, trusting
 * keys/, with or without the scan cache (the test's own cache directory). */
static struct tenon_options require_options(const struct env *e, int no_cache)
{
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = e->dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR,
                              .trust = TENON_TRUST_REQUIRE,
                              .trust_dirs = e->tdirs,
                              .trust_dir_count = 1,
                              .no_cache = no_cache};
    return o;
}

static tenon_t *open_require(const struct env *e, int no_cache)
{
    struct tenon_options o = require_options(e, no_cache);
    tenon_t *t;
    assert_int_equal(tenon_open(&t, &o), 0);
    return t;
}

/* ---- an install paused between its .meta and its file ------------------- */

/* The install under test stops in the hook between its .meta and its file,
 * starts `second` in another thread, and waits until that either finds the
 * install lock held (as it must) or gets on without it: publishes an
 * install of its own, or finishes. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *(*second)(void *);
    const struct env *e;
    pthread_t th;
    int started, busy, published, done; /* what the second one did so far */
    int busy_while_paused, progressed_while_paused;
} race = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void race_done(void)
{
    pthread_mutex_lock(&race.mu);
    race.done = 1;
    pthread_cond_broadcast(&race.cv);
    pthread_mutex_unlock(&race.mu);
}

static void race_hook(int stage, const char *path)
{
    (void)path;
    pthread_mutex_lock(&race.mu);
    if (stage == TENON__HOOK_LOCK_BUSY) {
        race.busy = 1;          /* the paused install took the lock unopposed */
    } else if (!race.started) { /* the install under test, paused */
        race.started = 1;
        if (pthread_create(&race.th, NULL, race.second, NULL) != 0)
            race.done = 1;
        /* A guard against hanging, not a timing assumption: either event
         * comes within milliseconds. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 60;
        while (!race.busy && !race.published && !race.done)
            if (pthread_cond_timedwait(&race.cv, &race.mu, &until) != 0)
                break;
        race.busy_while_paused = race.busy;
        race.progressed_while_paused = race.published || race.done;
    } else {
        race.published = 1;
    }
    pthread_cond_broadcast(&race.cv);
    pthread_mutex_unlock(&race.mu);
}

/* Install `file` with `second` run while it is paused; then join it. */
static void install_racing(const struct env *e, const char *file,
                           void *(*second)(void *))
{
    pthread_mutex_lock(&race.mu);
    race.second = second;
    race.e = e;
    race.started = race.busy = race.published = race.done = 0;
    race.busy_while_paused = race.progressed_while_paused = 0;
    pthread_mutex_unlock(&race.mu);
    tenon__install_hook = race_hook;
    int rc = tenon_install(file, e->plugins, NULL);
    if (race.started)
        pthread_join(race.th, NULL);
    tenon__install_hook = NULL; /* the second one is done with it too */
    assert_int_equal(rc, 0);
    assert_true(race.started);
}

static int b_rc;

static void *install_b(void *arg)
{
    (void)arg;
    b_rc = tenon_install(race.e->b, race.e->plugins, NULL);
    race_done();
    return NULL;
}

/* Install A is paused between its .meta and its file while install B of
 * the same name and version runs: B waits for A, then replaces all of A. */
static void concurrent_installs_serialise(void **state)
{
    struct env *e = *state;
    install_racing(e, e->a, install_b);
    assert_int_equal(b_rc, 0);
    /* the pair is whole, and it is B's */
    assert_int_equal(installed_pair(e), 'B');
    /* B found the lock held while A was half done, and published nothing
     * until A had finished */
    assert_true(race.busy_while_paused);
    assert_false(race.progressed_while_paused);
}

static struct {
    int status;
    int64_t size;
    char reason[512];
} seen;

static void *scan_once(void *arg)
{
    struct tenon_options o = require_options(race.e, 1);
    const tenon_plugin_t *p;
    tenon_t *t;
    (void)arg;
    seen.status = -1;
    if (tenon_open(&t, &o) == 0) { /* no cmocka asserts in this thread */
        if (tenon_scan(t) == 0 && tenon_plugin_count(t) == 1) {
            p = tenon_plugin_at(t, 0);
            seen.status = tenon_plugin_status(p);
            seen.size = p->size;
            snprintf(seen.reason, sizeof seen.reason, "%s",
                     tenon_plugin_reason(p) ? tenon_plugin_reason(p) : "");
        }
        tenon_close(t);
    }
    race_done();
    return NULL;
}

/* A scan reads A's file and B's .meta while B is being installed over A:
 * it waits for the install to finish and finds B's pair, whole. */
static void scan_waits_for_install_in_progress(void **state)
{
    struct env *e = *state;
    struct stat st;
    assert_int_equal(tenon_install(e->a, e->plugins, NULL), 0);
    install_racing(e, e->b, scan_once);
    assert_true(race.busy_while_paused);
    assert_false(race.progressed_while_paused);
    if (seen.status != TENON_AVAILABLE)
        fail_msg("refused: %s", seen.reason);
    assert_int_equal(stat(e->b, &st), 0);
    assert_int_equal(seen.size, (int64_t)st.st_size); /* B, not A */
}

/* ---- a remove between a scan's probe and its trust check ----------------- */

static struct {
    const struct env *e;
    int ran, rc;
} mid;

/* The scan logs the unusable junk file once it has probed the directory,
 * before any trust check: the moment to remove the plugin it probed. */
static void remove_midscan(void *ud, int level, const char *origin,
                           const char *msg)
{
    (void)ud, (void)level, (void)origin;
    if (!mid.ran && strstr(msg, "/junk.so: unavailable")) {
        mid.ran = 1;
        mid.rc = tenon_remove("basic", mid.e->plugins, NULL);
    }
}

/* The file the scan probed is gone when it checks the digest: the scan
 * lists the directory as it is after the remove, without the plugin,
 * instead of refusing a plugin that is no longer there. */
static void remove_between_probe_and_check(void **state)
{
    struct env *e = *state;
    struct tenon_options o = require_options(e, 1);
    char *junk = path_join(e->plugins, "junk.so");
    const tenon_plugin_t *p;
    tenon_t *t;
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fputs("not a plugin\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(tenon_install(e->a, e->plugins, NULL), 0);
    mid.e = e;
    mid.ran = 0;
    o.log_level = TENON_LOG_DEBUG;
    o.log_fn = remove_midscan;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_scan(t), 0);
    assert_true(mid.ran);
    assert_int_equal(mid.rc, 0);
    if (tenon_find(t, "basic", &p) != TENON_ENOENT)
        fail_msg("basic still listed: %s", tenon_last_error());
    assert_int_equal(tenon_plugin_count(t), 1); /* junk.so */
    tenon_close(t);
    free(junk);
}

/* ---- scans while installs and removes run -------------------------------- */

struct churn {
    const struct env *e;
    int removes;       /* install then remove, instead of A then B */
    atomic_int done;   /* rounds of the writer completed */
    atomic_int stop;   /* the scans are finished */
    atomic_int failed; /* a writer call failed (its code) */
    char error[512];   /* and its message */
};

#define SCANS  500
#define ROUNDS 50

static void *churn_writer(void *arg)
{
    struct churn *c = arg;
    for (int i = 0; i < ROUNDS || !atomic_load(&c->stop); i++) {
        int rc = tenon_install(i % 2 && !c->removes ? c->e->b : c->e->a,
                               c->e->plugins, NULL);
        if (rc == 0 && c->removes)
            rc = tenon_remove("basic", c->e->plugins, NULL);
        if (rc) {
            snprintf(c->error, sizeof c->error, "%s", tenon_last_error());
            atomic_store(&c->failed, rc);
            break;
        }
        atomic_store(&c->done, i + 1);
    }
    return NULL;
}

/* At least SCANS scans under the require policy while the writer does at
 * least ROUNDS rounds (each keeps going until the other is done too, so
 * they overlap); every second scan uses the scan cache. Returns how many
 * scans saw the plugin refused (or failed), keeping the first reason. No
 * cmocka assert until the writer is stopped. */
static int scan_during(struct churn *c, char *first, size_t len)
{
    pthread_t th;
    int refused = 0;
    first[0] = '\0';
    assert_int_equal(pthread_create(&th, NULL, churn_writer, c), 0);
    for (int n = 0; (n < SCANS || atomic_load(&c->done) < ROUNDS) &&
                    !atomic_load(&c->failed);
         n++) {
        struct tenon_options o = require_options(c->e, n % 2);
        tenon_t *t = NULL;
        int bad = 0;
        if (tenon_open(&t, &o) != 0 || tenon_scan(t) != 0) {
            if (!first[0])
                snprintf(first, len, "scan failed: %s", tenon_last_error());
            refused++;
            tenon_close(t);
            continue;
        }
        for (size_t i = 0; i < tenon_plugin_count(t); i++) {
            const tenon_plugin_t *p = tenon_plugin_at(t, i);
            if (tenon_plugin_status(p) == TENON_AVAILABLE)
                continue;
            if (!first[0])
                snprintf(first, len, "%s: %s", tenon_plugin_path(p),
                         tenon_plugin_reason(p));
            bad = 1;
        }
        refused += bad;
        tenon_close(t);
    }
    atomic_store(&c->stop, 1);
    pthread_join(th, NULL);
    if (atomic_load(&c->failed))
        fail_msg("writer failed: %s", c->error);
    return refused;
}

/* A thread installs A and B in turn; no scan refuses the plugin, as scans
 * did whenever they read the new .meta beside the old file. */
static void scans_during_reinstalls(void **state)
{
    struct env *e = *state;
    struct churn c = {.e = e};
    char first[1024];
    int refused = scan_during(&c, first, sizeof first);
    if (refused)
        fail_msg("%d scans refused the plugin; the first: %s", refused, first);
    assert_true(installed_pair(e) == 'A' || installed_pair(e) == 'B');
}

/* A thread installs and removes; a scan lists the plugin whole or not at
 * all, never refused for a file or .meta that went away while it read.
 * A big signed plugin checked before it widens the time between the
 * plugin's probe and its check, so that removes land there often (before
 * the install lock, 20 to 35 of the scans refused it). */
static void scans_during_removes(void **state)
{
    struct env *e = *state;
    struct churn c = {.e = e, .removes = 1};
    char first[1024], *big = path_join(e->plugins, "aaa-big.so");
    signed_copy(e, TEST_PLUGIN_DIR "/marker.so", big, 1L << 20);
    free(big);
    int refused = scan_during(&c, first, sizeof first);
    if (refused)
        fail_msg("%d scans refused the plugin; the first: %s", refused, first);
}

/* ---- a lock held forever ------------------------------------------------- */

/* A child process that takes the plugin directory's install lock and holds
 * it until it is killed (by teardown, or when this process dies). */
static void hold_lock(struct env *e)
{
    char *lock = path_join(e->plugins, TENON__INSTALL_LOCK);
    int p[2];
    char c;
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    e->holder = fork();
    assert_true(e->holder >= 0);
    if (e->holder == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(lock, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(p[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    free(lock);
}

/* The installed file beside B's .meta: a pair no install will complete. */
static void tear(const struct env *e, const char *name)
{
    char *so = path_join(e->plugins, name), *meta;
    char *b_meta = tenon__asprintf("%s.meta", e->b);
    assert_non_null(b_meta);
    assert_non_null(meta = tenon__asprintf("%s.meta", so));
    if (strcmp(name, INSTALLED) != 0)
        copy_path(e->a, so);
    copy_path(b_meta, meta);
    free(so);
    free(meta);
    free(b_meta);
}

static const char *reason_of(tenon_t *t, const char *name)
{
    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        const char *path = tenon_plugin_path(p), *slash = strrchr(path, '/');
        if (strcmp(slash + 1, name) == 0) {
            assert_int_equal(tenon_plugin_status(p), TENON_UNAVAILABLE);
            return tenon_plugin_reason(p);
        }
    }
    fail_msg("%s not listed", name);
    return NULL;
}

/* The scan waits for the lock once per directory, gives up, and refuses
 * the mismatched files saying why. Once the lock is free the same mismatch
 * is refused as what it is: no install was in progress. */
static void scan_gives_up_on_a_held_lock(void **state)
{
    struct env *e = *state;
    assert_int_equal(tenon_install(e->a, e->plugins, NULL), 0);
    tear(e, INSTALLED);
    tear(e, "zz-copy.so"); /* scanned after it, in the same directory */
    hold_lock(e);

    tenon_t *t = open_require(e, 1);
    assert_int_equal(tenon_scan(t), 0);
    const char *first = reason_of(t, INSTALLED);
    assert_contains(first, "refused by the require trust policy: digest "
                           "mismatch");
    assert_contains(first, "an install appeared to be in progress: "
                           ".tenon-install.lock stayed locked for 2 s");
    assert_contains(reason_of(t, "zz-copy.so"),
                    "an install appeared to be in progress: "
                    ".tenon-install.lock is locked (not waited for again "
                    "in this scan)");
    tenon_close(t);

    release_holder(e);
    t = open_require(e, 1);
    assert_int_equal(tenon_scan(t), 0);
    const char *now = reason_of(t, INSTALLED);
    assert_contains(now, "digest mismatch");
    assert_null(strstr(now, "install appeared"));
    tenon_close(t);
}

/* Installs and removes fail with TENON_EBUSY, naming the lock, instead of
 * waiting forever, and leave the pair as it was. */
static void writers_give_up_on_a_held_lock(void **state)
{
    struct env *e = *state;
    assert_int_equal(tenon_install(e->a, e->plugins, NULL), 0);
    hold_lock(e);
    tenon__install_wait_ms = 50;
    assert_int_equal(tenon_install(e->b, e->plugins, NULL), TENON_EBUSY);
    assert_contains(tenon_last_error(), "another install or remove holds ");
    assert_contains(tenon_last_error(), "/plugins/.tenon-install.lock; "
                                        "gave up after 50 ms");
    assert_int_equal(tenon_remove("basic", e->plugins, NULL), TENON_EBUSY);
    assert_contains(tenon_last_error(), "gave up after 50 ms");
    tenon__install_wait_ms = 30000;
    assert_int_equal(installed_pair(e), 'A');
    release_holder(e);
    assert_int_equal(tenon_remove("basic", e->plugins, NULL), 0);
}

/* ---- a lock file that is not one ----------------------------------------- */

/* A symbolic link or a FIFO where the lock should be: installs and removes
 * refuse it by name without following or opening it for writing; a scan
 * does not wait on it and refuses the mismatch as it is. */
static void lock_must_be_a_regular_file(void **state)
{
    struct env *e = *state;
    char *lock = path_join(e->plugins, TENON__INSTALL_LOCK);
    char *target = path_join(e->root, "elsewhere");
    char *so = path_join(e->plugins, INSTALLED);
    copy_path(e->a, so);
    tear(e, INSTALLED);

    assert_int_equal(symlink(target, lock), 0);
    assert_int_equal(tenon_install(e->a, e->plugins, NULL), TENON_EIO);
    assert_contains(tenon_last_error(), "cannot open the install lock ");
    assert_contains(tenon_last_error(), "/plugins/.tenon-install.lock: is a "
                                        "symbolic link; expected a regular "
                                        "file");
    assert_int_equal(access(target, F_OK), -1); /* not created through it */
    assert_int_equal(tenon_remove("basic", e->plugins, NULL), TENON_EIO);
    assert_contains(tenon_last_error(), "is a symbolic link");
    tenon_t *t = open_require(e, 1);
    assert_int_equal(tenon_scan(t), 0);
    const char *why = reason_of(t, INSTALLED);
    assert_contains(why, "digest mismatch");
    assert_null(strstr(why, "install appeared"));
    tenon_close(t);

    assert_int_equal(unlink(lock), 0);
    assert_int_equal(mkfifo(lock, 0644), 0);
    assert_int_equal(tenon_install(e->a, e->plugins, NULL), TENON_EIO);
    assert_contains(tenon_last_error(), "/plugins/.tenon-install.lock is not "
                                        "a regular file");
    assert_int_equal(installed_pair(e), 'x');
    free(lock);
    free(target);
    free(so);
}

/* ---- the helper readers call --------------------------------------------- */

/* A reader needs no write access: it opens the lock read-only, and never
 * creates one where there is none (nothing to wait for there). */
static void settle_needs_no_write_access(void **state)
{
    struct env *e = *state;
    char *so = path_join(e->plugins, INSTALLED);
    char *bare_dir = path_join(e->root, "a"); /* basic.so, no lock file */
    char *bare = path_join(bare_dir, "basic.so");
    char *bare_lock = path_join(bare_dir, TENON__INSTALL_LOCK);
    char why[TENON__REASON_MAX];
    int fd = -1, none = 0, enforced;
    assert_int_equal(tenon_install(e->a, e->plugins, NULL), 0);
    assert_int_equal(chmod(e->plugins, 0555), 0);
    assert_int_equal(chmod(bare_dir, 0555), 0);
    if ((enforced = permissions_enforce() == 0)) {
        fd = tenon__install_settle(so, 0, why, sizeof why);
        none = tenon__install_settle(bare, 0, why, sizeof why);
        permissions_restore();
    }
    assert_int_equal(chmod(e->plugins, 0755), 0);
    assert_int_equal(chmod(bare_dir, 0755), 0);
    if (!enforced)
        skip();
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(none, TENON_ENOENT);
    assert_int_equal(access(bare_lock, F_OK), -1);
    free(so);
    free(bare_dir);
    free(bare);
    free(bare_lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(concurrent_installs_serialise, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(scan_waits_for_install_in_progress,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(scans_during_reinstalls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(remove_between_probe_and_check, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(scans_during_removes, setup, teardown),
        cmocka_unit_test_setup_teardown(scan_gives_up_on_a_held_lock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(writers_give_up_on_a_held_lock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(lock_must_be_a_regular_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(settle_needs_no_write_access, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
