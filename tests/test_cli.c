/*
 * The tenon command-line tool, run as a separate program the way a user runs
 * it: exit statuses, usage texts, and `list`/`info` output checked against
 * what the library itself reports for the same directories.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testapi.h"
#include "testutil.h"

/* ---- output helpers ------------------------------------------------------ */

/* The line of `text` that starts with `prefix`, copied; NULL if none. */
static char *line_starting(const char *text, const char *prefix)
{
    size_t plen = strlen(prefix);
    for (const char *l = text; l && *l;) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        if (len >= plen && memcmp(l, prefix, plen) == 0) {
            char *copy = strndup(l, len);
            assert_non_null(copy);
            return copy;
        }
        l = end ? end + 1 : NULL;
    }
    return NULL;
}

/* Whitespace-separated fields of one line (modified in place). */
static size_t fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    for (char *save, *tok = strtok_r(line, " \t", &save); tok && n < max;
         tok = strtok_r(NULL, " \t", &save))
        f[n++] = tok;
    return n;
}

/* ---- version, help, usage errors ----------------------------------------- */

/* The commands `tenon help` lists, malloc'd, into cmds; how many. */
static size_t listed_commands(char **cmds, size_t max)
{
    struct run r;
    const char *at;
    size_t n = 0;
    RUN(&r, "help");
    assert_status(&r, 0);
    at = strstr(r.out, "\ncommands:\n");
    assert_non_null(at);
    for (at += 11; strncmp(at, "  ", 2) == 0 && n < max;) {
        size_t len = strcspn(at + 2, " \n");
        cmds[n] = strndup(at + 2, len);
        assert_non_null(cmds[n++]);
        at = strchr(at, '\n') + 1;
    }
    run_free(&r);
    return n;
}

static void test_version(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "--version");
    assert_status(&r, 0);
    assert_contains(r.out, "tenon");
    assert_contains(r.out, TENON_VERSION_STRING);
    assert_string_equal(r.err, "");
    run_free(&r);
    RUN(&r, "--version", "extra");
    assert_status(&r, 2);
    assert_contains(r.err, "--version takes no operand; got 'extra'");
    run_free(&r);
}

static void test_help(void **state)
{
    struct run a, b;
    (void)state;

    RUN(&a, "--help");
    assert_status(&a, 0);
    assert_contains(a.out, "usage: tenon");
    assert_contains(a.out, "list");
    assert_contains(a.out, "info");
    assert_contains(a.out, "TENON_PLUGIN_PATH");
    assert_string_equal(a.err, "");
    RUN(&b, "help");
    assert_status(&b, 0);
    assert_string_equal(b.out, a.out);
    run_free(&b);
    RUN(&b, "-h");
    assert_status(&b, 0);
    assert_string_equal(b.out, a.out);
    run_free(&b);
    run_free(&a);

    /* Each command's help, reached either way, is the same text; the
     * commands are the ones `tenon help` lists, help itself included. */
    char *cmds[32];
    size_t ncmds = listed_commands(cmds, 32);
    assert_true(ncmds >= 11);
    for (size_t i = 0; i < ncmds; i++) {
        char want[64];
        snprintf(want, sizeof want, "usage: tenon %s", cmds[i]);
        RUN(&a, "help", cmds[i]);
        assert_status(&a, 0);
        assert_contains(a.out, want);
        assert_string_equal(a.err, "");
        RUN(&b, cmds[i], "--help");
        assert_status(&b, 0);
        assert_string_equal(b.out, a.out);
        run_free(&b);
        RUN(&b, cmds[i], "-h");
        assert_status(&b, 0);
        assert_string_equal(b.out, a.out);
        run_free(&b);
        run_free(&a);
        free(cmds[i]);
    }
    /* --help wins over the rest of the line, which is not acted on. */
    static const char *const scanning[] = {"list", "info", "check"};
    for (size_t i = 0; i < 3; i++) {
        RUN(&a, scanning[i], "--help");
        assert_contains(a.out, "--plugin-path");
        RUN(&b, scanning[i], "--json", "--help", "--plugin-path",
            "/nonexistent");
        assert_status(&b, 0);
        assert_string_equal(b.out, a.out);
        run_free(&b);
        run_free(&a);
    }
}

/* A mistyped command or option: the nearest one is suggested. */
static void test_suggestions(void **state)
{
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"lsit", NULL, "unknown command 'lsit'; did you mean 'list'?"},
        {"help", "lsit", "unknown command 'lsit'; did you mean 'list'?"},
        {"inf", NULL, "did you mean 'info'?"},
        {"instal", NULL, "did you mean 'install'?"},
        {"chekc", NULL, "did you mean 'check'?"},
        {"--verison", NULL, "did you mean '--version'?"},
        {"list", "--jsno", "unknown option '--jsno'; did you mean '--json'?"},
        {"info", "--target", "did you mean '--targets'?"},
        {"list", "--plugin-pth", "did you mean '--plugin-path'?"},
    };
    struct run r;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].b)
            RUN(&r, cases[i].a, cases[i].b);
        else
            RUN(&r, cases[i].a);
        assert_status(&r, 2);
        assert_contains(r.err, cases[i].want);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    /* Nothing near: no guess. --targets is info's, not list's. */
    RUN(&r, "frobnicate");
    assert_status(&r, 2);
    assert_null(strstr(r.err, "did you mean"));
    assert_contains(r.err, "see 'tenon --help'");
    run_free(&r);
    RUN(&r, "list", "--targets");
    assert_status(&r, 2);
    assert_null(strstr(r.err, "did you mean"));
    run_free(&r);
}

