/* Loading from the descriptor the loader checked: a plugin file swapped by
 * name between the check and dlopen changes nothing, and one swapped after
 * the scan is refused until the next scan. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testapi.h"
#include "testutil.h"

static char *swap_dst, *swap_src;
static int swaps;

/* Replace the file by name (a new inode), as an attacker with write access
 * to the directory would, in the window the hook opens. */
static void swap_now(const char *path)
{
    assert_string_equal(path, swap_dst);
    assert_int_equal(rename(swap_src, swap_dst), 0);
    swaps++;
}

static void swap_between_check_and_load(void **state)
{
    char *dir = *state;
    const char *dirs[] = {dir};
    tenon_instance_t *inst = NULL;
    swap_dst = path_join(dir, "basic.so");
    swap_src = path_join(dir, "incoming.tmp"); /* not *.so: not scanned */
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", swap_dst); /* 1.2.0 */
    copy_path(TEST_PLUGIN_DIR "/basic_v2.so", swap_src); /* 1.10.0 */

    tenon_t *t = open_scanned(dirs, 1);
    tenon__before_load_hook = swap_now;
    assert_int_equal(tenon_create(t, "basic@1.2.0", NULL, &inst), 0);
    tenon__before_load_hook = NULL;
    assert_int_equal(swaps, 1);
    /* the file now holds 1.10.0, but what runs is what was checked */
    assert_string_equal(version_of(inst), "1.2.0");
    tenon_destroy(inst);
    tenon_close(t);
    free(swap_dst);
    free(swap_src);
}

static void swap_after_scan_needs_rescan(void **state)
{
    char *dir = *state;
    const char *dirs[] = {dir};
    tenon_instance_t *inst = NULL;
    char *dst = path_join(dir, "basic.so"), *src = path_join(dir, "new.tmp");
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", dst);
    copy_path(TEST_PLUGIN_DIR "/basic_v2.so", src);

    tenon_t *t = open_scanned(dirs, 1);
    assert_int_equal(rename(src, dst), 0);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), TENON_EUNAVAIL);
    assert_null(inst);
    assert_contains(tenon_last_error(), "was replaced since the scan");
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), 0);
    assert_string_equal(version_of(inst), "1.10.0");
    tenon_destroy(inst);
    tenon_close(t);
    free(dst);
    free(src);
}

/* A library still mapped after its last instance (built -z nodelete) keeps
 * the /proc/<pid>/fd/N name it was loaded under; the next plugin is likely
 * given the same descriptor number and must still load as itself. */
static void stale_mapping_is_not_reused(void **state)
{
    const char *dirs[] = {TEST_STICKY_DIR, TEST_PLUGIN_DIR};
    tenon_instance_t *inst = NULL;
    (void)state;
    tenon_t *t = open_scanned(dirs, 2);
    assert_int_equal(tenon_create(t, "basic@9.0.0", NULL, &inst), 0);
    assert_string_equal(version_of(inst), "9.0.0");
    tenon_destroy(inst);
    assert_true(mapped(TEST_STICKY_DIR "/sticky.so")); /* nodelete */
    assert_int_equal(tenon_create(t, "basic@1.2.0", NULL, &inst), 0);
    assert_string_equal(version_of(inst), "1.2.0");
    tenon_destroy(inst);
    tenon_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(swap_between_check_and_load, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(swap_after_scan_needs_rescan, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(stale_mapping_is_not_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
