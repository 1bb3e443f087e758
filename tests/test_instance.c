/* Instances of real test plugins: lazy loading, refcounted libraries,
 * interfaces, arguments reaching the plugin, host API, load-time checks,
 * input instances and targets. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testapi.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static tenon_t *open_dir(const char *dir) { return open_dirs(&dir, 1); }

static const char *plugin_file(const char *name)
{
    static char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s/%s.so", TEST_PLUGIN_DIR, name);
    return buf;
}

/* ---- tests --------------------------------------------------------------- */

static void create_and_call(void **state)
{
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    tenon_instance_t *inst;
    const struct test_basic *vt;
    void *obj = NULL;
    (void)state;

    assert_int_equal(
        tenon_create(t, "basic@1.2.0:hi,count=0x20,flag=yes,mode=slow", NULL,
                     &inst),
        0);
    vt = tenon_get_interface(inst, TEST_BASIC_ID, &obj);
    assert_non_null(vt);
    assert_true(vt->size >= sizeof *vt);
    assert_int_equal(vt->add(obj, 2, 3), 5);
    assert_string_equal(vt->version(obj), "1.2.0");
    const struct tenon_args *a = vt->args(obj);
    assert_string_equal(tenon_arg(a, "label")->str, "hi");
    assert_int_equal(tenon_arg(a, "count")->i, 32);
    assert_int_equal(tenon_arg(a, "flag")->i, 1);
    assert_int_equal(tenon_arg(a, "mode")->i, 1);
    assert_false(tenon_arg(a, "limit")->set);
    assert_null(tenon_arg(a, "nosuch"));
    /* declared but not implemented, and not declared at all */
    assert_null(tenon_get_interface(inst, "test.extra/2", &obj));
    assert_null(tenon_get_interface(inst, "test.other/1", &obj));
    assert_string_equal(tenon_plugin_version(tenon_instance_plugin(inst)),
                        "1.2.0");
    /* an interface call that fails leaves its message on the instance */
    assert_int_equal(vt->fail_call(obj), TENON_EPLUGIN);
    assert_string_equal(tenon_instance_error(inst), "fail() called on purpose");
    tenon_destroy(inst);
    tenon_close(t);
}

static void default_version_is_highest(void **state)
{
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    tenon_instance_t *inst;
    void *obj;
    (void)state;
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), 0);
    const struct test_basic *vt =
        tenon_get_interface(inst, TEST_BASIC_ID, &obj);
    /* the code that runs is the version selected */
    assert_string_equal(vt->version(obj), "1.10.0");
    tenon_destroy(inst);
    tenon_close(t);
}

static void lazy_load_and_refcount(void **state)
{
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    const tenon_plugin_t *p;
    tenon_instance_t *a, *b;
    const char *file = plugin_file("basic_v1");
    (void)state;

    assert_int_equal(tenon_find(t, "basic@1.2.0", &p), 0);
    assert_false(mapped(file));
    assert_false(tenon_plugin_loaded(t, p));
    assert_int_equal(tenon_create(t, "basic@1.2.0", NULL, &a), 0);
    assert_true(mapped(file));
    assert_int_equal(tenon_create(t, "basic@1.2.0:x", NULL, &b), 0);
    tenon_destroy(a);
    assert_true(mapped(file)); /* b still lives */
    assert_true(tenon_plugin_loaded(t, p));
    tenon_destroy(b);
    assert_false(mapped(file));
    assert_false(tenon_plugin_loaded(t, p));
    /* and loads again on the next use */
    assert_int_equal(tenon_create(t, "basic@1.2.0", NULL, &a), 0);
    assert_true(mapped(file));
    tenon_destroy(a);
    assert_false(mapped(file));
    tenon_close(t);
}

static void bad_arguments_never_load(void **state)
{
    char *marker = path_join(*state, "marker");
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    tenon_instance_t *inst = NULL;
    setenv("TENON_TEST_MARKER", marker, 1);
    assert_int_equal(tenon_create(t, "marker:x=1", NULL, &inst), TENON_EARG);
    assert_null(inst);
    assert_contains(tenon_last_error(), "plugin 'marker' has no argument 'x'");
    assert_int_equal(access(marker, F_OK), -1);
    assert_false(mapped(plugin_file("marker")));
    assert_int_equal(tenon_create(t, "required:pid=1", NULL, &inst),
                     TENON_EARG);
    assert_contains(tenon_last_error(), "needs argument 'os'");
    assert_false(mapped(plugin_file("required")));
    /* the good path does load it */
    assert_int_equal(tenon_create(t, "marker", NULL, &inst), 0);
    assert_int_equal(access(marker, F_OK), 0);
    tenon_destroy(inst);
    tenon_close(t);
    free(marker);
}

