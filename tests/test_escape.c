/*
 * Text output cannot be forged: file names, static-info values, targets and
 * messages that quote them reach the terminal escaped (docs/cli.md,
 * "Escaping"), by every command, while --json keeps the exact bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

/* A name that would print a row of its own, and one that would recolour
 * the terminal, hide a byte that is not UTF-8 and reverse the rest (U+202E
 * RIGHT-TO-LEFT OVERRIDE). */
#define FORGED       "nl\nokplug  6.6.6  -  FORGED.so"
#define FORGED_SHOWN "nl\\nokplug  6.6.6  -  FORGED.so"
#define RED          "\033[31mred\377\342\200\256evil.so"
#define RED_SHOWN    "\\033[31mred\\377\\342\\200\\256evil.so"

/* No byte of `s` is one a terminal acts on, other than the line breaks. */
static void assert_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f || *p == 0xff)
            fail_msg("byte 0x%02x at offset %zu of:\n%s", *p,
                     (size_t)(p - (const unsigned char *)s), s);
    if (strstr(s, "\342\200\256"))
        fail_msg("U+202E printed raw:\n%s", s);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A directory holding basic_v1 as FORGED and required as RED. */
static char *odd_dir(const char *tmp)
{
    char *dir = path_join(tmp, "plugins"), *a, *b;
    assert_int_equal(mkdir(dir, 0755), 0);
    a = path_join(dir, FORGED);
    b = path_join(dir, RED);
    copy_path(TEST_PLUGIN_DIR "/basic_v1.so", a);
    copy_path(TEST_PLUGIN_DIR "/required.so", b);
    free(a);
    free(b);
    return dir;
}

static void list_paths(void **state)
{
    char *dir = odd_dir(*state), *forged = path_join(dir, FORGED);
    char shown[4096];
    struct run r;
    json_t *arr;
    int found = 0;

    RUN(&r, "list", "--plugin-path", dir);
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_int_equal(count_lines(r.out), 3); /* the header and two rows */
    snprintf(shown, sizeof shown, "  %s/%s\n", dir, FORGED_SHOWN);
    assert_contains(r.out, shown);
    snprintf(shown, sizeof shown, "  %s/%s\n", dir, RED_SHOWN);
    assert_contains(r.out, shown);
    assert_null(strstr(r.out, "\nokplug"));
    run_free(&r);

    /* --json keeps the bytes (the one that is not UTF-8 aside, which JSON
     * cannot hold). */
    RUN(&r, "list", "--json", "--plugin-path", dir);
    assert_status(&r, 0);
    arr = parse_json(r.out);
    for (size_t i = 0; i < json_array_size(arr); i++)
        found += strcmp(json_string_value(
                            json_object_get(json_array_get(arr, i), "path")),
                        forged) == 0;
    assert_int_equal(found, 1);
    json_decref(arr);
    run_free(&r);

    /* info by name shows the file escaped too */
    RUN(&r, "info", "required", "--plugin-path", dir);
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, RED_SHOWN "\n");
    run_free(&r);
    free(forged);
    free(dir);
}

/* A name with a line break: the reason quotes it, and so does the line
 * naming the file; neither breaks the line. A description of two lines is
 * refused, as docs/abi.md says. */
static void list_unavailable(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "list", "--all", "--plugin-path", TEST_BADINFO_DIR);
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, "/badnl.so (two\\nlines 1.0.0)\n");
    assert_contains(r.out, "name 'two\\nlines' is invalid");
    assert_contains(r.out, "/baddesc.so (multiline 1.0.0)\n    unavailable: "
                           "description has a line break; expected one "
                           "line (longer text belongs in help)\n");
    run_free(&r);
}

static void info_values(void **state)
{
    struct run r;
    json_t *o;
    (void)state;
    RUN(&r, "info", "odd", "--targets", "--plugin-path", TEST_ODD_DIR);
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, "\ndescription: Test plugin\\twith a tab\n");
    assert_contains(r.out, "string, default \"a\\tb\"\n"
                           "      help\\nin two lines\n");
    /* help keeps its own line breaks, indented */
    assert_contains(r.out, "\nhelp:\n  col1\\tcol2\n  second line\n");
    assert_contains(r.out, "\n  x-note=one\\ttwo\\nthree\n");
    /* targets come from plugin code: anything goes, nothing gets through */
    assert_contains(r.out, "\ntargets:\n  \\033[2Jwipe  two\\nlines\n");
    run_free(&r);

    RUN(&r, "info", "odd", "--json", "--targets", "--plugin-path",
        TEST_ODD_DIR);
    assert_status(&r, 0);
    o = parse_json(r.out);
    assert_string_equal(json_string_value(json_object_get(o, "help")),
                        "col1\tcol2\nsecond line");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(o, "targets"), 0), "name")),
        "\033[2Jwipe");
    json_decref(o);
    run_free(&r);
}