/* Commands that take NAME[@VERSION] do not suggest ':args' in their
 * errors; check, which takes them, does. */
static void test_spec_hints(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "info", "hello:Bonjour", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "'hello:Bonjour' carries arguments; expected "
                           "name[@version]\n");
    run_free(&r);
    RUN(&r, "info", "Hello", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "expected name[@version] with a name of");
    assert_null(strstr(r.err, ":args"));
    run_free(&r);
    RUN(&r, "remove", "Bad!", "--dir", TEST_EXAMPLE_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "'Bad!' is not a plugin name; expected "
                           "name[@version] with");
    run_free(&r);
    RUN(&r, "check", "Bad!", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "expected name[@version][:args] with");
    run_free(&r);
}

/* ---- check --------------------------------------------------------------- */

static void test_check(void **state)
{
    static const char *const bad[][2] = {
        {"hello:times=lots", "plugin 'hello', argument 'times': expected int"},
        {"hello:colour=red", "plugin 'hello' has no argument 'colour'"},
        {"hello:Hi,Hey", "more than one value without a key ('Hey')"},
        {"hello@2.0.0", "plugin 'hello' has no version 2.0.0"},
        {"nosuch", "no plugin named 'nosuch'"},
    };
    struct run r;
    json_t *o;
    (void)state;

    RUN(&r, "check", "hello:Bonjour,times=2", "--plugin-path",
        TEST_EXAMPLE_DIR);
    assert_status(&r, 0);
    assert_string_equal(r.out,
                        "ok: hello 1.0.0 (" TEST_EXAMPLE_DIR "/hello.so)\n");
    assert_string_equal(r.err, "");
    run_free(&r);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        RUN(&r, "check", bad[i][0], "--plugin-path", TEST_EXAMPLE_DIR);
        assert_status(&r, 1);
        assert_string_equal(r.out, "");
        assert_contains(r.err, "tenon check: ");
        assert_contains(r.err, bad[i][1]);
        run_free(&r);
    }
    /* An unusable file is not one to create instances from. */
    RUN(&r, "check", "badver", "--plugin-path", TEST_BAD_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "is unavailable: version '1.0'");
    run_free(&r);

    RUN(&r, "check", "hello:times=lots", "--json", "--plugin-path",
        TEST_EXAMPLE_DIR);
    assert_status(&r, 1);
    assert_string_equal(r.err, "");
    o = parse_json(r.out);
    assert_true(json_is_false(json_object_get(o, "ok")));
    assert_string_equal(json_string_value(json_object_get(o, "spec")),
                        "hello:times=lots");
    assert_contains(json_string_value(json_object_get(o, "error")),
                    "expected int");
    assert_string_equal(json_string_value(json_object_get(o, "name")), "hello");
    assert_string_equal(json_string_value(json_object_get(o, "path")),
                        TEST_EXAMPLE_DIR "/hello.so");
    json_decref(o);
    run_free(&r);

    RUN(&r, "check", "hello", "--json", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 0);
    o = parse_json(r.out);
    assert_true(json_is_true(json_object_get(o, "ok")));
    assert_true(json_is_null(json_object_get(o, "error")));
    assert_string_equal(json_string_value(json_object_get(o, "version")),
                        "1.0.0");
    json_decref(o);
    run_free(&r);

    RUN(&r, "check", "nosuch", "--json", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 1);
    o = parse_json(r.out);
    assert_true(json_is_null(json_object_get(o, "name")));
    assert_true(json_is_null(json_object_get(o, "path")));
    json_decref(o);
    run_free(&r);

    RUN(&r, "check", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 2);
    assert_contains(r.err, "expected NAME[@VERSION][:ARGS]");
    run_free(&r);
    RUN(&r, "check", "hello", "hello", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 2);
    run_free(&r);
}