/* tenon_check() makes create's checks and stops before loading: same codes
 * and messages, the entry named, the library never mapped. */
static void check_without_loading(void **state)
{
    static const struct {
        const char *spec;
        int rc;
        const char *plugin, *msg;
    } cases[] = {
        {"marker", 0, "marker", NULL},
        {"basic@1.2.0:x,count=0x10,flag=yes,mode=slow", 0, "basic", NULL},
        {"marker:x=1", TENON_EARG, "marker", "has no argument 'x'"},
        {"required:pid=1", TENON_EARG, "required", "needs argument 'os'"},
        {"basic:count=lots", TENON_EARG, "basic", "expected int"},
        {"basic:mode='slow", TENON_EARG, "basic", "unterminated ' quote"},
        {"basic@9.9.9", TENON_ENOENT, NULL, "has no version 9.9.9"},
        {"nosuch:a=1", TENON_ENOENT, NULL, "no plugin named 'nosuch'"},
        {"Bad:x", TENON_EINVAL, NULL, "expected name[@version][:args]"},
    };
    char *marker = path_join(*state, "marker");
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    setenv("TENON_TEST_MARKER", marker, 1);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const tenon_plugin_t *p = (const tenon_plugin_t *)&cases;
        int rc = tenon_check(t, cases[i].spec, &p);
        if (rc != cases[i].rc)
            fail_msg("%s: %d (%s), expected %d", cases[i].spec, rc,
                     tenon_last_error(), cases[i].rc);
        if (cases[i].msg)
            assert_contains(tenon_last_error(), cases[i].msg);
        if (cases[i].plugin)
            assert_string_equal(tenon_plugin_name(p), cases[i].plugin);
        else
            assert_null(p);
        assert_int_equal(tenon_check(t, cases[i].spec, NULL), cases[i].rc);
    }
    assert_int_equal(access(marker, F_OK), -1);
    assert_false(mapped(plugin_file("marker")));
    assert_false(mapped(plugin_file("basic_v1")));
    tenon_close(t);
    free(marker);
}

static void not_found(void **state)
{
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    tenon_instance_t *inst = NULL;
    (void)state;
    assert_int_equal(tenon_create(t, "nosuch", NULL, &inst), TENON_ENOENT);
    assert_contains(tenon_last_error(), "no plugin named 'nosuch'");
    assert_int_equal(tenon_create(t, "basic@3.0.0", NULL, &inst), TENON_ENOENT);
    assert_contains(tenon_last_error(), "has no version 3.0.0");
    assert_int_equal(tenon_create(t, "Bad!", NULL, &inst), TENON_EINVAL);
    assert_contains(tenon_last_error(), "is not a plugin name");
    assert_int_equal(tenon_create(t, "", NULL, &inst), TENON_EINVAL);
    assert_null(inst);
    tenon_close(t);
}

static void failing_create(void **state)
{
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    tenon_instance_t *inst = NULL;
    (void)state;
    assert_int_equal(tenon_create(t, "failing", NULL, &inst), TENON_ENOENT);
    assert_null(inst);
    assert_contains(tenon_last_error(), "plugin 'failing' failed to create an "
                                        "instance: device /dev/nothing is not "
                                        "there");
    /* the library taken for the attempt is released again */
    assert_false(mapped(plugin_file("failing")));
    tenon_close(t);
}

struct log_capture {
    int count[TENON_LOG_TRACE + 1];
    char last_origin[64];
};

static void capture(void *ud, int level, const char *origin, const char *msg)
{
    struct log_capture *c = ud;
    char want[64];
    snprintf(want, sizeof want, "message at %s", tenon_log_level_name(level));
    if (strcmp(msg, want) != 0)
        return; /* library lines (loading, unloading) are not counted */
    c->count[level]++;
    snprintf(c->last_origin, sizeof c->last_origin, "%s", origin);
}

