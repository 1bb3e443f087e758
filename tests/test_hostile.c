/*
 * Attacks from the adversarial review of the hardening work, each kept as a
 * test: what someone who can write a plugin or library directory (or race
 * a scan) must not achieve.
 */
#include "testutil.h"

#include "internal.h"
#include "testapi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* A symbolic link named *.so (or *.so.meta) to a FIFO or a device: the
 * scan lists it as unusable without opening what it points to (opening
 * some devices does something: a watchdog arms, a tape rewinds). A FIFO
 * stands in for the device: inotify sees whether it was opened. */
static void link_to_a_device_is_not_opened(void **state)
{
    char *dir = *state, *fifo = path_join(dir, "fifo"),
         *plugins = path_join(dir, "plugins"),
         *link = path_join(plugins, "dev.so"),
         *meta_link = path_join(plugins, "basic.so.meta"),
         *basic = path_join(plugins, "basic.so");
    const char *dirs[] = {plugins};
    char buf[4096];
    const tenon_plugin_t *p;
    assert_int_equal(mkdir(plugins, 0755), 0);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(symlink(fifo, link), 0);
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", basic);
    assert_int_equal(symlink(fifo, meta_link), 0);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(in >= 0);
    assert_true(inotify_add_watch(in, fifo, IN_OPEN) >= 0);

    tenon_t *t = open_trusted(dirs, 1, dir, TENON_TRUST_REQUIRE, NULL);
    assert_int_equal(tenon_scan(t), 0);
    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        p = tenon_plugin_at(t, i);
        if (strcmp(tenon_plugin_path(p), link) == 0)
            assert_contains(tenon_plugin_reason(p),
                            "a symbolic link to a device, FIFO or socket");
    }
    assert_int_equal(tenon_find(t, "basic", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "a symbolic link to a device, FIFO "
                                        "or socket; expected a regular file");
    tenon_close(t);
    ssize_t n = read(in, buf, sizeof buf);
    if (n > 0)
        fail_msg("the FIFO behind the links was opened");
    assert_int_equal(errno, EAGAIN);
    close(in);
    free(fifo);
    free(plugins);
    free(link);
    free(meta_link);
    free(basic);
}

/* A run-path directory the process may search but not list (0111): the
 * dynamic loader finds the library there, and so must Tenon, or it would
 * take it for a system library and load whatever the host's search finds
 * under that name. */
static void search_only_library_directory(void **state)
{
    char *dir = *state, *plugins = path_join(dir, "plugins"),
         *lib = path_join(dir, "lib"), *so = path_join(plugins, "depup.so"),
         *libso = path_join(lib, "libtdep.so");
    const char *dirs[] = {plugins};
    tenon_instance_t *inst = NULL;
    assert_int_equal(mkdir(plugins, 0755), 0);
    assert_int_equal(mkdir(lib, 0755), 0);
    copy_path(TEST_DEPS_DIR "/plugins/depup.so", so);
    copy_path(TEST_DEPS_DIR "/lib/libtdep.so", libso);
    assert_int_equal(chmod(lib, 0111), 0); /* search, not list, even us */
    tenon_t *t = open_trusted(dirs, 1, dir, TENON_TRUST_OFF, NULL);
    if (permissions_enforce() != 0)
        skip(); /* cannot make permission bits bind here */
    int rc = tenon_create(t, "depup", NULL, &inst);
    permissions_restore();
    if (rc != 0)
        fail_msg("tenon_create: %s", tenon_last_error());
    assert_string_equal(version_of(inst), "tdep 1");
    tenon_destroy(inst);
    tenon_close(t);
    assert_int_equal(chmod(lib, 0755), 0);
    free(plugins);
    free(lib);
    free(so);
    free(libso);
}

/* The file switched between the scan's probe (which the entry's static
 * info comes from) and its signature check: the verdict is about other
 * bytes than the info shown, so the entry is not available. The switch is
 * made from the scan's own log line for an unusable file, which it writes
 * right after probing the directory. */