static void test_usage_errors(void **state)
{
    struct run r;
    (void)state;

    RUN_ENV(&r, NULL, (const char *)NULL);
    assert_status(&r, 2);
    assert_contains(r.err, "usage: tenon");
    run_free(&r);

    RUN(&r, "frobnicate");
    assert_status(&r, 2);
    assert_contains(r.err, "'frobnicate'");
    assert_string_equal(r.out, "");
    run_free(&r);

    RUN(&r, "help", "frobnicate");
    assert_status(&r, 2);
    assert_contains(r.err, "'frobnicate'");
    run_free(&r);

    RUN(&r, "--frobnicate");
    assert_status(&r, 2);
    assert_contains(r.err, "--frobnicate");
    run_free(&r);

    RUN(&r, "list", "--frob", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 2);
    assert_contains(r.err, "'--frob'");
    assert_string_equal(r.out, "");
    run_free(&r);

    /* --targets belongs to info, not list. */
    RUN(&r, "list", "--targets", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 2);
    assert_contains(r.err, "'--targets'");
    run_free(&r);

    RUN(&r, "info", "basic", "--bogus", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 2);
    assert_contains(r.err, "'--bogus'");
    assert_string_equal(r.out, "");
    run_free(&r);

    RUN(&r, "list", "surplus", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 2);
    assert_contains(r.err, "'surplus'");
    run_free(&r);

    RUN(&r, "info", "basic", "chain", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 2);
    assert_contains(r.err, "'chain'");
    run_free(&r);

    RUN(&r, "list", "--plugin-path");
    assert_status(&r, 2);
    assert_contains(r.err, "--plugin-path");
    run_free(&r);

    RUN(&r, "help", "list", "extra");
    assert_status(&r, 2);
    assert_contains(r.err, "tenon help: unexpected operand 'extra'");
    run_free(&r);
    RUN(&r, "install", "x.so", "--dir=");
    assert_status(&r, 2);
    assert_contains(r.err, "tenon install: --dir needs a directory");
    run_free(&r);

    /* Commands that do not scan take no search path. */
    RUN(&r, "cache", "clear", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 2);
    assert_contains(r.err, "unknown option '--plugin-path'");
    run_free(&r);
    RUN(&r, "verify", TEST_PLUGIN_DIR "/basic_v1.so", "--plugin-path=x");
    assert_status(&r, 2);
    run_free(&r);

    RUN(&r, "info");
    assert_status(&r, 2);
    assert_contains(r.err, "plugin name");
    assert_string_equal(r.out, "");
    run_free(&r);

    RUN(&r, "info", "--json", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 2);
    assert_contains(r.err, "plugin name");
    run_free(&r);
}

static void test_info_not_found(void **state)
{
    struct run r;
    (void)state;

    RUN(&r, "info", "nosuch", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "nosuch");
    assert_string_equal(r.out, "");
    run_free(&r);

    RUN(&r, "info", "nosuch", "--json", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "nosuch");
    assert_string_equal(r.out, "");
    run_free(&r);

    /* A missing version names the versions there are. */
    RUN(&r, "info", "basic@9.9.9", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "9.9.9");
    assert_contains(r.err, "1.2.0");
    run_free(&r);

    /* Present but unusable: status 1, and the reason. */
    RUN(&r, "info", "badver", "--plugin-path", TEST_BAD_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "badver");
    assert_contains(r.err, "not a semantic version");
    run_free(&r);
}

/* ---- list ---------------------------------------------------------------- */

static void test_list_text(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    tenon_t *t = open_scanned(dirs, 1);
    size_t n = tenon_plugin_count(t), rows = 0;
    struct run r;
    char *header;
    (void)state;

    RUN(&r, "list", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    assert_string_equal(r.err, "");
    header = line_starting(r.out, "NAME");
    assert_non_null(header);
    free(header);

    /* One row per available plugin: name, version, provides, path. */
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        char provides[512] = "";
        int found = 0;

        if (tenon_plugin_status(p) != TENON_AVAILABLE)
            continue;
        for (size_t k = 0; k < tenon_plugin_provides_count(p); k++)
            snprintf(provides + strlen(provides),
                     sizeof provides - strlen(provides), "%s%s", k ? "," : "",
                     tenon_plugin_provides(p, k));
        if (!*provides)
            strcpy(provides, "-");
        /* Several rows start with "basic": look at all of them. */
        for (const char *l = r.out; l && *l && !found;) {
            const char *end = strchr(l, '\n');
            char *copy = strndup(l, end ? (size_t)(end - l) : strlen(l));
            char *f[8];
            assert_non_null(copy);
            if (fields(copy, f, 8) == 4 &&
                strcmp(f[0], tenon_plugin_name(p)) == 0 &&
                strcmp(f[1], tenon_plugin_version(p)) == 0) {
                assert_string_equal(f[2], provides);
                assert_string_equal(f[3], tenon_plugin_path(p));
                found = 1;
            }
            free(copy);
            l = end ? end + 1 : NULL;
        }
        if (!found)
            fail_msg("no row for %s %s in:\n%s", tenon_plugin_name(p),
                     tenon_plugin_version(p), r.out);
        rows++;
    }
    assert_true(rows >= 7);
    /* The header plus one row each, nothing else. */
    {
        size_t lines = 0;
        for (const char *c = r.out; *c; c++)
            lines += *c == '\n';
        assert_int_equal(lines, rows + 1);
    }
    /* The three versions of basic are all listed, not only the newest. */
    assert_contains(r.out, TEST_PLUGIN_DIR "/basic_v1.so");
    assert_contains(r.out, TEST_PLUGIN_DIR "/basic_v2.so");
    assert_contains(r.out, TEST_PLUGIN_DIR "/basic_v3.so");
    assert_contains(r.out, " 1.10.0-rc.1 ");
    run_free(&r);
    tenon_close(t);
}