static void log_level_reaches_loaded_plugin(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    struct log_capture cap;
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_WARN,
                              .log_fn = capture,
                              .log_ud = &cap};
    tenon_t *t;
    tenon_instance_t *inst;
    void *obj;
    (void)state;
    memset(&cap, 0, sizeof cap);
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), 0);
    const struct test_basic *vt =
        tenon_get_interface(inst, TEST_BASIC_ID, &obj);

    vt->log_all(obj);
    assert_int_equal(cap.count[TENON_LOG_ERROR], 1);
    assert_int_equal(cap.count[TENON_LOG_WARN], 1);
    assert_int_equal(cap.count[TENON_LOG_INFO], 0);
    assert_int_equal(cap.count[TENON_LOG_DEBUG], 0);
    assert_string_equal(cap.last_origin, "basic");

    tenon_set_log_level(t, TENON_LOG_TRACE); /* same instance, no reload */
    vt->log_all(obj);
    assert_int_equal(cap.count[TENON_LOG_INFO], 1);
    assert_int_equal(cap.count[TENON_LOG_DEBUG], 1);
    assert_int_equal(cap.count[TENON_LOG_TRACE], 1);

    tenon_set_log_level(t, TENON_LOG_OFF);
    vt->log_all(obj);
    assert_int_equal(cap.count[TENON_LOG_ERROR], 2);
    assert_int_equal(cap.count[TENON_LOG_TRACE], 1);
    tenon_destroy(inst);
    tenon_close(t);
}

static void log_level_names(void **state)
{
    int l;
    (void)state;
    assert_int_equal(tenon_log_level_parse("debug", &l), 0);
    assert_int_equal(l, TENON_LOG_DEBUG);
    assert_int_equal(tenon_log_level_parse("5", &l), 0);
    assert_int_equal(l, TENON_LOG_TRACE);
    assert_int_equal(tenon_log_level_parse("loud", &l), TENON_EINVAL);
    assert_contains(tenon_last_error(), "unknown log level 'loud'");
}

struct last_line {
    int level;
    char msg[256];
};

static void keep_last(void *ud, int level, const char *origin, const char *msg)
{
    struct last_line *l = ud;
    (void)origin;
    l->level = level;
    snprintf(l->msg, sizeof l->msg, "%s", msg);
}

/* log_level < 0 reads TENON_LOG; a value that is no level is reported, not
 * silently replaced; a level above trace is clamped. */
static void log_level_from_environment(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    struct last_line last = {0, ""};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = -1,
                              .log_fn = keep_last,
                              .log_ud = &last};
    tenon_t *t;
    (void)state;
    setenv("TENON_LOG", "debug", 1);
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_get_log_level(t), TENON_LOG_DEBUG);
    tenon_close(t);
    setenv("TENON_LOG", "chatty", 1);
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_get_log_level(t), TENON_LOG_WARN);
    assert_int_equal(last.level, TENON_LOG_WARN);
    assert_contains(last.msg, "TENON_LOG='chatty' is not a level");
    tenon_close(t);
    unsetenv("TENON_LOG");
    o.log_level = 99;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_get_log_level(t), TENON_LOG_TRACE);
    tenon_close(t);
}

static void input_instances(void **state)
{
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    tenon_instance_t *base, *req, *chain = NULL, *x = NULL;
    void *obj;
    (void)state;
    assert_int_equal(tenon_create(t, "chain", NULL, &chain), TENON_EINVAL);
    assert_contains(tenon_last_error(),
                    "needs an input instance providing test.basic/1");
    assert_int_equal(tenon_create(t, "required:1,os=linux", NULL, &req), 0);
    assert_int_equal(tenon_create(t, "chain", req, &chain), TENON_EINVAL);
    assert_contains(tenon_last_error(), "'required' does not provide");
    assert_int_equal(tenon_create(t, "basic", NULL, &base), 0);
    assert_int_equal(tenon_create(t, "basic", base, &x), TENON_EINVAL);
    assert_contains(tenon_last_error(), "takes no input");
    assert_null(x);

    assert_int_equal(tenon_create(t, "chain", base, &chain), 0);
    /* the chain holds its input: dropping ours keeps it alive */
    tenon_destroy(base);
    assert_true(mapped(plugin_file("basic_v2")));
    const struct test_chain *vt =
        tenon_get_interface(chain, TEST_CHAIN_ID, &obj);
    assert_non_null(vt);
    assert_int_equal(vt->add_via_input(obj, 2, 3), 1005);
    tenon_destroy(chain);
    assert_false(mapped(plugin_file("basic_v2")));
    assert_false(mapped(plugin_file("chain")));
    tenon_destroy(req);
    tenon_close(t);
}

