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

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
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

/* PT_DYNAMIC's p_offset pointed at the ELF header: the loader reads the
 * dynamic section at p_vaddr, through the PT_LOAD segments, and so does
 * the inventory; what it reports is what the loader will load. */
static void dynamic_section_read_as_the_loader_maps_it(void **state)
{
    struct fx *f = *state;
    const tenon_plugin_t *p;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    FILE *fp = fopen(so, "r+b");
    Elf64_Ehdr eh;
    assert_non_null(fp);
    assert_int_equal(fread(&eh, sizeof eh, 1, fp), 1);
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        long at = (long)eh.e_phoff + (long)i * (long)sizeof ph;
        assert_int_equal(fseek(fp, at, SEEK_SET), 0);
        assert_int_equal(fread(&ph, sizeof ph, 1, fp), 1);
        if (ph.p_type != PT_DYNAMIC)
            continue;
        ph.p_offset = 0;
        assert_int_equal(fseek(fp, at, SEEK_SET), 0);
        assert_int_equal(fwrite(&ph, sizeof ph, 1, fp), 1);
    }
    assert_int_equal(fclose(fp), 0);
    put_free(f->lib, "lib/libtdep.so", "libtdep.so");
    tenon_t *t = open_off(f->plugins);
    assert_int_equal(tenon_find(t, "depup", &p), 0);
    int found = 0;
    for (size_t i = 0; i < tenon_plugin_needed_count(p); i++)
        found |= strcmp(tenon_plugin_needed(p, i), "libtdep.so") == 0;
    assert_true(found);
    assert_string_equal(tenon_plugin_runpath(p), "$ORIGIN/../lib");
    expect_text(t, "depup", "tdep 1");
    tenon_close(t);
    free(so);
}

/* tenon info shows what the loader will look for, by name and by path. */
static void info_shows_needed_and_paths(void **state)
{
    struct fx *f = *state;
    struct run r;
    char *so = put(f->plugins, "plugins/dephere.so", "dephere.so");
    RUN(&r, "info", so);
    assert_status(&r, 0);
    /* (a sanitizer build's plugins need its runtimes too, in between) */
    const char *needs = strstr(r.out, "\nneeds:       ");
    assert_non_null(needs);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(needs + 1, "\n"),
             needs + 1);
    assert_contains(line, " libtdep.so ");
    assert_contains(line, " libc.so.6");
    assert_contains(r.out, "rpath:       ${ORIGIN}\n");
    run_free(&r);
    RUN(&r, "info", "depup", "--json", "--plugin-path",
        TEST_DEPS_DIR "/plugins");
    assert_status(&r, 0);
    json_t *j = parse_json(r.out), *needed = json_object_get(j, "needed");
    int found = 0;
    for (size_t i = 0; i < json_array_size(needed); i++)
        found |= strcmp(json_string_value(json_array_get(needed, i)),
                        "libtdep.so") == 0;
    assert_true(found);
    assert_string_equal(json_string_value(json_object_get(j, "runpath")),
                        "$ORIGIN/../lib");
    assert_true(json_is_null(json_object_get(j, "rpath")));
    json_decref(j);
    run_free(&r);
    free(so);
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

/* ---- under a trust policy -------------------------------------------------
 */

/* T/keys, where tenon keygen made dev.key and dev.pub. */
static char *keys_of(const struct fx *f)
{
    char *keys = path_join(f->dir, "keys"), *key = path_join(keys, "dev.key");
    struct run r;
    if (access(key, F_OK) != 0) {
        RUN(&r, "keygen", "--out", keys, "--name", "dev");
        assert_status(&r, 0);
        run_free(&r);
    }
    free(key);
    return keys;
}

/* tenon sign FILE with the test key; returns what it printed. */
static char *sign(const struct fx *f, const char *file)
{
    char *keys = path_join(f->dir, "keys"), *out = sign_with(keys, file);
    free(keys);
    return out;
}

