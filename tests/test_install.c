/* tenon install / remove, through the API and the CLI: checks before
 * copying, NAME-VERSION.so names, and no partial file ever visible to a
 * scan running at the same time. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

static void install_and_remove(void **state)
{
    char *dir = *state, *dst = NULL;
    const char *dirs[] = {dir};
    size_t n = 0;
    struct stat st;
    (void)state;

    /* the install lock is made readable for everyone whatever the umask:
     * scans by other users wait on it */
    mode_t mask = umask(077);
    int rc = tenon_install(TEST_PLUGIN_DIR "/basic_v1.so", dir, &dst);
    umask(mask);
    assert_int_equal(rc, 0);
    char *lock = path_join(dir, TENON__INSTALL_LOCK);
    assert_int_equal(lstat(lock, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0644);
    free(lock);
    char *want = path_join(dir, "basic-1.2.0.so");
    assert_string_equal(dst, want);
    assert_int_equal(stat(dst, &st), 0);
    assert_true(st.st_mode & S_IXUSR);
    free(dst);
    assert_int_equal(tenon_install(TEST_PLUGIN_DIR "/basic_v2.so", dir, NULL),
                     0);

    tenon_t *t = open_scanned(dirs, 1);
    const tenon_plugin_t *p;
    assert_int_equal(tenon_plugin_count(t), 2);
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_string_equal(tenon_plugin_version(p), "1.10.0");
    tenon_close(t);

    /* one version, then the rest; then nothing is left to remove */
    assert_int_equal(tenon_remove("basic@1.10.0", dir, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(access(want, F_OK), 0);
    assert_int_equal(tenon_remove("basic", dir, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(access(want, F_OK), -1);
    assert_int_equal(tenon_remove("basic", dir, &n), TENON_ENOENT);
    assert_contains(tenon_last_error(), "no plugin 'basic' installed in");
    assert_int_equal(tenon_remove("Bad Name", dir, &n), TENON_EINVAL);
    free(want);
}

/* An install that fails leaves none of its temporary files behind (the
 * install lock stays: it is the directory's, not the install's). */
static void assert_no_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (strstr(e->d_name, "tenon-install") &&
            strcmp(e->d_name, TENON__INSTALL_LOCK) != 0)
            fail_msg("temporary file %s left behind", e->d_name);
    closedir(d);
}

static void refuses_what_the_inventory_refuses(void **state)
{
    char *dir = *state;
    char *text = path_join(dir, "notes.txt");
    FILE *f = fopen(text, "w");
    assert_non_null(f);
    fputs("hello\n", f);
    fclose(f);
    assert_int_equal(tenon_install(TEST_BAD_DIR "/badver.so", dir, NULL),
                     TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "is not an installable plugin: "
                                        "version '1.0' is not a semantic");
    assert_int_equal(tenon_install(text, dir, NULL), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "not an ELF file");
    assert_int_equal(tenon_install(TEST_BAD_DIR "/noinfo.so", dir, NULL),
                     TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "no .note.tenon note");
    /* nothing was left behind, not even a temporary file */
    const char *dirs[] = {dir};
    tenon_t *t = open_scanned(dirs, 1);
    assert_int_equal(tenon_plugin_count(t), 0);
    tenon_close(t);
    assert_no_temp_files(dir);
    free(text);
}

static atomic_int stop, bad_seen, scans;
static const char *scan_dir;

static void *scanner(void *arg)
{
    const char *dirs[] = {scan_dir};
    (void)arg;
    while (!atomic_load(&stop)) {
        tenon_t *t;
        struct tenon_options o = {.struct_size = sizeof o,
                                  .plugin_paths = dirs,
                                  .plugin_path_count = 1,
                                  .log_level = TENON_LOG_ERROR,
                                  .no_cache = 1};
        if (tenon_open(&t, &o) != 0 || tenon_scan(t) != 0) {
            atomic_fetch_add(&bad_seen, 1);
            continue;
        }
        for (size_t i = 0; i < tenon_plugin_count(t); i++)
            if (tenon_plugin_status(tenon_plugin_at(t, i)) != TENON_AVAILABLE)
                atomic_fetch_add(&bad_seen, 1);
        atomic_fetch_add(&scans, 1);
        tenon_close(t);
    }
    return NULL;
}

/* Installs (which replace the same NAME-VERSION.so again and again) while
 * another thread scans: every file any scan sees is a whole plugin. */
static void install_is_atomic(void **state)
{
    pthread_t th;
    scan_dir = *state;
    atomic_store(&stop, 0);
    assert_int_equal(pthread_create(&th, NULL, scanner, NULL), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(tenon_install(i % 2 ? TEST_PLUGIN_DIR "/basic_v1.so"
                                             : TEST_PLUGIN_DIR "/basic_v2.so",
                                       scan_dir, NULL),
                         0);
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    assert_true(atomic_load(&scans) > 0);
    assert_int_equal(atomic_load(&bad_seen), 0);
}

static void cli(void **state)
{
    char *dir = *state;
    struct run r;
    RUN(&r, "install", TEST_PLUGIN_DIR "/required.so", "--dir", dir, "--json");
    assert_status(&r, 0);
    json_t *j = parse_json(r.out);
    assert_true(json_is_array(j) && json_array_size(j) == 1);
    assert_contains(
        json_string_value(json_object_get(json_array_get(j, 0), "installed")),
        "/required-0.1.0.so");
    json_decref(j);
    run_free(&r);
    RUN(&r, "install", TEST_BAD_DIR "/badname.so", "--dir", dir);
    assert_status(&r, 1);
    assert_contains(r.err, "name 'Bad Name!' is invalid");
    run_free(&r);
    RUN(&r, "install", "--dir", dir);
    assert_status(&r, 2);
    run_free(&r);
    RUN(&r, "install", "nosuch.so", "--dir", dir);
    assert_status(&r, 1);
    assert_contains(r.err, "nosuch.so is not an installable plugin: cannot "
                           "open: no such file");
    run_free(&r);
    /* remove finds what it removes through the scan cache, as scans do */
    const char *debug[] = {"TENON_LOG=debug", NULL};
    RUN_ENV(&r, debug, "remove", "required", "--dir", dir);
    assert_status(&r, 0);
    assert_contains(r.out, "removed 1 file for required");
    assert_contains(r.err, "tenon: debug: scan cache: ");
    run_free(&r);
    RUN(&r, "remove", "required", "--dir", dir);
    assert_status(&r, 1);
    assert_contains(r.err, "no plugin 'required' installed");
    run_free(&r);
    RUN(&r, "install", "--help");
    assert_status(&r, 0);
    assert_contains(r.out, "usage: tenon install");
    run_free(&r);
}

/* The installed copy gets a .meta; a signature travels with it when the
 * source's .meta describes the same bytes, and a .meta that does not is
 * refused. Checked end to end: the installed plugin is available under the
 * require policy with the signer's key trusted. */
static void install_writes_meta_and_keeps_signature(void **state)
{
    char *dir = *state, *src = path_join(dir, "src"),
         *plugins = path_join(dir, "plugins"), *keys = path_join(dir, "keys");
    char *so = path_join(src, "basic.so"), *key = path_join(keys, "k.key");
    char *meta = path_join(plugins, "basic-1.2.0.so.meta");
    char *unsigned_meta = path_join(plugins, "required-0.1.0.so.meta");
    struct run r;
    assert_int_equal(mkdir(src, 0755), 0);
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", so);
    RUN(&r, "keygen", "--out", keys, "--name", "k");
    assert_status(&r, 0);
    run_free(&r);
    RUN(&r, "sign", so, "--key", key);
    assert_status(&r, 0);
    run_free(&r);

    assert_int_equal(tenon_install(so, plugins, NULL), 0);
    assert_int_equal(
        tenon_install(TEST_PLUGIN_DIR "/required.so", plugins, NULL), 0);
    json_error_t err;
    json_t *m = json_load_file(meta, 0, &err), *u;
    assert_non_null(m);
    assert_non_null(json_object_get(m, "signature"));
    assert_non_null(json_object_get(m, "created_at"));
    json_decref(m);
    assert_non_null(u = json_load_file(unsigned_meta, 0, &err));
    assert_null(json_object_get(u, "signature"));
    assert_int_equal(json_string_length(json_object_get(u, "digest")), 64);
    json_decref(u);

    const char *dirs[] = {plugins}, *tdirs[] = {keys};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .trust = TENON_TRUST_REQUIRE,
                              .trust_dirs = tdirs,
                              .trust_dir_count = 1,
                              .no_cache = 1};
    tenon_t *t;
    const tenon_plugin_t *p;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_int_equal(tenon_find(t, "required", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "unsigned");
    tenon_close(t);

    /* a source whose .meta describes other bytes is refused */
    FILE *f = fopen(so, "ab");
    assert_non_null(f);
    fputc(0, f);
    fclose(f);
    assert_int_equal(tenon_install(so, plugins, NULL), TENON_EPERM);
    assert_contains(tenon_last_error(), "its digest is not the file's");
    free(src);
    free(plugins);
    free(keys);
    free(so);
    free(key);
    free(meta);
    free(unsigned_meta);
}

/* With a trusted key, the default policy is require: installing a plugin
 * that will then be unavailable says so (and still installs it). */
static void install_warns_when_require_refuses(void **state)
{
    char *dir = *state, *keys = path_join(dir, "keys"),
         *plugins = path_join(dir, "plugins"), *cfg = path_join(dir, "cfg"),
         *src = path_join(dir, "basic.so"), *key = path_join(keys, "k.key"),
         *pub = path_join(keys, "k.pub");
    char env_cfg[4200];
    const char *env[] = {env_cfg, "TENON_TRUST", NULL},
               *env_off[] = {env_cfg, "TENON_TRUST=off", NULL};
    struct run r;
    json_t *j;

    snprintf(env_cfg, sizeof env_cfg, "XDG_CONFIG_HOME=%s", cfg);
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", src);

    /* no trusted key: no policy, no warning */
    RUN_ENV(&r, env, "install", TEST_PLUGIN_DIR "/required.so", "--dir",
            plugins);
    assert_status(&r, 0);
    assert_string_equal(r.err, "");
    run_free(&r);

    RUN_ENV(&r, env, "keygen", "--out", keys, "--name", "k");
    assert_status(&r, 0);
    run_free(&r);
    RUN_ENV(&r, env, "trust", "add", pub);
    assert_status(&r, 0);
    run_free(&r);

    RUN_ENV(&r, env, "install", TEST_PLUGIN_DIR "/required.so", "--dir",
            plugins);
    assert_status(&r, 0);
    assert_contains(r.out, "installed ");
    assert_contains(r.err, "tenon install: warning: ");
    assert_contains(r.err, "/required-0.1.0.so will be unavailable: a "
                           "trusted key exists, and the require policy "
                           "refuses it (unsigned: ");
    assert_contains(r.err, "sign it with 'tenon sign'");
    run_free(&r);

    RUN_ENV(&r, env, "install", TEST_PLUGIN_DIR "/required.so", "--dir",
            plugins, "--json");
    assert_status(&r, 0);
    j = parse_json(r.out);
    assert_contains(
        json_string_value(json_object_get(json_array_get(j, 0), "warning")),
        "unsigned: ");
    json_decref(j);
    run_free(&r);

    /* the policy switched off: nothing to warn about */
    RUN_ENV(&r, env_off, "install", TEST_PLUGIN_DIR "/required.so", "--dir",
            plugins);
    assert_status(&r, 0);
    assert_string_equal(r.err, "");
    run_free(&r);

    /* signed by the trusted key: no warning, and null in JSON */
    RUN_ENV(&r, env, "sign", src, "--key", key);
    assert_status(&r, 0);
    run_free(&r);
    RUN_ENV(&r, env, "install", src, "--dir", plugins, "--json");
    assert_status(&r, 0);
    assert_string_equal(r.err, "");
    j = parse_json(r.out);
    assert_true(json_is_null(json_object_get(json_array_get(j, 0), "warning")));
    json_decref(j);
    run_free(&r);

    RUN_ENV(&r, env, "remove", "basic", "required", "--dir", plugins, "--json");
    assert_status(&r, 0);
    j = parse_json(r.out);
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(j, 1), "plugin")),
        "required");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(j, 0), "removed")),
        1);
    json_decref(j);
    run_free(&r);
    free(keys);
    free(plugins);
    free(cfg);
    free(src);
    free(key);
    free(pub);
}

