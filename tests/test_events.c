/*
 * Filters end to end: the jsonl plugin reading examples/data/access.jsonl
 * (whose counts examples/data/README.md gives, computed without Tenon)
 * through the pipeline, one filter at a time, every operator, not,
 * nesting, field arguments and missing fields; malformed filters with
 * their columns; the source's own fields found without naming it twice;
 * the JSON output naming the filter's fields.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tenon_t *open_plugins(void)
{
    const char *dirs[] = {BUNDLED_DIR};
    return open_dirs(dirs, 1);
}

static int count_out(void *ud, const struct tenon_event_input *ev,
                     const char *text, size_t len)
{
    (void)ev, (void)text, (void)len;
    ++*(size_t *)ud;
    return 0;
}

/* How many events of the example file match `filter`; -1 when it does not
 * compile (the column in *column). */
static long matches(tenon_t *t, const char *filter, size_t *column)
{
    tenon_instance_t *src;
    tenon_pipeline_t *p;
    struct tenon_pipeline_stats st = {.struct_size = sizeof st};
    size_t n = 0, col = 0;
    long rc;

    assert_int_equal(tenon_create(t, "jsonl", NULL, &src), 0);
    assert_int_equal(tenon_pipeline_new(t, src, &p), 0);
    tenon_destroy(src);
    if (tenon_pipeline_filter(p, filter, &col)) {
        if (column)
            *column = col;
        tenon_pipeline_free(p);
        return -1;
    }
    assert_int_equal(tenon_pipeline_output(p, TENON_OUTPUT_TEXT, "%evt.num",
                                           NULL, count_out, &n),
                     0);
    assert_int_equal(tenon_pipeline_open(p, EXAMPLE_DATA), 0);
    assert_int_equal(tenon_pipeline_run(p, 0, NULL, NULL), 0);
    assert_int_equal(tenon_pipeline_stats(p, &st), 0);
    assert_int_equal(st.read, 52);
    assert_int_equal(st.matched, n);
    rc = (long)n;
    tenon_pipeline_free(p);
    return rc;
}

static void test_filter_counts(void **state)
{
    static const struct {
        const char *filter;
        long want;
    } q[] = {
        {"json.value[/user] = alice", 12},
        {"json.value[/user] == alice", 12},
        {"json.value[/user] != alice", 40},
        {"json.number[/status] >= 500", 6},
        {"json.number[/status] = 404", 4},
        {"json.number[/status] != 200", 33},
        {"json.number[/size] > 5000", 21},
        {"json.number[/size] < 1024", 19},
        {"json.number[/size] > -1", 52},
        {"json.number[/size] <= 1024 and json.value[/method] = GET", 8},
        {"json.value[/region] in (\"us-east-1\", \"eu-west-1\")", 28},
        {"json.value[/user] intersects (alice, bob)", 21},
        {"json.value[/path] startswith \"/api/\"", 14},
        {"json.value[/path] endswith \".js\"", 11},
        {"json.value[/request/agent] contains Firefox", 10},
        {"json.value[/request/agent] icontains CURL", 15},
        {"json.value[/path] glob \"/api/v1/items*\"", 10},
        {"json.value[/mfa] = false", 3},
        {"json.value[/mfa] exists", 32},
        {"not json.value[/mfa] exists", 20},
        {"json.value[/tags/0] = prod", 4},
        {"json.value[/error/retryable] = true", 5},
        {"json.value[/request/headers/x-trace-id] exists", 17},
        {"(json.value[/user] = root or json.value[/user] = dave) and not "
         "json.number[/status] < 400",
         6},
        {"not (json.value[/user] = alice or json.number[/status] < 300)", 18},
        {"json.number[/size] > 5000 and (json.value[/method] = POST or "
         "json.value[/method] = PUT)",
         7},
        /* missing fields: false, and not of it true */
        {"json.value[/nothing] = x", 0},
        {"json.value[/nothing] != x", 0},
        {"not json.value[/request/tls] != true", 43},
        {"json.number[/latency_ms] exists", 0},
        {"json.number[/user] exists", 0},
        /* quoting and escapes */
        {"json.value[/user] = \"o'brien\"", 1},
        {"json.value[/user] = 'o\\'brien'", 1},
        {"json.value[/note] contains \"backslash \\\\\"", 1},
        {"json.value[/path] contains café", 1},
        {"json.value[/request] = '{\"agent\":\"curl/8.5.0\",\"tls\":true}'", 6},
        {"json.value[/error/code] in (E500, E503) and json.value[/region] != "
         "us-east-1",
         5},
        {"evt.num <= 10 and json.value[/user] = alice", 2},
        {"evt.source = jsonl and evt.plugin = jsonl and evt.type = 322", 52},
    };
    tenon_t *t = open_plugins();
    (void)state;
    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        long got = matches(t, q[i].filter, NULL);
        if (got != q[i].want)
            fail_msg("filter '%s': %ld matches, want %ld (%s)", q[i].filter,
                     got, q[i].want, got < 0 ? tenon_last_error() : "");
    }
    tenon_close(t);
}