static char last_warning[1024];

static void keep_warning(void *ud, int level, const char *origin,
                         const char *msg)
{
    (void)ud, (void)origin;
    if (level == TENON_LOG_WARN)
        snprintf(last_warning, sizeof last_warning, "%s", msg);
}

static tenon_t *open_policy(const struct fx *f, int trust)
{
    char *keys = keys_of(f);
    const char *dirs[] = {f->plugins};
    tenon_t *t = open_trusted(dirs, 1, keys, trust, keep_warning);
    free(keys);
    return t;
}

/* The scan's verdict on depup, and its reason. */
static int depup_status(tenon_t *t, const char **reason)
{
    const tenon_plugin_t *p = NULL;
    int rc = tenon_find(t, "depup", &p);
    *reason = tenon_last_error();
    return rc;
}

/* Signed with the library in place: its digest is in the plugin's signed
 * .meta, and the plugin loads. */
static void require_loads_library_named_in_meta(void **state)
{
    struct fx *f = *state;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    put_free(f->lib, "lib/libtdep.so", "libtdep.so");
    char *out = sign(f, so);
    assert_contains(out, "bundled libtdep.so: ");
    assert_contains(out, "/lib/libtdep.so (through DT_RUNPATH "
                         "'$ORIGIN/../lib' of depup.so)");
    char *meta = path_join(f->plugins, "depup.so.meta");
    json_error_t e;
    json_t *m = json_load_file(meta, 0, &e);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "statement")),
                        "tenon-plugin-signature-v2");
    assert_non_null(json_object_get(json_object_get(m, "deps"), "libtdep.so"));
    json_decref(m);
    tenon_t *t = open_policy(f, TENON_TRUST_REQUIRE);
    expect_text(t, "depup", "tdep 1");
    tenon_close(t);
    free(meta);
    free(out);
    free(so);
}

/* Signed without the library (so the .meta does not name it), and the
 * library unsigned: refused naming the library, and none of its code
 * runs, at the scan or at a load attempt. */
static void require_refuses_unverified_library(void **state)
{
    struct fx *f = *state;
    const char *reason;
    tenon_instance_t *inst = NULL;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    free(sign(f, so));
    put_free(f->lib, "lib/libtdep.so", "libtdep.so");
    tenon_t *t = open_policy(f, TENON_TRUST_REQUIRE);
    assert_int_equal(depup_status(t, &reason), TENON_EUNAVAIL);
    assert_contains(reason, "dependency libtdep.so (");
    assert_contains(reason, "is not verified: the plugin's signed .meta does "
                            "not name it, and unsigned: no ");
    assert_int_equal(tenon_create(t, "depup", NULL, &inst), TENON_EUNAVAIL);
    assert_false(ran(f));
    tenon_close(t);
    /* warn: loads, with the reason as a warning */
    last_warning[0] = '\0';
    t = open_policy(f, TENON_TRUST_WARN);
    expect_text(t, "depup", "tdep 1");
    assert_contains(last_warning, "libtdep.so");
    assert_contains(last_warning, "is not verified");
    tenon_close(t);
    free(so);
}

/* Another build of the library put in place after signing: refused by the
 * scan; and when the swap happens after the scan, by the loader. */
static void require_refuses_swapped_library(void **state)
{
    struct fx *f = *state;
    const char *reason;
    tenon_instance_t *inst = NULL;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    put_free(f->lib, "lib/libtdep.so", "libtdep.so");
    free(sign(f, so));
    tenon_t *t = open_policy(f, TENON_TRUST_REQUIRE);
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(depup_status(t, &reason), 0);
    put_free(f->lib, "alt/libtdep.so", "libtdep.so"); /* after the scan */
    assert_int_equal(tenon_create(t, "depup", NULL, &inst), TENON_EPERM);
    assert_contains(tenon_last_error(),
                    "not loaded under the require trust policy");
    assert_contains(tenon_last_error(), "dependency libtdep.so (");
    assert_contains(tenon_last_error(), "digest mismatch with the plugin's "
                                        "signed .meta");
    assert_int_equal(tenon_scan(t), 0);
    assert_int_equal(depup_status(t, &reason), TENON_EUNAVAIL);
    assert_contains(reason, "digest mismatch with the plugin's signed .meta");
    assert_false(ran(f));
    tenon_close(t);
    free(so);
}