static void set_created_at(const char *meta, const char *when)
{
    json_error_t err;
    json_t *m = json_load_file(meta, 0, &err);
    assert_non_null(m);
    assert_int_equal(json_object_set_new(m, "created_at", json_string(when)),
                     0);
    assert_int_equal(json_dump_file(m, meta, 0), 0);
    json_decref(m);
}

/* Sign `so` as statement `stmt` with created_at `when`, by hand (the CLI
 * always signs now): DIR/keys/dev.key, made on first use, and trusted in
 * DIR/keys. */
static void sign_at(const char *dir, const char *so, const char *stmt,
                    const char *when)
{
    char *keys = path_join(dir, "keys"), *sec = path_join(keys, "dev.key"),
         *pub = path_join(keys, "dev.pub"), *meta = NULL;
    char id[17], why[TENON__REASON_MAX];
    unsigned char seed[32];
    struct tenon__meta m = {0};
    struct stat st;
    if (stat(keys, &st) != 0) {
        assert_int_equal(mkdir(keys, 0700), 0);
        assert_int_equal(tenon__key_generate(sec, pub, id, why, sizeof why), 0);
    }
    assert_int_equal(tenon__seckey_read(sec, seed, id, why, sizeof why), 0);
    struct tenon_plugin *p = calloc(1, sizeof *p + strlen(so) + 1);
    assert_non_null(p);
    strcpy(p->path, so);
    tenon__plugin_probe(p, AT_FDCWD, so);
    assert_int_equal(p->status, TENON_AVAILABLE);
    int fd = open(so, O_RDONLY);
    assert_int_equal(tenon__digest_fd(fd, UINT64_MAX, m.digest), 0);
    close(fd);
    memcpy(m.created_at, when, TENON__TIME_LEN + 1);
    m.info = tenon__meta_info(&p->info);
    if (strcmp(stmt, TENON__STMT_PLUGIN_V2) == 0) {
        assert_int_equal(
            tenon__meta_sign(&m, seed, id, p->info.name, p->info.version), 0);
    } else { /* as signatures from before statements had names */
        size_t len;
        strcpy(m.statement, stmt);
        char *msg = tenon__statement(&m, p->info.name, p->info.version, &len);
        assert_int_equal(tenon__sign(seed, msg, len, m.signature), 0);
        free(msg);
        m.is_signed = 1;
        strcpy(m.key_id, id);
    }
    assert_int_equal(asprintf(&meta, "%s.meta", so) > 0, 1);
    assert_int_equal(tenon__meta_write(meta, &m, why, sizeof why), 0);
    tenon__meta_free(&m);
    tenon__plugin_free(p);
    free(meta);
    free(keys);
    free(sec);
    free(pub);
}

