/*
 * Plugins that bring their own libraries: DT_NEEDED entries found through
 * the plugin's DT_RUNPATH or DT_RPATH with $ORIGIN its own directory, read
 * by the inventory without running code, and loaded by Tenon before the
 * plugin, from the bytes it checked.
 *
 * The plugins and libraries are real (tests/plugins/depplug.c, tdep.c),
 * built into build/tests/deps/{plugins,lib,alt}; each test copies the ones
 * it needs into a layout of its own: T/plugins/ and T/lib/.
 */
#include "testutil.h"

#include "internal.h"
#include "testapi.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char *dir, *plugins, *lib, *marker;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = make_tmpdir();
    f->plugins = path_join(f->dir, "plugins");
    f->lib = path_join(f->dir, "lib");
    f->marker = path_join(f->dir, "ran");
    assert_int_equal(mkdir(f->plugins, 0755), 0);
    assert_int_equal(mkdir(f->lib, 0755), 0);
    setenv("TDEP_MARKER", f->marker, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    unsetenv("TDEP_MARKER");
    remove_tree(f->dir);
    free(f->plugins);
    free(f->lib);
    free(f->marker);
    free(f);
    return 0;
}

/* Copy build/tests/deps/FROM (e.g. "plugins/depup.so") to DIR/NAME. */
static char *put(const char *dir, const char *from, const char *name)
{
    char *src = path_join(TEST_DEPS_DIR, from), *dst = path_join(dir, name);
    copy_path(src, dst);
    free(src);
    return dst;
}

static void put_free(const char *dir, const char *from, const char *name)
{
    free(put(dir, from, name));
}

/* Did any bundled library's constructor run? */
static int ran(const struct fx *f) { return access(f->marker, F_OK) == 0; }

static tenon_t *open_off(const char *dir)
{
    struct tenon_options o = {.struct_size = sizeof o,
                              .plugin_paths = &dir,
                              .plugin_path_count = 1,
                              .trust = TENON_TRUST_OFF,
                              .no_cache = 1};
    tenon_t *t = NULL;
    assert_int_equal(tenon_open(&t, &o), 0);
    return t;
}

/* Create NAME and return what its library says (static storage of the
 * library: valid while the instance lives, so copied). */
static void expect_text(tenon_t *t, const char *name, const char *want)
{
    tenon_instance_t *inst = NULL;
    int rc = tenon_create(t, name, NULL, &inst);
    if (rc)
        fail_msg("tenon_create(%s): %s", name, tenon_last_error());
    assert_string_equal(version_of(inst), want);
    tenon_destroy(inst);
}

/* ---- the inventory reads the dynamic section ------------------------------
 */

static void inventory_reads_dynamic_section(void **state)
{
    struct fx *f = *state;
    const tenon_plugin_t *p;
    put_free(f->plugins, "plugins/depup.so", "depup.so");
    tenon_t *t = open_off(f->plugins);
    assert_int_equal(tenon_find(t, "depup", &p), 0);
    assert_int_equal(p->dynv.nneeded >= 1, 1);
    int found = 0;
    for (size_t i = 0; i < p->dynv.nneeded; i++)
        found |= strcmp(p->dynv.needed[i], "libtdep.so") == 0;
    assert_true(found);
    assert_nstr(p->dynv.runpath, "$ORIGIN/../lib");
    assert_null(p->dynv.rpath);
    assert_false(ran(f)); /* reading ran nothing */
    tenon_close(t);
}

/* ---- $ORIGIN is the plugin's directory ------------------------------------
 */

static void origin_parent_lib_loads(void **state)
{
    struct fx *f = *state;
    put_free(f->plugins, "plugins/depup.so", "depup.so");
    put_free(f->lib, "lib/libtdep.so", "libtdep.so");
    tenon_t *t = open_off(f->plugins);
    expect_text(t, "depup", "tdep 1");
    assert_true(ran(f));
    tenon_close(t);
}

/* A different build of the library in the host's working directory's
 * ../lib must not be what $ORIGIN/../lib finds. */