static void entry_must_match_info(void **state)
{
    static const struct {
        const char *file, *reason;
    } cases[] = {
        {"mismatch_1.so", "entry name 'impostor' differs from static info name "
                          "'mismatch'"},
        {"mismatch_2.so", "entry version '9.9.9' differs from static info "
                          "version '1.0.0'"},
        {"mismatch_3.so", "entry ABI 2 differs from static info ABI 1"},
        {"mismatch_5.so", "entry struct is 8 bytes; expected at least"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *dir = make_tmpdir();
        char *src = path_join(TEST_MISMATCH_DIR, cases[i].file);
        char *dst = path_join(dir, cases[i].file);
        assert_int_equal(symlink(src, dst), 0);
        tenon_t *t = open_dir(dir);
        const tenon_plugin_t *p;
        tenon_instance_t *inst = NULL;
        /* the static info alone is fine */
        assert_int_equal(tenon_find(t, "mismatch", &p), 0);
        assert_int_equal(tenon_create(t, "mismatch", NULL, &inst),
                         TENON_EUNAVAIL);
        assert_null(inst);
        assert_contains(tenon_last_error(), cases[i].reason);
        assert_int_equal(tenon_plugin_status(p), TENON_UNAVAILABLE);
        assert_contains(tenon_plugin_reason(p), cases[i].reason);
        assert_false(mapped(src));
        /* from now on it is reported as unavailable without loading */
        assert_int_equal(tenon_create(t, "mismatch", NULL, &inst),
                         TENON_EUNAVAIL);
        assert_contains(tenon_last_error(), "is unavailable");
        tenon_close(t);
        remove_tree(dir);
        free(src);
        free(dst);
    }
}

/* An entry from an SDK older than `targets`: loads and works, and the host
 * never reads past its end. */
static void short_entry_has_no_targets(void **state)
{
    char *dir = make_tmpdir();
    char *src = path_join(TEST_MISMATCH_DIR, "mismatch_4.so");
    char *dst = path_join(dir, "mismatch_4.so");
    tenon_instance_t *inst = NULL;
    (void)state;
    assert_int_equal(symlink(src, dst), 0);
    tenon_t *t = open_dir(dir);
    assert_int_equal(tenon_create(t, "mismatch", NULL, &inst), 0);
    assert_int_equal(tenon_targets(t, "mismatch", NULL, NULL), TENON_ENOTSUP);
    assert_contains(tenon_last_error(), "does not list targets");
    tenon_destroy(inst);
    tenon_close(t);
    remove_tree(dir);
    free(src);
    free(dst);
}

struct seen {
    char names[8][32];
    int n;
};

static void collect(void *ud, const char *name, const char *description)
{
    struct seen *s = ud;
    (void)description;
    if (s->n < 8)
        snprintf(s->names[s->n++], 32, "%s", name);
}

static void targets(void **state)
{
    tenon_t *t = open_dir(TEST_PLUGIN_DIR);
    struct seen s = {.n = 0};
    (void)state;
    assert_int_equal(tenon_targets(t, "basic", collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.names[0], "alpha");
    assert_string_equal(s.names[1], "beta");
    assert_false(mapped(plugin_file("basic_v2"))); /* released after */
    assert_int_equal(tenon_targets(t, "required", collect, &s), TENON_ENOTSUP);
    assert_contains(tenon_last_error(), "does not list targets");
    assert_int_equal(tenon_targets(t, "nosuch", collect, &s), TENON_ENOENT);
    tenon_close(t);
}

static void error_names(void **state)
{
    (void)state;
    for (int e = 0; e >= TENON_ERROR_MIN; e--) {
        assert_string_not_equal(tenon_strerror(e), "unknown error");
        assert_string_not_equal(tenon_err_name(e), "TENON_EUNKNOWN");
    }
    assert_string_equal(tenon_strerror(-999), "unknown error");
    assert_string_equal(tenon_err_name(TENON_EARG), "TENON_EARG");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_and_call),
        cmocka_unit_test(default_version_is_highest),
        cmocka_unit_test(lazy_load_and_refcount),
        cmocka_unit_test_setup_teardown(bad_arguments_never_load, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(check_without_loading, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(not_found),
        cmocka_unit_test(failing_create),
        cmocka_unit_test(log_level_reaches_loaded_plugin),
        cmocka_unit_test(log_level_names),
        cmocka_unit_test(log_level_from_environment),
        cmocka_unit_test(input_instances),
        cmocka_unit_test(entry_must_match_info),
        cmocka_unit_test(targets),
        cmocka_unit_test(short_entry_has_no_targets),
        cmocka_unit_test(error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