/* The library signed on its own by a trusted key: a plugin that does not
 * name it may bundle it. Another signed library renamed into its place
 * (with its .meta) is refused: its DT_SONAME is not the name asked for. */
static void library_signed_on_its_own(void **state)
{
    struct fx *f = *state;
    const char *reason;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    free(sign(f, so)); /* no library yet: not named */
    char *lib = put(f->lib, "lib/libtdep.so", "libtdep.so");
    char *out = sign(f, lib);
    assert_contains(out, "(library libtdep.so)");
    tenon_t *t = open_policy(f, TENON_TRUST_REQUIRE);
    expect_text(t, "depup", "tdep 1");
    tenon_close(t);
    /* the chain's second library signed, renamed as the first */
    char *other = put(f->lib, "lib/libtdepb.so", "libtdepb.so");
    free(sign(f, other));
    char *meta = path_join(f->lib, "libtdep.so.meta"),
         *other_meta = path_join(f->lib, "libtdepb.so.meta");
    assert_int_equal(rename(other, lib), 0);
    assert_int_equal(rename(other_meta, meta), 0);
    t = open_policy(f, TENON_TRUST_REQUIRE);
    assert_int_equal(depup_status(t, &reason), TENON_EUNAVAIL);
    assert_contains(reason, "dependency libtdep.so (");
    assert_contains(reason, "has DT_SONAME libtdepb.so; expected DT_SONAME "
                            "libtdep.so");
    tenon_close(t);
    free(out);
    free(lib);
    free(other);
    free(meta);
    free(other_meta);
    free(so);
}

/* Under require, what is loaded is the checked copy: replacing the library
 * right before dlopen changes nothing. */
static void require_loads_checked_copy(void **state)
{
    struct fx *f = *state;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    swap_to = put(f->lib, "lib/libtdep.so", "libtdep.so");
    swap_from = put(f->lib, "alt/libtdep.so", "incoming");
    free(sign(f, so));
    tenon_t *t = open_policy(f, TENON_TRUST_REQUIRE);
    assert_int_equal(tenon_scan(t), 0);
    tenon__before_load_hook = swap_library;
    expect_text(t, "depup", "tdep 1");
    tenon__before_load_hook = NULL;
    tenon_close(t);
    free(swap_from);
    free(swap_to);
    free(so);
}

/* The CLI with a private trust store holding the test key, and a private
 * scan cache: env for RUN_ENV. */
struct cli_env {
    char *cfg, *cache, *vars[5];
};

static void cli_env(const struct fx *f, struct cli_env *e, int debug)
{
    char *keys = keys_of(f), *pub = path_join(keys, "dev.pub");
    struct run r;
    assert_int_equal(asprintf(&e->cfg, "XDG_CONFIG_HOME=%s/cfg", f->dir) > 0,
                     1);
    assert_int_equal(
        asprintf(&e->cache, "TENON_CACHE_DIR=%s/cache", f->dir) > 0, 1);
    e->vars[0] = e->cfg;
    e->vars[1] = e->cache;
    e->vars[2] = debug ? "TENON_LOG=debug" : "TENON_LOG";
    e->vars[3] = NULL;
    RUN_ENV(&r, (const char *const *)e->vars, "trust", "add", pub);
    assert_status(&r, 0);
    run_free(&r);
    free(keys);
    free(pub);
}