/* What the README's Python says for evt.num <= 10 and alice: computed
 * here from the file, so the expected count is not taken on faith. */
static void test_count_from_file(void **state)
{
    FILE *f = fopen(EXAMPLE_DATA, "r");
    char line[4096];
    long n = 0, alice = 0;
    tenon_t *t = open_plugins();
    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof line, f) && ++n <= 10)
        alice += strstr(line, "\"user\":\"alice\"") != NULL;
    fclose(f);
    assert_int_equal(
        matches(t, "evt.num <= 10 and json.value[/user] = alice", NULL), alice);
    tenon_close(t);
}

static void test_bad_filters(void **state)
{
    static const struct {
        const char *filter;
        size_t column;
        const char *msg;
    } bad[] = {
        {"json.value[/user] =", 20, "expected a value"},
        {"json.value[/user] = alice and", 30, "expected"},
        {"(json.value[/user] = alice", 27, "expected ')'"},
        {"json.value = alice", 1, "needs an argument"},
        {"json.rawtext[/x] = a", 1, "takes no argument"},
        {"json.nope[/x] = a", 1, "unknown field 'json.nope'"},
        {"json.number[/size] > big", 22, "is not a number"},
        {"json.number[/size] contains 5", 20, "contains"},
        {"json.value[/user] < alice", 19, "'<'"},
        {"json.value[/user] = \"alice", 21, "unterminated string"},
        {"json.value[/user] bogus alice", 19, "expected a comparison"},
        {"json.value[/user] in (a, b", 27, "expected"},
        {"json.value[/user = a", 11, "expected ']' to close the argument"},
        /* jsonl's check_arg(): found when compiling, not on every event */
        {"json.number[/size] > 1 and json.value[user] = x", 28,
         "field 'json.value[user]': 'user' is not a JSON pointer"},
    };
    tenon_t *t = open_plugins();
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t col = 0;
        long got = matches(t, bad[i].filter, &col);
        if (got != -1)
            fail_msg("filter '%s' compiled", bad[i].filter);
        if (!strstr(tenon_last_error(), bad[i].msg) || col != bad[i].column)
            fail_msg("filter '%s': column %zu '%s', want column %zu and '%s'",
                     bad[i].filter, col, tenon_last_error(), bad[i].column,
                     bad[i].msg);
    }
    tenon_close(t);
}

/* The CLI: --json names the filter's fields; a bad filter is exit 2. */
static void test_cli_json_and_errors(void **state)
{
    struct run r;
    json_t *o;
    (void)state;
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open",
        EXAMPLE_DATA, "-f", "json.number[/status] >= 500", "-F",
        "%json.value[/user]", "--json", "-p", "jsonl");
    assert_status(&r, 0);
    *strchr(r.out, '\n') = '\0'; /* the first line */
    o = parse_json(r.out);
    assert_non_null(json_object_get(o, "evt.num"));
    assert_non_null(json_object_get(o, "evt.time"));
    assert_non_null(json_object_get(o, "json.value[/user]"));
    assert_true(
        json_integer_value(json_object_get(o, "json.number[/status]")) >= 500);
    json_decref(o);
    run_free(&r);
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open",
        EXAMPLE_DATA, "-f", "json.number[/status] >=");
    assert_status(&r, 2);
    assert_contains(r.err, "bad filter at column 24");
    assert_string_equal(r.out, "");
    run_free(&r);
    /* stdin */
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open",
        "/dev/null", "--stats");
    assert_status(&r, 0);
    assert_contains(r.err, "events read: 0");
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_counts),
        cmocka_unit_test(test_count_from_file),
        cmocka_unit_test(test_bad_filters),
        cmocka_unit_test(test_cli_json_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
