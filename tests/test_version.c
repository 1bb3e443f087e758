/* Semantic version parsing and precedence (semver.org 2.0.0). */

#include "internal.h"
#include "testutil.h"

static void valid_versions(void **state)
{
    static const char *const ok[] = {"0.0.0",
                                     "1.2.3",
                                     "10.20.30",
                                     "1.0.0-alpha",
                                     "1.0.0-alpha.1",
                                     "1.0.0-0.3.7",
                                     "1.0.0-x.7.z.92",
                                     "1.0.0+20130313144700",
                                     "1.0.0-beta+exp.sha.5114f85",
                                     "1.0.0-rc-1",
                                     "18446744073709551615.0.0"};
    struct tenon__semver v;
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_int_equal(tenon__semver_parse(ok[i], &v), 0);
    assert_int_equal(tenon__semver_parse("1.2.3-rc.1", &v), 0);
    assert_int_equal(v.major, 1);
    assert_int_equal(v.minor, 2);
    assert_int_equal(v.patch, 3);
    assert_int_equal(v.pre_len, 4);
}

static void invalid_versions(void **state)
{
    static const char *const bad[] = {"",
                                      "1",
                                      "1.0",
                                      "1.0.0.0",
                                      "01.0.0",
                                      "1.01.0",
                                      "1.0.01",
                                      "1.0.0-",
                                      "1.0.0-01",
                                      "1.0.0+",
                                      "1.0.0-a..b",
                                      "a.b.c",
                                      "1.0.0 ",
                                      " 1.0.0",
                                      "-1.0.0",
                                      "1.0.0-rc_1",
                                      "18446744073709551616.0.0",
                                      "1.0.0+a+b"};
    struct tenon__semver v;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (tenon__semver_parse(bad[i], &v) != TENON_EINVAL)
            fail_msg("'%s' was accepted as a version", bad[i]);
    }
}

static int cmp(const char *a, const char *b)
{
    struct tenon__semver va, vb;
    assert_int_equal(tenon__semver_parse(a, &va), 0);
    assert_int_equal(tenon__semver_parse(b, &vb), 0);
    return tenon__semver_cmp(&va, &vb);
}

static void precedence(void **state)
{
    /* The ordered list from the semver spec, plus numeric-vs-lexical cases. */
    static const char *const order[] = {
        "1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
        "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
        "1.2.0",        "1.10.0-rc.1",   "1.10.0",           "2.0.0"};
    size_t n = sizeof order / sizeof *order;
    (void)state;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int want = (i > j) - (i < j), got = cmp(order[i], order[j]);
            if (want != got)
                fail_msg("cmp(%s, %s) = %d, expected %d", order[i], order[j],
                         got, want);
        }
    assert_int_equal(cmp("1.0.0+build.1", "1.0.0+build.2"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_versions),
        cmocka_unit_test(invalid_versions),
        cmocka_unit_test(precedence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