static tenon_t *open_trust2(const char *a, const char *b, const char *keys,
                            int trust)
{
    const char *dirs[] = {a, b};
    tenon_t *t = open_trusted(dirs, 2, keys, trust, NULL);
    assert_int_equal(tenon_scan(t), 0);
    return t;
}

static void expect_winner(tenon_t *t, const char *dir, const char *why)
{
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_contains(tenon_plugin_path(p), dir);
    for (size_t i = 0; i < tenon_plugin_count(t); i++)
        if (tenon_plugin_at(t, i) != p)
            assert_contains(tenon_plugin_reason(tenon_plugin_at(t, i)), why);
}

/* The same name and version in two directories: a created_at counts only
 * when a signature that verifies covers it. A later directory writing
 * 2099 into its .meta wins nothing; signed later, it does. */
static void only_signed_created_at_counts(void **state)
{
    char *dir = *state, *a = path_join(dir, "a"), *b = path_join(dir, "b");
    char *ma = path_join(a, "basic-1.2.0.so.meta"),
         *fa = path_join(a, "basic-1.2.0.so"),
         *fb = path_join(b, "basic-1.2.0.so"),
         *mb = path_join(b, "basic-1.2.0.so.meta"),
         *keys = path_join(dir, "keys");
    const char *earlier = "search path";
    assert_int_equal(tenon_install(TEST_PLUGIN_DIR "/basic_v1.so", a, NULL), 0);
    assert_int_equal(tenon_install(TEST_PLUGIN_DIR "/basic_v1.so", b, NULL), 0);

    /* Unsigned: whatever created_at says, the earlier directory wins. */
    set_created_at(ma, "2026-01-01T00:00:00Z");
    set_created_at(mb, "2099-01-01T00:00:00Z");
    tenon_t *t = open_trust2(a, b, dir, TENON_TRUST_OFF);
    expect_winner(t, "/a/", earlier);
    tenon_close(t);

    /* Both signed, b later: b wins under require and under warn. */
    sign_at(dir, fa, TENON__STMT_PLUGIN_V2, "2026-01-01T00:00:00Z");
    sign_at(dir, fb, TENON__STMT_PLUGIN_V2, "2026-06-01T00:00:00Z");
    t = open_trust2(a, b, keys, TENON_TRUST_REQUIRE);
    expect_winner(t, "/b/",
                  "with the newest signed created_at, 2026-06-01T00:00:00Z");
    tenon_close(t);
    t = open_trust2(a, b, keys, TENON_TRUST_WARN);
    expect_winner(t, "/b/", "newest signed created_at");
    tenon_close(t);
    /* ...but the policy off verifies nothing, so nothing counts. */
    t = open_trust2(a, b, keys, TENON_TRUST_OFF);
    expect_winner(t, "/a/", earlier);
    tenon_close(t);

    /* b's signed time moved to 2099 by hand: its signature fails; under
     * warn it stays available, and its created_at does not count: a's
     * signed one does. */
    set_created_at(mb, "2099-01-01T00:00:00Z");
    t = open_trust2(a, b, keys, TENON_TRUST_WARN);
    expect_winner(t, "/a/",
                  "with the newest signed created_at, 2026-01-01T00:00:00Z");
    tenon_close(t);

    /* Signed with the first statement, which does not cover created_at:
     * it verifies, and its created_at does not count either. */
    sign_at(dir, fb, TENON__STMT_PLUGIN_V1, "2026-06-01T00:00:00Z");
    t = open_trust2(a, b, keys, TENON_TRUST_REQUIRE);
    expect_winner(t, "/a/", "newest signed created_at, 2026-01-01");
    tenon_close(t);
    /* a signed with the first statement too: neither counts, the search
     * path decides. */
    sign_at(dir, fa, TENON__STMT_PLUGIN_V1, "2026-01-01T00:00:00Z");
    t = open_trust2(a, b, keys, TENON_TRUST_REQUIRE);
    expect_winner(t, "/a/", earlier);
    const tenon_plugin_t *p;
    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        p = tenon_plugin_at(t, i);
        assert_int_equal(tenon_plugin_status(p),
                         strstr(tenon_plugin_path(p), "/a/") ? TENON_AVAILABLE
                                                             : TENON_SHADOWED);
    }
    tenon_close(t);
    free(a);
    free(b);
    free(ma);
    free(mb);
    free(fa);
    free(fb);
    free(keys);
}

/* When the plugin cannot be moved into place, the .meta written for it is
 * taken away again: no .meta may describe bytes that were not installed. */
static void failed_install_leaves_no_meta(void **state)
{
    char *dir = *state, *blocker = path_join(dir, "basic-1.2.0.so");
    char *inside = path_join(blocker, "x"),
         *meta = path_join(dir, "basic-1.2.0.so.meta");
    assert_int_equal(mkdir(blocker, 0755), 0);
    assert_int_equal(mkdir(inside, 0755), 0); /* rename cannot replace it */
    assert_int_equal(tenon_install(TEST_PLUGIN_DIR "/basic_v1.so", dir, NULL),
                     TENON_EIO);
    assert_contains(tenon_last_error(), "cannot move");
    assert_int_equal(access(meta, F_OK), -1);
    assert_no_temp_files(dir);
    free(blocker);
    free(inside);
    free(meta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(install_and_remove, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(refuses_what_the_inventory_refuses,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(install_is_atomic, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(cli, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(install_writes_meta_and_keeps_signature,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(install_warns_when_require_refuses,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(only_signed_created_at_counts,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(failed_install_leaves_no_meta,
                                        tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
