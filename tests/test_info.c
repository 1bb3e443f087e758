/*
 * The static-info parser on hand-written info: the int range keys
 * (arg.min, arg.max) and the one-line description, each rule with the
 * reason it gives. Real plugin files breaking the same rules are in
 * tests/plugins/badinfo.c (tests/badinfo/), listed by test_escape and
 * test_cli.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

#define HEAD    "abi=1\0name=r\0version=1.0.0\0"
#define INFO(s) HEAD s, sizeof(HEAD s) /* bytes and size, final NUL kept */

/* Parse must succeed; the caller frees *info. */
static void parse_ok(const char *src, size_t size, struct tenon__info *info)
{
    char reason[TENON__REASON_MAX] = "";
    if (tenon__info_parse(src, size, info, reason, sizeof reason) != 0)
        fail_msg("refused: %s", reason);
}

/* Parse must fail with a reason containing `needle`. */
static void parse_bad(const char *src, size_t size, const char *needle)
{
    struct tenon__info info;
    char reason[TENON__REASON_MAX] = "";
    int rc = tenon__info_parse(src, size, &info, reason, sizeof reason);
    tenon__info_free(&info);
    if (rc == 0)
        fail_msg("accepted; expected '%s'", needle);
    assert_int_equal(rc, TENON_EINVAL);
    if (!strstr(reason, needle))
        fail_msg("reason '%s' lacks '%s'", reason, needle);
}

static void ranges(void **state)
{
    struct tenon__info info;
    const struct tenon_arg_decl *d;
    (void)state;

    parse_ok(INFO("arg=n\0arg.type=int\0arg.help=h\0arg.default=1\0"
                  "arg.min=1\0arg.max=0xa\0arg=low\0arg.type=int\0"
                  "arg.help=h\0arg.min=-4k\0arg=plain\0arg.type=int\0"
                  "arg.help=h\0arg=top\0arg.type=int\0arg.help=h\0"
                  "arg.max=-1\0arg.default=-9223372036854775808\0"),
             &info);
    assert_int_equal(info.nargs, 4);
    d = &info.args[0];
    assert_true(d->has_min && d->has_max);
    assert_int_equal(d->min, 1);
    assert_int_equal(d->max, 10);
    d = &info.args[1];
    assert_true(d->has_min && !d->has_max);
    assert_int_equal(d->min, -4096);
    d = &info.args[2];
    assert_false(d->has_min || d->has_max);
    d = &info.args[3];
    assert_true(!d->has_min && d->has_max);
    assert_int_equal(d->max, -1);
    tenon__info_free(&info);

    /* a one-value range, the default on either edge */
    parse_ok(INFO("arg=n\0arg.type=int\0arg.default=3\0arg.min=3\0"
                  "arg.max=3\0"),
             &info);
    tenon__info_free(&info);

    parse_bad(INFO("arg=n\0arg.type=int\0arg.min=10\0arg.max=1\0"),
              "argument 'n' has arg.min 10 above arg.max 1; expected min "
              "<= max");
    parse_bad(INFO("arg=n\0arg.type=int\0arg.default=11\0arg.min=1\0"
                   "arg.max=10\0"),
              "default of argument 'n': expected an int from 1 to 10, got "
              "'11'");
    parse_bad(INFO("arg=n\0arg.type=int\0arg.default=0\0arg.min=1\0"),
              "default of argument 'n': expected an int of at least 1, got "
              "'0'");
    parse_bad(INFO("arg=n\0arg.type=int\0arg.default=0x10\0arg.max=15\0"),
              "expected an int of at most 15, got '0x10'");
    parse_bad(INFO("arg=n\0arg.type=int\0arg.min=one\0"),
              "arg.min of argument 'n': expected int");
    parse_bad(INFO("arg=n\0arg.type=int\0arg.max=\0"),
              "arg.max of argument 'n': expected int");
    parse_bad(INFO("arg=n\0arg.type=int\0arg.max=9223372036854775808\0"),
              "arg.max of argument 'n'");
    parse_bad(INFO("arg=s\0arg.type=string\0arg.min=1\0"),
              "argument 's' has arg.min but is of type string; only int "
              "arguments take a range");
    parse_bad(INFO("arg=e\0arg.type=enum\0arg.choices=a|b\0arg.max=1\0"),
              "argument 'e' has arg.max but is of type enum");
    parse_bad(INFO("arg.min=1\0arg=n\0arg.type=int\0"),
              "'arg.min' comes before any arg= key");
}

static void description_is_one_line(void **state)
{
    struct tenon__info info;
    (void)state;
    parse_ok(INFO("description=one line\twith a tab\0help=two\nlines\0"),
             &info);
    tenon__info_free(&info);
    parse_bad(INFO("description=one\ntwo\0"),
              "description has a line break; expected one line");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranges),
        cmocka_unit_test(description_is_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
