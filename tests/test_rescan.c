/* A host that rescans for as long as it runs: with tenon_release_old_scans()
 * after each rescan, 20,000 rescans of 200 plugins cost no more memory than
 * a handful, and an entry that a live instance was made from survives the
 * release. */
#include "testutil.h"

#include "internal.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NPLUGINS 200
#define RESCANS  20000

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HEAP_MEASURED 0 /* the sanitizers' allocators keep their own books */
#else
#define HEAP_MEASURED 1
#endif

/* Bytes in use on the heap now. */
static size_t heap_used(void)
{
#if HEAP_MEASURED
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

/* NPLUGINS copies of the basic plugin, all older than a second, so the
 * scan cache (kept in the build tree for this test) serves warm scans. */
static void fill(const char *dir)
{
    struct timespec old[2] = {{1600000000, 0}, {1600000000, 0}};
    for (int i = 0; i < NPLUGINS; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%03d.so", i);
        char *f = path_join(dir, name);
        copy_path(TEST_PLUGIN_DIR "/basic_v1.so", f);
        assert_int_equal(utimensat(AT_FDCWD, f, old, 0), 0);
        free(f);
    }
    assert_int_equal(utimensat(AT_FDCWD, dir, old, 0), 0);
}

static void rescans_with_release_stay_bounded(void **state)
{
    char *dir = *state;
    const char *dirs[] = {dir};
    fill(dir);
    tenon_t *t = open_scanned(dirs, 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tenon_scan(t), 0);
        tenon_release_old_scans(t);
    }
    size_t before = heap_used();
    for (int i = 0; i < RESCANS; i++) {
        assert_int_equal(tenon_scan(t), 0);
        assert_int_equal(tenon_release_old_scans(t), NPLUGINS);
    }
    size_t after = heap_used();
    assert_int_equal(tenon_plugin_count(t), NPLUGINS);
    assert_int_equal(t->nretired, 0);
    /* One scan's entries, give or take the allocator's slack: 20,000
     * scans kept would be gigabytes. */
    if (HEAP_MEASURED && after > before + 64 * 1024)
        fail_msg("heap grew from %zu to %zu bytes over %d rescans", before,
                 after, RESCANS);
    tenon_close(t);
}

/* Without the release, earlier entries stay valid (the old contract). An
 * instance's entry survives a release; the others go. */
static void release_keeps_what_instances_use(void **state)
{
    char *dir = *state;
    const char *dirs[] = {dir};
    const tenon_plugin_t *p, *q;
    tenon_instance_t *inst = NULL;
    char *f = path_join(dir, "basic.so");
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", f);
    tenon_t *t = open_scanned(dirs, 1);
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), 0);
    assert_ptr_equal(tenon_instance_plugin(inst), p);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_scan(t), 0);
    /* two scans retired two entries; the instance holds the first */
    assert_int_equal(tenon_release_old_scans(t), 1);
    assert_string_equal(tenon_plugin_name(tenon_instance_plugin(inst)),
                        "basic");
    assert_string_equal(version_of(inst), "1.2.0");
    assert_int_equal(tenon_find(t, "basic", &q), 0);
    assert_ptr_not_equal(p, q);
    tenon_destroy(inst);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_release_old_scans(t), 2);
    assert_int_equal(tenon_release_old_scans(t), 0);
    tenon_close(t);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rescans_with_release_stay_bounded,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(release_keeps_what_instances_use,
                                        tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