/* Messages that echo what the user typed or a file name. */
static void errors(void **state)
{
    char *dir = odd_dir(*state), *missing = path_join(dir, "\033[2J.so");
    struct run r;

    RUN(&r, "info", "x\033y", "--plugin-path", dir);
    assert_status(&r, 1);
    assert_clean(r.err);
    assert_contains(r.err, "'x\\033y' is not a plugin name");
    run_free(&r);

    RUN(&r, "install", missing, "--dir", dir);
    assert_status(&r, 1);
    assert_clean(r.err);
    assert_contains(r.err, "\\033[2J.so");
    run_free(&r);

    RUN(&r, "list", "--\033");
    assert_status(&r, 2);
    assert_clean(r.err);
    assert_contains(r.err, "'--\\033'");
    run_free(&r);

    RUN(&r, "fr\033b");
    assert_status(&r, 2);
    assert_clean(r.err);
    assert_contains(r.err, "'fr\\033b'");
    run_free(&r);

    /* the library's log lines quote file names too */
    {
        const char *env[] = {"TENON_LOG=debug", NULL};
        char *notes = path_join(dir, "\033]0;title\007.so");
        FILE *f = fopen(notes, "w");
        assert_non_null(f);
        fputs("not a plugin\n", f);
        fclose(f);
        RUN_ENV(&r, env, "list", "--no-cache", "--plugin-path", dir);
        assert_status(&r, 0);
        assert_clean(r.err);
        assert_contains(r.err, "\\033]0;title\\a.so: unavailable: not an ELF");
        run_free(&r);
        free(notes);
    }
    free(missing);
    free(dir);
}

/* install, remove, verify, keygen, sign, trust and cache print file names. */
static void other_commands(void **state)
{
    char *dir = odd_dir(*state), *inst = path_join(*state, "in\033st"),
         *keys = path_join(*state, "keys"), *cfg = path_join(*state, "cfg"),
         *cache = path_join(*state, "ca\tche"), *red = path_join(dir, RED),
         *key = path_join(keys, "k\033.key"),
         *pub = path_join(keys, "k\033.pub");
    char env_cfg[4200], env_cache[4200];
    const char *env[] = {env_cfg, env_cache, NULL};
    struct run r;

    snprintf(env_cfg, sizeof env_cfg, "XDG_CONFIG_HOME=%s", cfg);
    snprintf(env_cache, sizeof env_cache, "TENON_CACHE_DIR=%s", cache);

    RUN_ENV(&r, env, "install", red, "--dir", inst);
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, RED_SHOWN " as ");
    assert_contains(r.out, "/in\\033st/required-0.1.0.so\n");
    run_free(&r);

    RUN_ENV(&r, env, "keygen", "--out", keys, "--name", "k\033");
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, "/keys/k\\033.key");
    run_free(&r);

    RUN_ENV(&r, env, "sign", red, "--key", key);
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, "signed ");
    assert_contains(r.out, RED_SHOWN ".meta\n");
    run_free(&r);

    RUN_ENV(&r, env, "trust", "add", pub);
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, "/k\\033.pub\n");
    run_free(&r);

    RUN_ENV(&r, env, "trust", "list");
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, "  k\\033.pub  ");
    /* the column is as wide as the escaped name, not its 6 bytes */
    assert_contains(r.out, "  FILE       DIRECTORY\n");
    run_free(&r);

    /* An ignored key file: its reason, which names it, is escaped too. */
    char *trusted = path_join(cfg, "tenon/trusted"),
         *bad = path_join(trusted, "bad\033[31m.pub");
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("junk\n", f);
    fclose(f);
    RUN_ENV(&r, env, "trust", "list");
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, "\nignored, so the trust store fails closed");
    assert_contains(r.out, "/bad\\033[31m.pub");
    run_free(&r);
    assert_int_equal(unlink(bad), 0);
    free(bad);
    free(trusted);

    RUN_ENV(&r, env, "verify", red);
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, RED_SHOWN ": ok: signed by ");
    run_free(&r);

    RUN_ENV(&r, env, "list", "--plugin-path", inst);
    assert_status(&r, 0);
    run_free(&r);
    RUN_ENV(&r, env, "cache", "clear");
    assert_status(&r, 0);
    assert_clean(r.out);
    assert_contains(r.out, "removed ");
    assert_contains(r.out, "/ca\\tche/scan-");
    assert_contains(r.out, "/ca\\tche: removed 1 cache file\n");
    run_free(&r);

    RUN_ENV(&r, env, "remove", "required", "--dir", inst);
    assert_status(&r, 0);
    assert_string_equal(r.out, "removed 1 file for required\n");
    run_free(&r);
    free(dir);
    free(inst);
    free(keys);
    free(cfg);
    free(cache);
    free(red);
    free(key);
    free(pub);
}

/* The scheme itself, byte by byte. */
static void scheme(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain ascii ~", "plain ascii ~"},
        {"\a\b\t\n\v\f\r", "\\a\\b\\t\\n\\v\\f\\r"},
        {"\033\001\037\177", "\\033\\001\\037\\177"},
        {"back\\slash", "back\\slash"},
        {"caf\303\251 \346\227\245", "caf\303\251 \346\227\245"}, /* é, 日 */
        {"\302\233", "\\302\\233"},                               /* U+009B */
        {"\342\200\256x\342\201\246", "\\342\\200\\256x\\342\\201\\246"},
        {"\342\200\250", "\\342\\200\\250"},          /* U+2028 */
        {"\300\200", "\\300\\200"},                   /* overlong NUL */
        {"\355\240\200", "\\355\\240\\200"},          /* a surrogate */
        {"\364\220\200\200", "\\364\\220\\200\\200"}, /* above U+10FFFF */
        {"\343\201", "\\343\\201"},                   /* truncated */
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = tenon__escape(cases[i].in), *twice;
        assert_non_null(got);
        assert_string_equal(got, cases[i].out);
        twice = tenon__escape(got);
        assert_string_equal(twice, got); /* escaping twice changes nothing */
        free(twice);
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scheme),
        cmocka_unit_test_setup_teardown(list_paths, tmp_setup, tmp_teardown),
        cmocka_unit_test(list_unavailable),
        cmocka_unit_test(info_values),
        cmocka_unit_test_setup_teardown(errors, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(other_commands, tmp_setup,
                                        tmp_teardown),
    };
    unsetenv("TENON_LOG");
    unsetenv("TENON_TRUST");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
