/* Argument strings: syntax, quoting, defaults, every type and every error
 * message, against declarations like those a plugin writes. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

/* Declarations as the static-info parser makes them; the members after
 * choices (an int's range) are zero. */
#define DECL(n, t, req, def, h, ch)                                            \
    {                                                                          \
        .name = (n), .type = (t), .required = (req), .default_value = (def),   \
        .help = (h), .choices = (ch)                                           \
    }

static const struct tenon_arg_decl decls[] = {
    DECL("label", TENON_ARG_STRING, 0, "none", "bare value", NULL),
    DECL("count", TENON_ARG_INT, 0, "0", "a number", NULL),
    DECL("flag", TENON_ARG_BOOL, 0, "no", "a switch", NULL),
    DECL("mode", TENON_ARG_ENUM, 0, "auto", "a choice", "fast|slow|auto"),
    DECL("limit", TENON_ARG_INT, 0, NULL, "optional", NULL),
};
#define NDECLS (sizeof decls / sizeof *decls)

static const struct tenon_arg_decl required[] = {
    DECL("pid", TENON_ARG_INT, 1, NULL, "process id", NULL),
    DECL("os", TENON_ARG_ENUM, 1, NULL, "operating system", "linux|win"),
};

static struct tenon__args parsed;

static int teardown(void **state)
{
    (void)state;
    tenon__args_free(&parsed);
    return 0;
}

static const struct tenon_arg_value *ok(const char *s, const char *name)
{
    tenon__args_free(&parsed);
    int rc = tenon__args_parse(s, decls, NDECLS, "basic", &parsed);
    if (rc != 0)
        fail_msg("'%s' rejected: %s", s, tenon_last_error());
    for (size_t i = 0; i < parsed.pub.count; i++)
        if (strcmp(parsed.pub.values[i].name, name) == 0)
            return &parsed.pub.values[i];
    fail_msg("no value named %s", name);
    return NULL;
}

/* Parse must fail with `code` and a message containing `needle`. */
static void bad(const struct tenon_arg_decl *d, size_t n, const char *s,
                int code, const char *needle)
{
    struct tenon__args a;
    int rc = tenon__args_parse(s, d, n, "basic", &a);
    if (rc == 0) {
        tenon__args_free(&a);
        fail_msg("'%s' was accepted", s);
    }
    assert_int_equal(rc, code);
    if (!strstr(tenon_last_error(), needle))
        fail_msg("'%s': message '%s' lacks '%s'", s, tenon_last_error(),
                 needle);
}

static void defaults(void **state)
{
    (void)state;
    const struct tenon_arg_value *v = ok(NULL, "label");
    assert_string_equal(v->str, "none");
    assert_true(v->set);
    assert_int_equal(ok("", "count")->i, 0);
    assert_int_equal(ok("", "mode")->i, 2);
    v = ok("", "limit");
    assert_false(v->set);
    assert_string_equal(v->str, "");
    /* values[] follows declaration order, so plugins may index it */
    ok("count=3", "count");
    for (size_t i = 0; i < NDECLS; i++)
        assert_string_equal(parsed.pub.values[i].name, decls[i].name);
}

static void bare_value_and_keys(void **state)
{
    (void)state;
    assert_string_equal(ok("hello", "label")->str, "hello");
    assert_int_equal(ok("hello,count=7", "count")->i, 7);
    assert_string_equal(ok("count=7,hello", "label")->str, "hello");
    assert_string_equal(ok("label=x=y", "label")->str, "x=y");
}

static void quoting(void **state)
{
    (void)state;
    assert_string_equal(ok("label=\"a,b\"", "label")->str, "a,b");
    assert_string_equal(ok("label='a,\"b'", "label")->str, "a,\"b");
    assert_string_equal(ok("label=\"say \\\"hi\\\"\"", "label")->str,
                        "say \"hi\"");
    assert_string_equal(ok("label=\"back\\\\slash\"", "label")->str,
                        "back\\slash");
    assert_string_equal(ok("label=pre\"x,y\"post", "label")->str, "prex,ypost");
    assert_string_equal(ok("\"a,b\",count=1", "label")->str, "a,b");
    assert_string_equal(ok("label=''", "label")->str, "");
    bad(decls, NDECLS, "label=\"open", TENON_EARG,
        "unterminated \" quote opened at offset 6 of argument string");
    bad(decls, NDECLS, "count=1,label=x'open", TENON_EARG,
        "unterminated ' quote opened at offset 15");
    bad(decls, NDECLS, "label='open", TENON_EARG, "unterminated ' quote");
}

static void ints(void **state)
{
    (void)state;
    assert_int_equal(ok("count=42", "count")->i, 42);
    assert_int_equal(ok("count=-42", "count")->i, -42);
    assert_int_equal(ok("count=0x1F", "count")->i, 31);
    assert_int_equal(ok("count=4k", "count")->i, 4096);
    assert_int_equal(ok("count=2M", "count")->i, 2 << 20);
    assert_int_equal(ok("count=0x10g", "count")->i, 16LL << 30);
    assert_int_equal(ok("count=9223372036854775807", "count")->i, INT64_MAX);
    assert_true(ok("count=-9223372036854775808", "count")->i == INT64_MIN);
    bad(decls, NDECLS, "count=abc", TENON_EARG,
        "argument 'count': expected int (decimal or 0x hex, optional k/m/g "
        "suffix), got 'abc'");
    bad(decls, NDECLS, "count=", TENON_EARG, "expected int");
    bad(decls, NDECLS, "count=0x", TENON_EARG, "expected int");
    bad(decls, NDECLS, "count=12q", TENON_EARG, "got '12q'");
    bad(decls, NDECLS, "count=1kk", TENON_EARG, "got '1kk'");
    bad(decls, NDECLS, "count=9223372036854775808", TENON_ERANGE,
        "out of range");
    bad(decls, NDECLS, "count=99999999999999999999", TENON_ERANGE,
        "out of range");
    bad(decls, NDECLS, "count=0x7fffffffffffffffk", TENON_ERANGE,
        "out of range");
}