static void test_list_text_unavailable(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR, TEST_BAD_DIR};
    tenon_t *t = open_scanned(dirs, 2);
    size_t bad = 0;
    struct run plain, all;
    (void)state;

    RUN(&plain, "list", "--plugin-path", TEST_PLUGIN_DIR, "--plugin-path",
        TEST_BAD_DIR);
    RUN(&all, "list", "--all", "--plugin-path", TEST_PLUGIN_DIR,
        "--plugin-path", TEST_BAD_DIR);
    assert_status(&plain, 0);
    assert_status(&all, 0);
    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        const char *path = tenon_plugin_path(p);
        assert_contains(all.out, path);
        if (tenon_plugin_status(p) == TENON_AVAILABLE) {
            assert_contains(plain.out, path);
            continue;
        }
        bad++;
        if (strstr(plain.out, path))
            fail_msg("list without --all shows %s:\n%s", path, plain.out);
        assert_contains(all.out, tenon_plugin_reason(p));
    }
    assert_true(bad >= 3);
    {
        char note[64];
        snprintf(note, sizeof note, "%zu unavailable", bad);
        assert_contains(plain.out, note);
        assert_contains(plain.out, "--all");
    }
    run_free(&plain);
    run_free(&all);
    tenon_close(t);
}

/* Every object carries the keys `list --help` promises, typed. */
static void assert_entry_shape(json_t *o)
{
    static const char *const strings[] = {"name", "version"};
    json_t *prov = json_object_get(o, "provides"), *abi;

    assert_true(json_is_object(o));
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(o, strings[i]);
        assert_non_null(v);
        assert_true(json_is_string(v) || json_is_null(v));
    }
    assert_true(json_is_string(json_object_get(o, "path")));
    assert_true(json_is_string(json_object_get(o, "status")));
    assert_true(json_is_array(prov));
    for (size_t i = 0; i < json_array_size(prov); i++)
        assert_true(json_is_string(json_array_get(prov, i)));
    abi = json_object_get(o, "abi");
    assert_non_null(abi);
    assert_true(json_is_integer(abi) || json_is_null(abi));
}

/* The JSON object for one entry says what the library says. */
static void assert_entry_matches(json_t *o, const tenon_plugin_t *p)
{
    json_t *prov = json_object_get(o, "provides"), *abi;
    int st = tenon_plugin_status(p);

    assert_entry_shape(o);
    assert_nstr(json_string_value(json_object_get(o, "path")),
                tenon_plugin_path(p));
    assert_nstr(json_string_value(json_object_get(o, "name")),
                tenon_plugin_name(p));
    assert_nstr(json_string_value(json_object_get(o, "version")),
                tenon_plugin_version(p));
    assert_nstr(json_string_value(json_object_get(o, "status")),
                st == TENON_AVAILABLE ? "available" : "unavailable");
    assert_int_equal(json_is_true(json_object_get(o, "shadowed")),
                     st == TENON_SHADOWED);
    abi = json_object_get(o, "abi");
    if (tenon_plugin_abi(p) >= 0)
        assert_int_equal(json_integer_value(abi), tenon_plugin_abi(p));
    else
        assert_true(json_is_null(abi));
    if (st == TENON_AVAILABLE) {
        assert_null(json_object_get(o, "reason"));
        assert_int_equal(json_array_size(prov), tenon_plugin_provides_count(p));
        for (size_t k = 0; k < json_array_size(prov); k++)
            assert_string_equal(json_string_value(json_array_get(prov, k)),
                                tenon_plugin_provides(p, k));
    } else {
        assert_nstr(json_string_value(json_object_get(o, "reason")),
                    tenon_plugin_reason(p));
    }
}

static void test_list_json(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    tenon_t *t = open_scanned(dirs, 1);
    size_t n = tenon_plugin_count(t), basics = 0;
    struct run r;
    json_t *arr;
    (void)state;

    RUN(&r, "list", "--json", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        assert_entry_matches(o, tenon_plugin_at(t, i));
        assert_string_equal(json_string_value(json_object_get(o, "status")),
                            "available");
        assert_int_equal(json_integer_value(json_object_get(o, "abi")),
                         TENON_ABI_VERSION);
        if (strcmp(json_string_value(json_object_get(o, "name")), "basic") ==
            0) {
            const char *v = json_string_value(json_object_get(o, "version"));
            assert_true(strcmp(v, "1.2.0") == 0 || strcmp(v, "1.10.0") == 0 ||
                        strcmp(v, "1.10.0-rc.1") == 0);
            assert_string_equal(json_string_value(json_array_get(
                                    json_object_get(o, "provides"), 0)),
                                TEST_BASIC_ID);
            basics++;
        }
    }
    assert_int_equal(basics, 3);
    json_decref(arr);
    run_free(&r);
    tenon_close(t);
}

