/* 8 threads creating and destroying 1,000 instances each, while another
 * thread rescans the search path: the refcounts must come out even (the
 * library is unloaded at the end) and no call may fail. And a directory
 * large enough to be probed by several threads must give exactly what a
 * one-thread scan gives. Also run under ThreadSanitizer by `make
 * check-tsan`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testapi.h"
#include "testutil.h"

#define THREADS 8
#define ROUNDS  1000

static tenon_t *t;
static atomic_int failures, sum;
static atomic_int done;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    char spec[64];
    for (int i = 0; i < ROUNDS; i++) {
        tenon_instance_t *a, *b = NULL;
        void *obj;
        snprintf(spec, sizeof spec, "basic@1.2.0:t%d,count=%d", id, i);
        if (tenon_create(t, spec, NULL, &a) != 0) {
            atomic_fetch_add(&failures, 1);
            continue;
        }
        /* every other round, a second instance of another version */
        if (i % 2 && tenon_create(t, "basic", NULL, &b) != 0)
            atomic_fetch_add(&failures, 1);
        const struct test_basic *vt =
            tenon_get_interface(a, TEST_BASIC_ID, &obj);
        if (!vt || tenon_arg(vt->args(obj), "count")->i != i)
            atomic_fetch_add(&failures, 1);
        else
            atomic_fetch_add(&sum, vt->add(obj, 1, 0));
        tenon_destroy(a);
        tenon_destroy(b);
    }
    atomic_fetch_add(&done, 1);
    return NULL;
}

static void *rescanner(void *arg)
{
    (void)arg;
    while (atomic_load(&done) < THREADS)
        if (tenon_scan(t) != 0)
            atomic_fetch_add(&failures, 1);
    return NULL;
}

static void many_threads(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR};
    pthread_t th[THREADS], rs;
    (void)state;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(pthread_create(&rs, NULL, rescanner, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(
            pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_join(rs, NULL);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(atomic_load(&sum), THREADS * ROUNDS);
    assert_int_equal(mapped(TEST_PLUGIN_DIR "/basic_v1.so"), 0);
    assert_int_equal(mapped(TEST_PLUGIN_DIR "/basic_v2.so"), 0);
    tenon_close(t);
}

/* A scan's statuses, reasons and order, as one string. */
static char *scan_summary(const char *dir, unsigned threads)
{
    const char *dirs[] = {dir};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_ERROR,
                              .scan_threads = threads};
    tenon_t *s;
    size_t len = 0;
    char *out = NULL;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    assert_int_equal(tenon_open(&s, &o), 0);
    assert_int_equal(tenon_scan(s), 0);
    for (size_t i = 0; i < tenon_plugin_count(s); i++) {
        const tenon_plugin_t *p = tenon_plugin_at(s, i);
        const char *r = tenon_plugin_reason(p);
        fprintf(f, "%s %s %s\n", tenon_plugin_path(p),
                tenon_plugin_status_name(tenon_plugin_status(p)), r ? r : "");
    }
    tenon_close(s);
    fclose(f);
    return out;
}

/* 200 names for the same plugin file, plus bad files among them: one is
 * available (the first by name), the others shadowed by it, whatever thread
 * probed which file. */
static void parallel_probe_matches_serial(void **state)
{
    char *dir = make_tmpdir();
    char name[32];
    (void)state;
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "p%03d.so", i);
        char *dst = path_join(dir, name);
        if (i % 50 == 7) { /* a bad one now and then */
            FILE *f = fopen(dst, "w");
            assert_non_null(f);
            fputs("not a plugin\n", f);
            fclose(f);
        } else {
            assert_int_equal(symlink(TEST_PLUGIN_DIR "/basic_v1.so", dst), 0);
        }
        free(dst);
    }
    char *serial = scan_summary(dir, 1), *parallel = scan_summary(dir, 4);
    assert_string_equal(serial, parallel);
    char *first = strstr(serial, "/p000.so available");
    assert_non_null(first);
    assert_non_null(strstr(serial, "/p199.so shadowed shadowed by "));
    assert_non_null(strstr(serial, "/p007.so unavailable not an ELF file"));
    free(serial);
    free(parallel);
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_threads),
        cmocka_unit_test(parallel_probe_matches_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