static void cli_env_free(struct cli_env *e)
{
    free(e->cfg);
    free(e->cache);
}

/* tenon verify checks a plugin's bundled libraries and a library's own
 * signature, in text and JSON. */
static void verify_checks_bundled_libraries(void **state)
{
    struct fx *f = *state;
    struct cli_env e;
    struct run r;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    char *lib = put(f->lib, "lib/libtdep.so", "libtdep.so");
    free(sign(f, so));
    cli_env(f, &e, 0);
    const char *const *env = (const char *const *)e.vars;
    RUN_ENV(&r, env, "verify", so);
    assert_status(&r, 0);
    assert_contains(r.out, ": ok: signed by ");
    assert_contains(r.out, "; bundled: libtdep.so\n");
    run_free(&r);
    put_free(f->lib, "alt/libtdep.so", "libtdep.so");
    RUN_ENV(&r, env, "verify", so, "--json");
    assert_status(&r, 1);
    json_t *j = parse_json(r.out), *o = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(o, "verdict")),
                        "dependency");
    assert_string_equal(json_string_value(json_object_get(o, "kind")),
                        "plugin");
    assert_contains(json_string_value(json_object_get(o, "reason")),
                    "digest mismatch with the plugin's signed .meta");
    json_decref(j);
    run_free(&r);
    /* the library signed on its own */
    free(sign(f, lib));
    RUN_ENV(&r, env, "verify", lib, "--json");
    assert_status(&r, 0);
    j = parse_json(r.out);
    o = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(o, "kind")),
                        "library");
    assert_string_equal(json_string_value(json_object_get(o, "soname")),
                        "libtdep.so");
    assert_true(json_is_true(json_object_get(o, "ok")));
    json_decref(j);
    run_free(&r);
    assert_false(ran(f));
    cli_env_free(&e);
    free(so);
    free(lib);
}

/* tenon verify reads the bytes every time: a write through a shared
 * mapping whose pages are already dirty moves neither the file's mtime nor
 * its ctime, so a scan cache's key (which a scan trusts only for what it
 * lists; the loader checks the bytes it loads) cannot see it. */
static void verify_reads_the_bytes(void **state)
{
    struct fx *f = *state;
    struct cli_env e;
    struct run r;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    put_free(f->lib, "lib/libtdep.so", "libtdep.so");
    free(sign(f, so));
    int fd = open(so, O_RDWR);
    struct stat st;
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                              MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    size_t last = (size_t)st.st_size - 1;
    map[last] = map[last]; /* the page is dirty now: times move once */
    usleep(1100 * 1000);   /* a scan's cache trusts what is a second old */
    cli_env(f, &e, 0);
    const char *const *env = (const char *const *)e.vars;
    RUN_ENV(&r, env, "list", "--plugin-path", f->plugins); /* caches it */
    assert_status(&r, 0);
    run_free(&r);
    map[last] ^= 0xff; /* tampered, same size and times */
    RUN_ENV(&r, env, "verify", so);
    assert_status(&r, 1);
    assert_contains(r.out, "FAILED: digest mismatch");
    run_free(&r);
    munmap(map, (size_t)st.st_size);
    close(fd);
    cli_env_free(&e);
    free(so);
}