static void bools_and_enums(void **state)
{
    static const char *const yes[] = {"y", "yes", "true", "1"};
    static const char *const no[] = {"n", "no", "false", "0"};
    char buf[32];
    (void)state;
    for (int i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "flag=%s", yes[i]);
        assert_int_equal(ok(buf, "flag")->i, 1);
        snprintf(buf, sizeof buf, "flag=%s", no[i]);
        assert_int_equal(ok(buf, "flag")->i, 0);
    }
    bad(decls, NDECLS, "flag=maybe", TENON_EARG,
        "expected bool (y, yes, true, 1, n, no, false, 0), got 'maybe'");
    bad(decls, NDECLS, "flag=YES", TENON_EARG, "got 'YES'");
    assert_int_equal(ok("mode=fast", "mode")->i, 0);
    assert_int_equal(ok("mode=slow", "mode")->i, 1);
    bad(decls, NDECLS, "mode=fas", TENON_EARG,
        "argument 'mode': expected one of fast|slow|auto, got 'fas'");
    bad(decls, NDECLS, "mode=", TENON_EARG, "expected one of");
}

static void structure_errors(void **state)
{
    (void)state;
    bad(decls, NDECLS, "colour=red", TENON_EARG,
        "plugin 'basic' has no argument 'colour'; it takes: label, count, "
        "flag, mode, limit");
    bad(decls, 0, "x=1", TENON_EARG, "it takes no arguments");
    bad(decls, 0, "value", TENON_EARG, "plugin 'basic' takes no arguments");
    bad(decls, NDECLS, "count=1,count=2", TENON_EARG,
        "argument 'count' is given twice");
    bad(decls, NDECLS, "a,label=b", TENON_EARG,
        "argument 'label' is given twice");
    bad(decls, NDECLS, "a,b", TENON_EARG, "more than one value without a key");
    bad(decls, NDECLS, "count=1,", TENON_EARG, "empty item at offset 8");
    bad(decls, NDECLS, ",count=1", TENON_EARG, "empty item at offset 0");
    bad(decls, NDECLS, "count=1,,flag=y", TENON_EARG, "empty item");
    bad(decls, NDECLS, "=5", TENON_EARG, "empty argument name");
}

/* TENON_ARG_INT_RANGE: bounds inclusive, in any spelling of an int; the
 * error names the plugin, the argument, the range and the value given. */
static void int_ranges(void **state)
{
    static const struct tenon_arg_decl ranged[] = {
        {.name = "times",
         .type = TENON_ARG_INT,
         .default_value = "1",
         .help = "1 to 10",
         .has_min = 1,
         .has_max = 1,
         .min = 1,
         .max = 10},
        {.name = "low", .type = TENON_ARG_INT, .has_min = 1, .min = -4096},
        {.name = "high", .type = TENON_ARG_INT, .has_max = 1, .max = 0},
    };
    static const char *const good[] = {"1",
                                       "10",
                                       "0xa",
                                       "+5",
                                       "low=-4k",
                                       "high=0",
                                       "high=-0x8000000000000000"};
    static const struct {
        const char *s, *msg;
    } out[] = {
        {"0", "plugin 'basic', argument 'times': expected an int from 1 to "
              "10, got '0'"},
        {"11", "argument 'times': expected an int from 1 to 10, got '11'"},
        {"times=0xb", "expected an int from 1 to 10, got '0xb'"},
        {"times=1k", "got '1k'"},
        {"low=-4097", "argument 'low': expected an int of at least -4096, "
                      "got '-4097'"},
        {"high=1", "argument 'high': expected an int of at most 0, got '1'"},
    };
    struct tenon__args a;
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (tenon__args_parse(good[i], ranged, 3, "basic", &a) != 0)
            fail_msg("'%s' refused: %s", good[i], tenon_last_error());
        tenon__args_free(&a);
    }
    for (size_t i = 0; i < sizeof out / sizeof *out; i++)
        bad(ranged, 3, out[i].s, TENON_ERANGE, out[i].msg);
    /* an overflow is still the int's own error */
    bad(ranged, 3, "times=99999999999999999999", TENON_ERANGE, "range");
    /* the default sits inside the range and is used */
    assert_int_equal(tenon__args_parse("", ranged, 3, "basic", &a), 0);
    assert_int_equal(a.pub.values[0].i, 1);
    assert_false(a.pub.values[1].set);
    tenon__args_free(&a);
}

static void required_args(void **state)
{
    struct tenon__args a;
    (void)state;
    bad(required, 2, "", TENON_EARG,
        "plugin 'basic' needs argument 'pid' (int): process id");
    bad(required, 2, "pid=1", TENON_EARG,
        "needs argument 'os' (enum: linux|win): operating system");
    bad(required, 2, "os=linux", TENON_EARG, "needs argument 'pid'");
    assert_int_equal(tenon__args_parse("0x10,os=win", required, 2, "r", &a), 0);
    assert_int_equal(a.pub.values[0].i, 16);
    assert_int_equal(a.pub.values[1].i, 1);
    tenon__args_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(defaults, teardown),
        cmocka_unit_test_teardown(bare_value_and_keys, teardown),
        cmocka_unit_test_teardown(quoting, teardown),
        cmocka_unit_test_teardown(ints, teardown),
        cmocka_unit_test_teardown(bools_and_enums, teardown),
        cmocka_unit_test_teardown(structure_errors, teardown),
        cmocka_unit_test(required_args),
        cmocka_unit_test(int_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