static void test_list_all_json(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR, TEST_BAD_DIR, TEST_MISMATCH_DIR};
    tenon_t *t = open_scanned(dirs, 3);
    size_t n = tenon_plugin_count(t), avail = 0, j = 0;
    struct run r;
    json_t *arr;
    (void)state;

    for (size_t i = 0; i < n; i++)
        avail += tenon_plugin_status(tenon_plugin_at(t, i)) == TENON_AVAILABLE;
    assert_true(avail < n);

    RUN(&r, "list", "--json", "--plugin-path", TEST_PLUGIN_DIR, "--plugin-path",
        TEST_BAD_DIR, "--plugin-path", TEST_MISMATCH_DIR);
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_int_equal(json_array_size(arr), avail);
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        if (tenon_plugin_status(p) == TENON_AVAILABLE)
            assert_entry_matches(json_array_get(arr, j++), p);
    }
    json_decref(arr);
    run_free(&r);

    RUN(&r, "list", "--all", "--json", "--plugin-path", TEST_PLUGIN_DIR,
        "--plugin-path", TEST_BAD_DIR, "--plugin-path", TEST_MISMATCH_DIR);
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        assert_entry_matches(o, p);
        if (tenon_plugin_status(p) != TENON_AVAILABLE) {
            const char *reason =
                json_string_value(json_object_get(o, "reason"));
            assert_non_null(reason);
            assert_true(strlen(reason) > 0);
        }
    }
    json_decref(arr);
    run_free(&r);
    tenon_close(t);
}

/* ---- info ---------------------------------------------------------------- */

