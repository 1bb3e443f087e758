/* Loading from the descriptor the loader checked: a plugin file swapped by
 * name between the check and dlopen changes nothing, and one swapped after
 * the scan is refused until the next scan. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* ---- a library is shared only for the same bytes ------------------------ */

/* Sign `file` with DIR/keys/dev.key (made on first use). */
static void sign_file(const char *dir, const char *file)
{
    char *keys = path_join(dir, "keys");
    free(sign_with(keys, file));
    free(keys);
}

static tenon_t *open_trust(const char *plugins, const char *keys, int trust)
{
    const char *dirs[] = {plugins};
    return open_trusted(dirs, 1, keys, trust, NULL);
}

/* An instance of basic 1.2.0 lives; its install is removed and 1.10.0
 * installed in its place, likely on the inode number just freed. Creating
 * basic must run 1.10.0's code, every time: with the trust policy, the
 * loader used to close the file and then reuse the library by device and
 * inode. */
static void remove_then_install_runs_the_new_code(void **state)
{
    char *dir = *state, *src = path_join(dir, "src"),
         *inst_dir = path_join(dir, "installed"),
         *keys = path_join(dir, "keys"), *v1 = path_join(src, "v1.so"),
         *v2 = path_join(src, "v2.so");
    assert_int_equal(mkdir(src, 0755), 0);
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", v1); /* 1.2.0 */
    copy_path(TEST_PLUGIN_DIR "/basic_v2.so", v2); /* 1.10.0 */
    sign_file(dir, v1);
    sign_file(dir, v2);
    for (int i = 0; i < 20; i++) {
        tenon_instance_t *old = NULL, *new = NULL;
        assert_int_equal(tenon_install(v1, inst_dir, NULL), 0);
        tenon_t *t = open_trust(inst_dir, keys, TENON_TRUST_REQUIRE);
        assert_int_equal(tenon_create(t, "basic", NULL, &old), 0);
        assert_string_equal(version_of(old), "1.2.0");
        assert_int_equal(tenon_remove("basic", inst_dir, NULL), 0);
        assert_int_equal(tenon_install(v2, inst_dir, NULL), 0);
        assert_int_equal(tenon_scan(t), 0);
        if (tenon_create(t, "basic", NULL, &new) != 0)
            fail_msg("round %d: %s", i, tenon_last_error());
        assert_string_equal(version_of(new), "1.10.0");
        assert_string_equal(version_of(old), "1.2.0");
        tenon_destroy(new);
        tenon_destroy(old);
        tenon_close(t);
        assert_int_equal(tenon_remove("basic", inst_dir, NULL), 0);
    }
    free(src);
    free(inst_dir);
    free(keys);
    free(v1);
    free(v2);
}

/* Write `from`'s bytes into `to`, same inode. */
static void rewrite_in_place(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_TRUNC);
    ssize_t n;
    assert_true(in >= 0 && out >= 0);
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

/* The file of a loaded plugin rewritten in place (same inode) with other
 * bytes, and signed again: the next instance runs the new code, and the
 * live one keeps running the old. Under each policy. */
static void rewrite_in_place_runs_the_new_code(void **state)
{
    static const int policies[] = {TENON_TRUST_OFF, TENON_TRUST_REQUIRE};
    char *dir = *state, *plugins = path_join(dir, "plugins"),
         *keys = path_join(dir, "keys"), *so = path_join(plugins, "basic.so");
    assert_int_equal(mkdir(plugins, 0755), 0);
    for (int round = 0; round < 10; round++) {
        int policy = policies[round % 2];
        tenon_instance_t *old = NULL, *new = NULL;
        struct stat before, after;
        copy_path(TEST_PLUGIN_DIR "/basic_v1.so", so);
        sign_file(dir, so);
        tenon_t *t = open_trust(plugins, keys, policy);
        assert_int_equal(tenon_create(t, "basic", NULL, &old), 0);
        assert_string_equal(version_of(old), "1.2.0");
        assert_int_equal(stat(so, &before), 0);
        rewrite_in_place(TEST_PLUGIN_DIR "/basic_v2.so", so);
        sign_file(dir, so);
        assert_int_equal(stat(so, &after), 0);
        assert_true(before.st_ino == after.st_ino);
        assert_int_equal(tenon_scan(t), 0);
        if (tenon_create(t, "basic", NULL, &new) != 0)
            fail_msg("round %d: %s", round, tenon_last_error());
        assert_string_equal(version_of(new), "1.10.0");
        assert_string_equal(version_of(old), "1.2.0");
        tenon_destroy(old);
        tenon_destroy(new);
        tenon_close(t);
        assert_int_equal(unlink(so), 0);
    }
    free(plugins);
    free(keys);
    free(so);
}

/* The same, without a rescan: the inode is the one the scan saw, but its
 * bytes describe another plugin now, so the load is refused instead of
 * running code the inventory did not describe. */