static const char *swap_from, *swap_to;
static int swapped;

static void swap_on_probe_log(void *ud, int level, const char *origin,
                              const char *msg)
{
    (void)ud, (void)level, (void)origin;
    if (!swapped && strstr(msg, "junk.so: unavailable")) {
        assert_int_equal(rename(swap_from, swap_to), 0);
        swapped = 1;
    }
}

static void swap_between_probe_and_check(void **state)
{
    char *dir = *state, *plugins = path_join(dir, "plugins"),
         *keys = path_join(dir, "keys"), *good = path_join(plugins, "basic.so"),
         *staged = path_join(dir, "basic.so"),
         *junk = path_join(plugins, "junk.so");
    const char *dirs[] = {plugins}, *tdirs[] = {keys};
    const tenon_plugin_t *p;
    assert_int_equal(mkdir(plugins, 0755), 0);
    /* signed good bytes staged outside; in place, other bytes (the same
     * info, one byte appended) beside the good one's .meta */
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", staged);
    free(sign_with(keys, staged));
    char *meta = path_join(plugins, "basic.so.meta"),
         *staged_meta = path_join(dir, "basic.so.meta");
    copy_path(staged_meta, meta);
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", good);
    FILE *fp = fopen(good, "ab");
    fputc(0, fp);
    fclose(fp);
    fp = fopen(junk, "w");
    fputs("not a plugin\n", fp);
    fclose(fp);
    swap_from = staged;
    swap_to = good;
    swapped = 0;
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .trust = TENON_TRUST_REQUIRE,
                              .trust_dirs = tdirs,
                              .trust_dir_count = 1,
                              .log_level = TENON_LOG_DEBUG,
                              .log_fn = swap_on_probe_log,
                              .no_cache = 1};
    tenon_t *t = NULL;
    assert_int_equal(tenon_open(&t, &o), 0);
    assert_int_equal(tenon_scan(t), 0);
    assert_true(swapped);
    assert_int_equal(tenon_find(t, "basic", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "the file changed between its probe "
                                        "and its check");
    /* the next scan sees the good file, whole */
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(tenon_find(t, "basic", &p), 0);
    tenon_close(t);
    free(plugins);
    free(keys);
    free(good);
    free(staged);
    free(junk);
    free(meta);
    free(staged_meta);
}

/* libtenon's own logger (a host without log_fn) escapes what a plugin's
 * file name brings into a line: no forged line, no escape sequence. */
static const char *log_dir;

static int scan_with_default_logger(void *arg)
{
    const char *dirs[] = {log_dir};
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = dirs,
                              .plugin_path_count = 1,
                              .log_level = TENON_LOG_DEBUG,
                              .no_cache = 1};
    tenon_t *t = NULL;
    (void)arg;
    if (tenon_open(&t, &o) != 0 || tenon_scan(t) != 0)
        return 1;
    tenon_close(t);
    return 0;
}

static void default_logger_escapes(void **state)
{
    char *dir = *state, *name = path_join(dir, "x\nFORGED: \033[2Jy.so");
    struct run r;
    FILE *fp = fopen(name, "w");
    assert_non_null(fp);
    fputs("not a plugin\n", fp);
    fclose(fp);
    log_dir = dir;
    assert_int_equal(run_child(&r, 30000, scan_with_default_logger, NULL), 0);
    assert_int_equal(r.status, 0);
    assert_contains(r.err, "x\\nFORGED: \\033[2Jy.so: unavailable");
    assert_null(strstr(r.err, "\nFORGED"));
    assert_null(strchr(r.err, '\033'));
    run_free(&r);
    free(name);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, tmp_setup, tmp_teardown)
    const struct CMUnitTest tests[] = {
        T(link_to_a_device_is_not_opened),
        T(search_only_library_directory),
        T(swap_between_probe_and_check),
        T(default_logger_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