static void test_info_text(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    tenon_t *t = open_scanned(dirs, 1);
    const tenon_plugin_t *p;
    struct run r;
    char *line, *f[4];
    (void)state;

    assert_int_equal(tenon_find(t, "basic", &p), 0);
    RUN(&r, "info", "basic", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    assert_string_equal(r.err, "");

    line = line_starting(r.out, "version:");
    assert_non_null(line);
    assert_int_equal(fields(line, f, 4), 2);
    assert_string_equal(f[1], "1.10.0");
    free(line);
    line = line_starting(r.out, "path:");
    assert_non_null(line);
    assert_int_equal(fields(line, f, 4), 2);
    assert_string_equal(f[1], TEST_PLUGIN_DIR "/basic_v2.so");
    free(line);
    line = line_starting(r.out, "description:");
    assert_non_null(line);
    assert_contains(line, tenon_plugin_get(p, "description"));
    free(line);
    line = line_starting(r.out, "provides:");
    assert_non_null(line);
    assert_contains(line, TEST_BASIC_ID);
    assert_contains(line, "test.extra/2");
    free(line);

    /* Each argument: its line with type and default (or required/optional),
     * its help on the next line. */
    for (size_t i = 0; i < tenon_plugin_arg_count(p); i++) {
        const struct tenon_arg_decl *d = tenon_plugin_arg(p, i);
        char prefix[80], want[160];
        const char *at, *next;
        snprintf(prefix, sizeof prefix, "\n  %s ", d->name);
        at = strstr(r.out, prefix);
        if (!at)
            fail_msg("argument '%s' not shown:\n%s", d->name, r.out);
        line = strndup(at + 1, (size_t)(strchr(at + 1, '\n') - at - 1));
        assert_non_null(line);
        assert_contains(line, tenon_arg_type_name(d->type));
        if (d->default_value) {
            snprintf(want, sizeof want, "\"%s\"", d->default_value);
            assert_contains(line, want);
        } else {
            assert_contains(line, d->required ? "required" : "optional");
        }
        if (d->choices)
            assert_contains(line, d->choices);
        free(line);
        next = strchr(at + 1, '\n') + 1;
        line = strndup(next, (size_t)(strchr(next, '\n') - next));
        assert_non_null(line);
        assert_contains(line, d->help);
        free(line);
    }

    /* The help text, every line of it. */
    {
        char *help = strdup(tenon_plugin_get(p, "help"));
        assert_non_null(help);
        assert_contains(r.out, "\nhelp:\n");
        for (char *save, *l = strtok_r(help, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            char want[256];
            snprintf(want, sizeof want, "\n  %s\n", l);
            assert_contains(r.out, want);
        }
        free(help);
    }
    assert_contains(r.out, "x-custom=kept as other info");
    run_free(&r);

    /* An exact version shows that version's file, not the newest. */
    RUN(&r, "info", "basic@1.2.0", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    line = line_starting(r.out, "version:");
    assert_non_null(line);
    assert_int_equal(fields(line, f, 4), 2);
    assert_string_equal(f[1], "1.2.0");
    free(line);
    line = line_starting(r.out, "path:");
    assert_non_null(line);
    assert_int_equal(fields(line, f, 4), 2);
    assert_string_equal(f[1], TEST_PLUGIN_DIR "/basic_v1.so");
    free(line);
    run_free(&r);
    tenon_close(t);
}

static void test_info_json(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR};
    tenon_t *t = open_scanned(dirs, 1);
    const tenon_plugin_t *p;
    struct run r;
    json_t *o, *args, *info;
    int enums = 0;
    (void)state;

    assert_int_equal(tenon_find(t, "basic@1.2.0", &p), 0);
    RUN(&r, "info", "basic@1.2.0", "--json", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    o = parse_json(r.out);
    assert_entry_matches(o, p);
    assert_string_equal(json_string_value(json_object_get(o, "version")),
                        "1.2.0");
    assert_nstr(json_string_value(json_object_get(o, "license")),
                tenon_plugin_get(p, "license"));
    assert_nstr(json_string_value(json_object_get(o, "help")),
                tenon_plugin_get(p, "help"));
    assert_nstr(json_string_value(json_object_get(o, "url")),
                tenon_plugin_get(p, "url"));

    args = json_object_get(o, "arguments");
    assert_true(json_is_array(args));
    assert_int_equal(json_array_size(args), tenon_plugin_arg_count(p));
    for (size_t i = 0; i < json_array_size(args); i++) {
        const struct tenon_arg_decl *d = tenon_plugin_arg(p, i);
        json_t *a = json_array_get(args, i), *choices;
        assert_nstr(json_string_value(json_object_get(a, "name")), d->name);
        assert_nstr(json_string_value(json_object_get(a, "type")),
                    tenon_arg_type_name(d->type));
        assert_true(json_is_boolean(json_object_get(a, "required")));
        assert_int_equal(json_is_true(json_object_get(a, "required")),
                         !!d->required);
        assert_nstr(json_string_value(json_object_get(a, "default")),
                    d->default_value);
        assert_nstr(json_string_value(json_object_get(a, "help")), d->help);
        assert_true(json_is_null(json_object_get(a, "min")));
        assert_true(json_is_null(json_object_get(a, "max")));
        choices = json_object_get(a, "choices");
        if (!d->choices) {
            assert_null(choices);
            continue;
        }
        /* "fast|slow|auto" becomes ["fast", "slow", "auto"]. */
        enums++;
        assert_true(json_is_array(choices));
        char *list = strdup(d->choices);
        size_t k = 0;
        assert_non_null(list);
        for (char *save, *c = strtok_r(list, "|", &save); c;
             c = strtok_r(NULL, "|", &save), k++)
            assert_nstr(json_string_value(json_array_get(choices, k)), c);
        assert_int_equal(json_array_size(choices), k);
        assert_int_equal(k, 3);
        free(list);
    }
    assert_int_equal(enums, 1);

    /* The raw info: every key=value in file order. */
    info = json_object_get(o, "info");
    assert_true(json_is_array(info));
    assert_int_equal(json_array_size(info), tenon_plugin_info_count(p));
    for (size_t i = 0; i < json_array_size(info); i++) {
        const char *k, *v;
        json_t *kv = json_array_get(info, i);
        assert_int_equal(tenon_plugin_info_at(p, i, &k, &v), 0);
        assert_int_equal(json_array_size(kv), 2);
        assert_nstr(json_string_value(json_array_get(kv, 0)), k);
        assert_nstr(json_string_value(json_array_get(kv, 1)), v);
    }
    /* No --targets: the plugin was not loaded to ask. */
    assert_null(json_object_get(o, "targets"));
    json_decref(o);
    run_free(&r);
    tenon_close(t);
}

/* An operand with a '/' or ending in .so is a file: read where it is, the
 * same output as by name, and nothing loaded. */
static void test_info_file(void **state)
{
    static const char *const forms[][2] = {{"", ""}, {"--json", ""}};
    char *marker = path_join(*state, "marker"), env_marker[4200];
    const char *env[] = {env_marker, NULL};
    struct run a, b;

    for (size_t i = 0; i < 2; i++) {
        if (*forms[i][0]) {
            RUN(&a, "info", TEST_PLUGIN_DIR "/basic_v1.so", forms[i][0]);
            RUN(&b, "info", "basic@1.2.0", forms[i][0], "--plugin-path",
                TEST_PLUGIN_DIR);
        } else {
            RUN(&a, "info", TEST_PLUGIN_DIR "/basic_v1.so");
            RUN(&b, "info", "basic@1.2.0", "--plugin-path", TEST_PLUGIN_DIR);
        }
        assert_status(&a, 0);
        assert_status(&b, 0);
        assert_string_equal(a.out, b.out);
        assert_string_equal(a.err, "");
        run_free(&a);
        run_free(&b);
    }

    /* its directory need not be on the search path, and no code runs */
    snprintf(env_marker, sizeof env_marker, "TENON_TEST_MARKER=%s", marker);
    RUN_ENV(&a, env, "info", TEST_PLUGIN_DIR "/marker.so", "--plugin-path",
            TEST_BAD_DIR);
    assert_status(&a, 0);
    assert_contains(a.out, "name:        marker\n");
    assert_int_equal(access(marker, F_OK), -1);
    run_free(&a);

    /* ends in .so: a file, not a (bad) plugin name */
    RUN(&a, "info", "nosuch.so");
    assert_status(&a, 1);
    assert_contains(a.err, "tenon info: nosuch.so: cannot open: No such file");
    run_free(&a);
    RUN(&a, "info", TEST_BAD_DIR "/badver.so");
    assert_status(&a, 1);
    assert_contains(a.err, "/badver.so is not a usable plugin: version '1.0' "
                           "is not a semantic version");
    assert_string_equal(a.out, "");
    run_free(&a);
    RUN(&a, "info", TEST_PLUGIN_DIR "/basic_v1.so", "--targets");
    assert_status(&a, 2);
    assert_contains(a.err, "--targets loads the plugin, so it takes "
                           "NAME[@VERSION] from the search path");
    run_free(&a);
    free(marker);
}

/* --provides ID keeps the plugins whose static info lists ID. */
static void test_list_provides(void **state)
{
    const char *dirs[] = {TEST_PLUGIN_DIR, TEST_EXAMPLE_DIR};
    tenon_t *t = open_scanned(dirs, 2);
    char *copy = path_join(*state, "basic_v1.so"), want[256];
    size_t basics = 0, rows = 0;
    struct run r;
    json_t *arr;

    for (size_t i = 0; i < tenon_plugin_count(t); i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        for (size_t k = 0; k < tenon_plugin_provides_count(p); k++)
            basics += strcmp(tenon_plugin_provides(p, k), TEST_BASIC_ID) == 0;
    }
    assert_int_equal(basics, 3);

    RUN(&r, "list", "--provides", TEST_BASIC_ID, "--plugin-path",
        TEST_PLUGIN_DIR, "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 0);
    for (const char *l = strchr(r.out, '\n') + 1; *l;
         l = strchr(l, '\n') + 1, rows++)
        assert_int_equal(strncmp(l, "basic ", 6), 0);
    assert_int_equal(rows, basics);
    assert_null(strstr(r.out, "hello"));
    run_free(&r);

    RUN(&r, "list", "--provides=example.greeter/1", "--json", "--plugin-path",
        TEST_PLUGIN_DIR, "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 0);
    arr = parse_json(r.out);
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(arr, 0), "name")),
        "hello");
    json_decref(arr);
    run_free(&r);

    RUN(&r, "list", "--provides", "x.nothing/1", "--plugin-path",
        TEST_PLUGIN_DIR, "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 0);
    assert_string_equal(r.out, "no plugins providing x.nothing/1 found in 2 "
                               "directories\n");
    run_free(&r);

    /* Unusable files count only when their info lists the id: a shadowed
     * copy of basic does, the broken files of TEST_BAD_DIR do not. */
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", copy);
    RUN(&r, "list", "--provides", TEST_BASIC_ID, "--plugin-path",
        TEST_PLUGIN_DIR, "--plugin-path", *state, "--plugin-path",
        TEST_BAD_DIR);
    assert_status(&r, 0);
    assert_contains(r.out, "(1 unavailable file not shown; use --all)");
    run_free(&r);
    RUN(&r, "list", "--all", "--provides", TEST_BASIC_ID, "--plugin-path",
        TEST_PLUGIN_DIR, "--plugin-path", *state, "--plugin-path",
        TEST_BAD_DIR);
    snprintf(want, sizeof want, "\nunavailable:\n  %s (basic 1.2.0)\n", copy);
    assert_contains(r.out, want);
    assert_null(strstr(r.out, "badver"));
    run_free(&r);

    RUN(&r, "list", "--provides", "not-an-id");
    assert_status(&r, 2);
    assert_contains(r.err, "--provides 'not-an-id': expected an interface id "
                           "namespace.name/major");
    run_free(&r);
    RUN(&r, "list", "--provides");
    assert_status(&r, 2);
    assert_contains(r.err, "--provides needs an interface id");
    run_free(&r);
    free(copy);
    tenon_close(t);
}

/* An int argument's range, in text and JSON, from the example plugin. */
static void test_info_ranges(void **state)
{
    const char *dirs[] = {TEST_EXAMPLE_DIR};
    tenon_t *t = open_scanned(dirs, 1);
    const tenon_plugin_t *p;
    const struct tenon_arg_decl *d;
    struct run r;
    json_t *o, *times;
    (void)state;

    assert_int_equal(tenon_find(t, "hello", &p), 0);
    d = tenon_plugin_arg(p, 1);
    assert_string_equal(d->name, "times");
    assert_true(d->has_min && d->has_max);
    assert_int_equal(d->min, 1);
    assert_int_equal(d->max, 10);
    assert_false(tenon_plugin_arg(p, 0)->has_min);

    RUN(&r, "info", "hello", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 0);
    assert_contains(r.out, "\n  times  int (1..10), default \"1\"\n");
    run_free(&r);

    RUN(&r, "info", "hello", "--json", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 0);
    o = parse_json(r.out);
    times = json_array_get(json_object_get(o, "arguments"), 1);
    assert_int_equal(json_integer_value(json_object_get(times, "min")), 1);
    assert_int_equal(json_integer_value(json_object_get(times, "max")), 10);
    assert_true(json_is_null(json_object_get(
        json_array_get(json_object_get(o, "arguments"), 0), "min")));
    json_decref(o);
    run_free(&r);

    RUN(&r, "check", "hello:times=11", "--plugin-path", TEST_EXAMPLE_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "plugin 'hello', argument 'times': expected an int "
                           "from 1 to 10, got '11'");
    run_free(&r);

    /* a file whose range is broken is listed with the reason */
    RUN(&r, "list", "--all", "--plugin-path", TEST_BADINFO_DIR);
    assert_status(&r, 0);
    assert_contains(r.out, "/badrange_order.so (range-order 1.0.0)\n    "
                           "unavailable: argument 'n' has arg.min 10 above "
                           "arg.max 1; expected min <= max\n");
    assert_contains(r.out, "default of argument 'n': expected an int from 1 "
                           "to 10, got '11'");
    assert_contains(r.out, "arg.min of argument 'n': expected int");
    assert_contains(r.out, "argument 's' has arg.min but is of type string");
    run_free(&r);
    tenon_close(t);
}

static void test_info_targets(void **state)
{
    struct run r;
    json_t *o, *targets;
    const char *at;
    (void)state;

    RUN(&r, "info", "basic", "--targets", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    at = strstr(r.out, "\ntargets:\n");
    assert_non_null(at);
    assert_contains(at, "\n  alpha ");
    assert_contains(at, "first target");
    assert_contains(at, "\n  beta ");
    assert_contains(at, "second target");
    assert_true(strstr(at, "alpha") < strstr(at, "beta"));
    run_free(&r);

    RUN(&r, "info", "basic", "--targets", "--json", "--plugin-path",
        TEST_PLUGIN_DIR);
    assert_status(&r, 0);
    o = parse_json(r.out);
    targets = json_object_get(o, "targets");
    assert_true(json_is_array(targets));
    assert_int_equal(json_array_size(targets), 2);
    assert_nstr(
        json_string_value(json_object_get(json_array_get(targets, 0), "name")),
        "alpha");
    assert_nstr(json_string_value(
                    json_object_get(json_array_get(targets, 1), "description")),
                "second target");
    json_decref(o);
    run_free(&r);

    /* A plugin without targets(): a failure that says so. */
    RUN(&r, "info", "required", "--targets", "--plugin-path", TEST_PLUGIN_DIR);
    assert_status(&r, 1);
    assert_contains(r.err, "required");
    assert_contains(r.err, "targets");
    run_free(&r);
}

/* ---- TENON_LOG ----------------------------------------------------------- */

static void test_log_env(void **state)
{
    static const char *const missing = "/nonexistent/tenon-test-dir";
    static const char *const debug_values[] = {
        "TENON_LOG=debug", "TENON_LOG=trace", "TENON_LOG=4"};
    static const char *const quiet[] = {"TENON_LOG", NULL};
    struct run base, r;
    (void)state;

    RUN_ENV(&base, quiet, "list", "--plugin-path", missing, "--plugin-path",
            TEST_PLUGIN_DIR);
    assert_status(&base, 0);
    assert_string_equal(base.err, "");

    for (size_t i = 0; i < 3; i++) {
        const char *env[] = {debug_values[i], NULL};
        RUN_ENV(&r, env, "list", "--plugin-path", missing, "--plugin-path",
                TEST_BAD_DIR);
        assert_status(&r, 0);
        assert_contains(r.err, "skipping");
        assert_contains(r.err, missing);
        assert_contains(r.err, "debug");
        /* Each unavailable file is explained at debug level too. */
        assert_contains(r.err, TEST_BAD_DIR "/badver.so");
        /* Logging goes to stderr only. */
        assert_null(strstr(r.out, "skipping"));
        run_free(&r);
    }

    /* Below debug, nothing about skipped directories. */
    {
        const char *env[] = {"TENON_LOG=info", NULL};
        RUN_ENV(&r, env, "list", "--plugin-path", missing, "--plugin-path",
                TEST_PLUGIN_DIR);
        assert_status(&r, 0);
        assert_null(strstr(r.err, "skipping"));
        assert_string_equal(r.out, base.out);
        run_free(&r);
    }

    /* Nonsense levels fall back to the default and change nothing else. */
    {
        static char longval[4200];
        static const char *const bad[] = {"TENON_LOG=bogus",
                                          "TENON_LOG=",
                                          "TENON_LOG=9",
                                          "TENON_LOG=-1",
                                          "TENON_LOG=debugx",
                                          "TENON_LOG=%s%n%s",
                                          longval};
        memcpy(longval, "TENON_LOG=", 10);
        memset(longval + 10, 'd', sizeof longval - 11);
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            const char *env[] = {bad[i], NULL};
            RUN_ENV(&r, env, "list", "--plugin-path", missing, "--plugin-path",
                    TEST_PLUGIN_DIR);
            if (r.status != 0)
                fail_msg("%.40s: exit status %d\n%s", bad[i], r.status, r.err);
            assert_string_equal(r.out, base.out);
            assert_null(strstr(r.err, "skipping"));
            run_free(&r);
        }
    }
    run_free(&base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_suggestions),
        cmocka_unit_test(test_spec_hints),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_info_not_found),
        cmocka_unit_test(test_list_text),
        cmocka_unit_test(test_list_text_unavailable),
        cmocka_unit_test(test_list_json),
        cmocka_unit_test(test_list_all_json),
        cmocka_unit_test(test_info_text),
        cmocka_unit_test(test_info_json),
        cmocka_unit_test(test_info_ranges),
        cmocka_unit_test_setup_teardown(test_info_file, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_list_provides, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_info_targets),
        cmocka_unit_test(test_log_env),
    };
    /* Children inherit the environment; the tests choose TENON_LOG. */
    unsetenv("TENON_LOG");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