static void rewrite_in_place_after_scan_is_refused(void **state)
{
    char *dir = *state, *so = path_join(dir, "basic.so");
    const char *dirs[] = {dir};
    tenon_instance_t *inst = NULL;
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", so);
    tenon_t *t = open_scanned(dirs, 1);
    rewrite_in_place(TEST_PLUGIN_DIR "/basic_v2.so", so);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), TENON_EUNAVAIL);
    assert_null(inst);
    assert_contains(tenon_last_error(), "changed since it was scanned: static "
                                        "info differs from the scanned "
                                        "file's; rescan");
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_create(t, "basic", NULL, &inst), 0);
    assert_string_equal(version_of(inst), "1.10.0");
    tenon_destroy(inst);
    tenon_close(t);
    free(so);
}

/* Instances of one unchanged file share one library, and so do copies of
 * the same bytes; other bytes get another library. */
static void same_bytes_share_one_library(void **state)
{
    char *dir = *state, *a = path_join(dir, "a"), *b = path_join(dir, "b");
    char *fa = path_join(a, "basic.so"), *fb = path_join(b, "basic.so"),
         *fc = path_join(b, "copy.so");
    const char *dirs[] = {a, b};
    tenon_instance_t *i1 = NULL, *i2 = NULL, *i3 = NULL, *i4 = NULL;
    assert_int_equal(mkdir(a, 0755), 0);
    assert_int_equal(mkdir(b, 0755), 0);
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", fa);
    copy_path(TEST_PLUGIN_DIR "/basic_v2.so", fb);
    tenon_t *t = open_scanned(dirs, 2);
    assert_int_equal(tenon_create(t, "basic@1.2.0", NULL, &i1), 0);
    assert_int_equal(tenon_create(t, "basic@1.2.0", NULL, &i2), 0);
    assert_ptr_equal(i1->lib, i2->lib);
    assert_int_equal(tenon_create(t, "basic@1.10.0", NULL, &i3), 0);
    assert_ptr_not_equal(i1->lib, i3->lib);
    tenon_destroy(i3);
    /* 1.2.0's file removed, and a copy of its bytes put under another
     * name: another inode, found by digest, the same library */
    assert_int_equal(unlink(fa), 0);
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", fc);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_create(t, "basic@1.2.0", NULL, &i4), 0);
    assert_string_equal(tenon_plugin_path(tenon_instance_plugin(i4)), fc);
    assert_ptr_equal(i4->lib, i1->lib);
    assert_int_equal(i1->lib->refs, 3);
    tenon_destroy(i4);
    tenon_destroy(i2);
    tenon_destroy(i1);
    tenon_close(t);
    free(a);
    free(b);
    free(fa);
    free(fb);
    free(fc);
}

/* The file of a loaded plugin changed by a write through a shared mapping
 * whose pages were already dirty (its mtime and ctime do not move): the
 * next instance runs the new bytes, not the loaded library. */
static void mapped_write_is_not_missed(void **state)
{
    char *dir = *state, *so = path_join(dir, "basic.so");
    const char *dirs[] = {dir};
    tenon_instance_t *old = NULL, *new = NULL;
    char *v2;
    size_t n2;
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", so);
    {
        FILE *fp = fopen(TEST_PLUGIN_DIR "/basic_v2.so", "rb");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        n2 = (size_t)ftell(fp);
        rewind(fp);
        v2 = malloc(n2);
        assert_int_equal(fread(v2, 1, n2, fp), n2);
        fclose(fp);
    }
    /* One size for both contents: 1.2.0 padded with zeros after its end
     * (a plugin still), then 1.10.0's bytes over it. */
    struct stat st;
    assert_int_equal(stat(so, &st), 0);
    size_t n = (size_t)st.st_size > n2 ? (size_t)st.st_size : n2;
    assert_int_equal(truncate(so, (off_t)n), 0);
    int fd = open(so, O_RDWR);
    unsigned char *map =
        mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    for (size_t i = 0; i < n; i += 4096)
        map[i] = map[i]; /* every page dirty: the times move now, once */
    usleep(1100 * 1000); /* so no "changed just now" rule can save it */
    tenon_t *t = open_scanned(dirs, 1);
    assert_int_equal(tenon_create(t, "basic", NULL, &old), 0);
    assert_string_equal(version_of(old), "1.2.0");
    memcpy(map, v2, n2); /* times unchanged */
    memset(map + n2, 0, n - n2);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_create(t, "basic", NULL, &new), 0);
    assert_string_equal(version_of(new), "1.10.0");
    assert_string_equal(version_of(old), "1.2.0");
    tenon_destroy(new);
    tenon_destroy(old);
    tenon_close(t);
    munmap(map, n);
    close(fd);
    free(v2);
    free(so);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(swap_between_check_and_load, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(rewrite_in_place_after_scan_is_refused,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(swap_after_scan_needs_rescan, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(stale_mapping_is_not_reused),
        cmocka_unit_test_setup_teardown(remove_then_install_runs_the_new_code,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(rewrite_in_place_runs_the_new_code,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(same_bytes_share_one_library, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(mapped_write_is_not_missed, tmp_setup,
                                        tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