static void origin_is_not_the_working_directory(void **state)
{
    struct fx *f = *state;
    char *cwd = getcwd(NULL, 0), *work = path_join(f->dir, "work"),
         *worklib = path_join(f->dir, "work/lib"),
         *sub = path_join(f->dir, "work/sub");
    assert_int_equal(mkdir(work, 0755), 0);
    assert_int_equal(mkdir(worklib, 0755), 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    put_free(worklib, "alt/libtdep.so", "libtdep.so"); /* "tdep 2" */
    put_free(f->plugins, "plugins/depup.so", "depup.so");
    put_free(f->lib, "lib/libtdep.so", "libtdep.so"); /* "tdep 1" */
    assert_int_equal(chdir(sub), 0);
    tenon_t *t = open_off(f->plugins);
    expect_text(t, "depup", "tdep 1");
    tenon_close(t);
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
    free(work);
    free(worklib);
    free(sub);
}

static void rpath_origin_in_braces_loads(void **state)
{
    struct fx *f = *state;
    put_free(f->plugins, "plugins/dephere.so", "dephere.so");
    put_free(f->plugins, "lib/libtdep.so", "libtdep.so");
    tenon_t *t = open_off(f->plugins);
    const tenon_plugin_t *p;
    assert_int_equal(tenon_find(t, "dephere", &p), 0);
    assert_nstr(p->dynv.rpath, "${ORIGIN}");
    expect_text(t, "dephere", "tdep 1");
    tenon_close(t);
}

/* libtdepa.so needs libtdepb.so through its own DT_RUNPATH $ORIGIN. */
static void chain_of_bundled_libraries_loads(void **state)
{
    struct fx *f = *state;
    put_free(f->plugins, "plugins/depchain.so", "depchain.so");
    put_free(f->lib, "lib/libtdepa.so", "libtdepa.so");
    put_free(f->lib, "lib/libtdepb.so", "libtdepb.so");
    tenon_t *t = open_off(f->plugins);
    expect_text(t, "depchain", "tdep b");
    tenon_close(t);
}

static void missing_library_is_named(void **state)
{
    struct fx *f = *state;
    tenon_instance_t *inst = NULL;
    put_free(f->plugins, "plugins/depup.so", "depup.so");
    tenon_t *t = open_off(f->plugins);
    assert_int_equal(tenon_create(t, "depup", NULL, &inst), TENON_EUNAVAIL);
    assert_null(inst);
    assert_contains(tenon_last_error(), "dependency libtdep.so");
    tenon_close(t);
}

/* Without DT_SONAME the loader could not match the copy Tenon loads to the
 * plugin's DT_NEEDED: refused, naming the fix, and nothing of it ran. */
static void library_without_soname_is_refused(void **state)
{
    struct fx *f = *state;
    tenon_instance_t *inst = NULL;
    put_free(f->plugins, "plugins/depnoso.so", "depnoso.so");
    put_free(f->lib, "lib/libtdepns.so", "libtdepns.so");
    tenon_t *t = open_off(f->plugins);
    assert_int_equal(tenon_create(t, "depnoso", NULL, &inst), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "has no DT_SONAME; expected DT_SONAME "
                                        "libtdepns.so");
    assert_contains(tenon_last_error(), "-Wl,-soname,libtdepns.so");
    assert_false(ran(f));
    tenon_close(t);
}

/* The library is loaded from the bytes read: replacing the file after the
 * check, in the window before dlopen, changes nothing. */
static char *swap_from, *swap_to;
static void swap_library(const char *path)
{
    (void)path;
    assert_int_equal(rename(swap_from, swap_to), 0);
}

static void library_swapped_before_load_changes_nothing(void **state)
{
    struct fx *f = *state;
    put_free(f->plugins, "plugins/depup.so", "depup.so");
    swap_to = put(f->lib, "lib/libtdep.so", "libtdep.so");
    swap_from = put(f->lib, "alt/libtdep.so", "incoming");
    tenon_t *t = open_off(f->plugins);
    tenon__before_load_hook = swap_library;
    expect_text(t, "depup", "tdep 1");
    tenon__before_load_hook = NULL;
    tenon_close(t);
    free(swap_from);
    free(swap_to);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(inventory_reads_dynamic_section),
        T(origin_parent_lib_loads),
        T(origin_is_not_the_working_directory),
        T(rpath_origin_in_braces_loads),
        T(chain_of_bundled_libraries_loads),
        T(missing_library_is_named),
        T(library_without_soname_is_refused),
        T(library_swapped_before_load_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