/* Replace the first `from` in the file with `to`, of the same length. */
static void patch_bytes(const char *file, const char *from, const char *to)
{
    size_t len = strlen(from), n;
    char *buf;
    FILE *fp = fopen(file, "r+b");
    assert_non_null(fp);
    assert_int_equal(strlen(to), len);
    fseek(fp, 0, SEEK_END);
    n = (size_t)ftell(fp);
    rewind(fp);
    buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, n, fp), n);
    char *at = memmem(buf, n, from, len + 1); /* with its NUL */
    assert_non_null(at);
    memcpy(at, to, len);
    rewind(fp);
    assert_int_equal(fwrite(buf, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(buf);
}

/* Sign the plugin `file` alone with the test key, by hand: tenon sign
 * refuses what it cannot cover. */
static void sign_by_hand(const struct fx *f, const char *file)
{
    char *keys = keys_of(f), *key = path_join(keys, "dev.key"), *meta = NULL;
    char id[17], why[TENON__REASON_MAX];
    unsigned char seed[32];
    struct tenon__meta m = {0};
    struct tenon_plugin *p = calloc(1, sizeof *p + strlen(file) + 1);
    assert_non_null(p);
    strcpy(p->path, file);
    tenon__plugin_probe(p, AT_FDCWD, file);
    assert_int_equal(p->status, TENON_AVAILABLE);
    assert_int_equal(tenon__seckey_read(key, seed, id, why, sizeof why), 0);
    int fd = open(file, O_RDONLY);
    assert_int_equal(tenon__digest_fd(fd, UINT64_MAX, m.digest), 0);
    close(fd);
    tenon__rfc3339(time(NULL), m.created_at);
    m.info = tenon__meta_info(&p->info);
    assert_int_equal(
        tenon__meta_sign(&m, seed, id, p->info.name, p->info.version), 0);
    assert_int_equal(asprintf(&meta, "%s.meta", file) > 0, 1);
    assert_int_equal(tenon__meta_write(meta, &m, why, sizeof why), 0);
    tenon__meta_free(&m);
    tenon__plugin_free(p);
    free(meta);
    free(key);
    free(keys);
}

/* A DT_NEEDED the loader would resolve itself: a path (here without any
 * DT_RUNPATH), or a name with a dynamic string token, which it expands
 * (into lib/x86_64-linux-gnu for $LIB: a path from the working
 * directory). tenon sign refuses to sign them; signed anyway, under
 * require they are refused by the scan, by verify and by the loader, and
 * nothing of the library runs. */
static void loader_resolved_names_are_refused(void **state)
{
    struct fx *f = *state;
    struct run r;
    tenon_instance_t *inst = NULL;
    const char *reason;
    char *slash = put(f->plugins, "plugins/depslash.so", "depslash.so");
    char *dst = put(f->plugins, "plugins/depup.so", "depup.so");
    put_free(f->lib, "lib/libtdep.so", "lib$LIB.so");
    patch_bytes(dst, "libtdep.so", "lib$LIB.so");
    char *keys = keys_of(f), *key = path_join(keys, "dev.key");
    RUN(&r, "sign", slash, "--key", key);
    assert_status(&r, 1);
    assert_contains(r.err, "is a path or has a dynamic string token");
    run_free(&r);
    RUN(&r, "sign", dst, "--key", key);
    assert_status(&r, 1);
    assert_contains(r.err, "DT_NEEDED 'lib$LIB.so' is a path or has a "
                           "dynamic string token");
    run_free(&r);
    sign_by_hand(f, slash);
    sign_by_hand(f, dst);

    tenon_t *t = open_policy(f, TENON_TRUST_REQUIRE);
    const tenon_plugin_t *q;
    assert_int_equal(tenon_find(t, "depslash", &q), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "/libtdepns.so' is a path or has a "
                                        "dynamic string token");
    assert_int_equal(depup_status(t, &reason), TENON_EUNAVAIL);
    assert_contains(reason, "DT_NEEDED 'lib$LIB.so' is a path or has a "
                            "dynamic string token");
    assert_int_equal(tenon_create(t, "depup", NULL, &inst), TENON_EUNAVAIL);
    tenon_close(t);
    struct cli_env e;
    cli_env(f, &e, 0);
    RUN_ENV(&r, (const char *const *)e.vars, "verify", slash, dst);
    assert_status(&r, 1);
    assert_contains(r.out, "depslash.so: FAILED: DT_NEEDED '");
    assert_contains(r.out, "depup.so: FAILED: DT_NEEDED 'lib$LIB.so'");
    run_free(&r);
    cli_env_free(&e);
    assert_false(ran(f));
    free(key);
    free(keys);
    free(slash);
    free(dst);
}

/* tenon install copies the plugin only: it says when the copy no longer
 * finds a library the source bundles, and says nothing when it does. */
static void install_warns_about_bundled_libraries(void **state)
{
    struct fx *f = *state;
    struct run r;
    char *so = put(f->plugins, "plugins/depup.so", "depup.so");
    char *far = path_join(f->dir, "far/away"),
         *near = path_join(f->dir, "near");
    put_free(f->lib, "lib/libtdep.so", "libtdep.so");
    RUN(&r, "install", so, "--dir", far);
    assert_status(&r, 0);
    assert_contains(r.err, "tenon install: warning: ");
    assert_contains(r.err, "bundles libtdep.so (found at ");
    assert_contains(r.err, "install copies the plugin file only");
    run_free(&r);
    /* T/near/../lib is T/lib: found, no warning (and no trusted key in a
     * private trust store, so no trust warning either) */
    char *cfg = NULL;
    assert_int_equal(asprintf(&cfg, "XDG_CONFIG_HOME=%s/cfg", f->dir) > 0, 1);
    const char *env[] = {cfg, NULL};
    RUN_ENV(&r, env, "install", so, "--dir", near);
    free(cfg);
    assert_status(&r, 0);
    assert_string_equal(r.err, "");
    run_free(&r);
    free(so);
    free(far);
    free(near);
}

/* Two bundled libraries that need each other cannot be loaded one after
 * the other: refused at the load with that reason and, under require, by
 * the scan already (it would otherwise list what no load can use). */
static void cycle_of_bundled_libraries_is_refused(void **state)
{
    struct fx *f = *state;
    tenon_instance_t *inst = NULL;
    const tenon_plugin_t *p;
    char *so = put(f->plugins, "plugins/depcyc.so", "depcyc.so");
    put_free(f->lib, "lib/libtcyca.so", "libtcyca.so");
    put_free(f->lib, "lib/libtcycb.so", "libtcycb.so");
    tenon_t *t = open_off(f->plugins);
    assert_int_equal(tenon_create(t, "depcyc", NULL, &inst), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "is in a cycle of libraries that "
                                        "need each other");
    tenon_close(t);
    /* tenon sign refuses it too; signed anyway, the scan refuses it */
    struct run r;
    char *keys = keys_of(f), *key = path_join(keys, "dev.key");
    RUN(&r, "sign", so, "--key", key);
    assert_status(&r, 1);
    assert_contains(r.err, "is in a cycle of libraries");
    run_free(&r);
    free(keys);
    free(key);
    sign_by_hand(f, so);
    t = open_policy(f, TENON_TRUST_REQUIRE);
    assert_int_equal(tenon_find(t, "depcyc", &p), TENON_EUNAVAIL);
    assert_contains(tenon_last_error(), "in a cycle of libraries");
    tenon_close(t);
    assert_false(ran(f));
    free(so);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(inventory_reads_dynamic_section),
        T(info_shows_needed_and_paths),
        T(dynamic_section_read_as_the_loader_maps_it),
        T(origin_parent_lib_loads),
        T(origin_is_not_the_working_directory),
        T(rpath_origin_in_braces_loads),
        T(chain_of_bundled_libraries_loads),
        T(missing_library_is_named),
        T(library_without_soname_is_refused),
        T(library_swapped_before_load_changes_nothing),
        T(cycle_of_bundled_libraries_is_refused),
        T(require_loads_library_named_in_meta),
        T(require_refuses_unverified_library),
        T(require_refuses_swapped_library),
        T(library_signed_on_its_own),
        T(require_loads_checked_copy),
        T(verify_checks_bundled_libraries),
        T(verify_reads_the_bytes),
        T(install_warns_about_bundled_libraries),
        T(loader_resolved_names_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
