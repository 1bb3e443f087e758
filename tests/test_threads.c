/* 8 threads creating and destroying 1,000 instances each, while another
 * thread rescans the search path: the refcounts must come out even (the
 * library is unloaded at the end) and no call may fail. Also run under
 * ThreadSanitizer by `make check-tsan`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    struct tenon_options o = {sizeof o, dirs, 1, TENON_LOG_ERROR, NULL, NULL};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
