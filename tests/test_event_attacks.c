/*
 * The adversarial review of the event subsystem, kept: each attack
 * (tests/plugins/evil.c plays the hostile plugin) with what must happen
 * instead of what did.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVIL "--plugin-path", TEST_EVIL_DIR

/* An address value whose bytes pointer is NULL crashed the output. */
static void test_ip_null(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "run", EVIL, "-s", "evil:mode=ipnull", "-F", "%evil.ip");
    assert_status(&r, 0);
    assert_contains(r.out, "<NA>");
    run_free(&r);
    RUN(&r, "run", EVIL, "-s", "evil:mode=ipnull7", "-F", "%evil.ip", "--json");
    assert_status(&r, 0);
    assert_contains(r.out, "\"evil.ip\":null");
    run_free(&r);
    /* a prefix longer than the address is shown as the bytes it is */
    RUN(&r, "run", EVIL, "-s", "evil:mode=netprefix", "-F", "%evil.net");
    assert_status(&r, 0);
    assert_true(strstr(r.out, "/200") == NULL);
    run_free(&r);
}

static tenon_t *open_evil(void)
{
    const char *dirs[] = {TEST_EVIL_DIR};
    return open_dirs(dirs, 1);
}

struct stopper {
    uint64_t stop_at, seen, last;
};

static int out_stop(void *ud, const struct tenon_event_input *ev,
                    const char *text, size_t len)
{
    struct stopper *st = ud;
    (void)text, (void)len;
    st->seen++;
    assert_int_equal(ev->evtnum, st->last + 1);
    st->last = ev->evtnum;
    return st->stop_at && ev->evtnum == st->stop_at ? 42 : 0;
}

/* A run stopped in the middle of a batch (by max, or by the output) lost
 * the rest of the batch: the next run must go on where it stopped. */
static void test_resume_mid_batch(void **state)
{
    tenon_t *t = open_evil();
    (void)state;
    for (int use_max = 0; use_max < 2; use_max++) {
        tenon_instance_t *src;
        tenon_pipeline_t *p;
        struct stopper st = {use_max ? 0 : 3, 0, 0};
        struct tenon_pipeline_stats s = {.struct_size = sizeof s};
        assert_int_equal(tenon_create(t, "evil:mode=batch", NULL, &src), 0);
        assert_int_equal(tenon_pipeline_new(t, src, &p), 0);
        tenon_destroy(src);
        assert_int_equal(tenon_pipeline_output(p, TENON_OUTPUT_TEXT, "%evt.num",
                                               NULL, out_stop, &st),
                         0);
        assert_int_equal(tenon_pipeline_open(p, NULL), 0);
        assert_int_equal(tenon_pipeline_run(p, use_max ? 3 : 0, NULL, NULL),
                         use_max ? 0 : 42);
        assert_int_equal(st.seen, 3);
        st.stop_at = 0;
        assert_int_equal(tenon_pipeline_run(p, 0, NULL, NULL), 0);
        assert_int_equal(tenon_pipeline_stats(p, &s), 0);
        assert_int_equal(s.read, 10);
        assert_int_equal(st.seen, 10);
        tenon_pipeline_free(p);
    }
    tenon_close(t);
}

/* TENON_TS_NOW in a source's record: evt.time is when it came in. */
static void test_ts_now_source(void **state)
{
    struct run r;
    json_t *o;
    time_t now = time(NULL);
    (void)state;
    RUN(&r, "run", EVIL, "-s", "evil:mode=tsnow", "--json", "-n", "1");
    assert_status(&r, 0);
    o = parse_json(r.out);
    json_int_t ts = json_integer_value(json_object_get(o, "evt.time"));
    assert_true(ts / 1000000000 >= now - 60 && ts / 1000000000 <= now + 60);
    json_decref(o);
    run_free(&r);
}

/* Two routines unsubscribing each other deadlocked both threads. */
static void test_listen_mutual_unsubscribe(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "run", EVIL, "-s", "evil:mode=lmutual", "-F", "%evt.num");
    assert_status(&r, 0);
    run_free(&r);
    RUN(&r, "run", EVIL, "-s", "evil:mode=lsubin", "-F", "%evt.num");
    assert_status(&r, 0);
    run_free(&r);
    RUN(&r, "run", EVIL, "-s", "evil:mode=lother", "-F", "%evt.num");
    assert_status(&r, 0);
    run_free(&r);
}

/* --json wrote DEL, C1 controls and bidi overrides raw to the terminal. */
static void test_json_escapes_terminal_controls(void **state)
{
    char *dir = make_tmpdir(), *file = path_join(dir, "in.jsonl");
    FILE *f = fopen(file, "w");
    struct run r;
    (void)state;
    fputs("{\"u\":\"a\\u009b2J\\u007f\\u202eb\\u0085\"}\n", f);
    fclose(f);
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open", file,
        "--json", "-F", "%json.value[/u]");
    assert_status(&r, 0);
    assert_contains(r.out, "a\\u009b2J\\u007f\\u202eb\\u0085");
    run_free(&r);
    free(file);
    remove_tree(dir);
}

/* Output that could not be written was lost with exit 0, or failed with
 * an empty message. */
static int child_to_full(void *arg)
{
    int fd = open("/dev/full", O_WRONLY);
    (void)arg;
    signal(SIGPIPE, SIG_IGN);
    dup2(fd, 1);
    execl(TENON_CLI, TENON_CLI, "run", "--plugin-path", BUNDLED_DIR, "-s",
          "jsonl", "--open", EXAMPLE_DATA, "-n", "3", (char *)NULL);
    return 127;
}

static void test_output_write_errors(void **state)
{
    struct run r;
    (void)state;
    assert_int_equal(run_child(&r, 20000, child_to_full, NULL), 0);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "tenon run: writing the output: No space left on "
                           "device");
    run_free(&r);
}

/* A failed write of the --stats report exited 0 (second review). */
static int child_stats_to_full(void *arg)
{
    int fd = open("/dev/full", O_WRONLY);
    (void)arg;
    dup2(fd, 2);
    execl(TENON_CLI, TENON_CLI, "run", "--plugin-path", BUNDLED_DIR, "-s",
          "jsonl", "--open", EXAMPLE_DATA, "-n", "3", "--stats", (char *)NULL);
    return 127;
}

static void test_stats_write_error(void **state)
{
    struct run r;
    (void)state;
    assert_int_equal(run_child(&r, 20000, child_stats_to_full, NULL), 0);
    assert_int_equal(r.status, 1);
    run_free(&r);
}

/* With stdin closed, `--open -` read whatever tenon had opened as fd 0. */
static int child_closed_stdin(void *arg)
{
    (void)arg;
    close(0);
    execl(TENON_CLI, TENON_CLI, "run", "--plugin-path", BUNDLED_DIR, "-s",
          "jsonl", "--open", "-", "--stats", (char *)NULL);
    return 127;
}

static void test_closed_stdin(void **state)
{
    struct run r;
    (void)state;
    assert_int_equal(run_child(&r, 20000, child_closed_stdin, NULL), 0);
    assert_int_equal(r.status, 0);
    assert_contains(r.err, "events read: 0");
    assert_contains(r.err, "jsonl.malformed = 0");
    run_free(&r);
}

/* --config mistakes were ignored without a word. */
static void test_config_mistakes(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open",
        EXAMPLE_DATA, "--config", "jsnol={}");
    assert_status(&r, 2);
    assert_contains(r.err, "--config jsnol: no plugin of that name");
    assert_string_equal(r.out, "");
    run_free(&r);
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open",
        EXAMPLE_DATA, "--config", "jsonl=@/tmp");
    assert_status(&r, 2);
    assert_contains(r.err, "expected a regular file");
    run_free(&r);
}

/* Metrics went through a double: UINT64_MAX misprinted, NaN lost. */
static void test_metrics_exact(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "run", EVIL, "-s", "evil:mode=mnull", "--stats");
    assert_status(&r, 0);
    assert_contains(r.err, "evil.big = 18446744073709551615 (counter)");
    run_free(&r);
    RUN(&r, "run", EVIL, "-s", "evil:mode=mnull", "--stats", "--json");
    assert_status(&r, 0);
    assert_contains(r.err, "\"value\":null");
    run_free(&r);
}

/* The caret counted bytes; a blank filter was an error, an empty one not. */
static void test_caret_and_blank_filter(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open",
        EXAMPLE_DATA, "-f", "json.value[/p] = \xc3\xa9\xc3\xa9 and x");
    assert_status(&r, 2);
    assert_contains(r.err, "column 27:");
    /* two characters of two bytes each: the caret is two columns left of
     * the byte count */
    assert_contains(r.err, "\n                          ^\n");
    run_free(&r);
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open",
        EXAMPLE_DATA, "-f", "  \t ", "-F", "%evt.num");
    assert_status(&r, 0);
    assert_contains(r.out, "\n52\n");
    run_free(&r);
}

static int count_line(void *ud, const struct tenon_event_input *ev,
                      const char *text, size_t len)
{
    (void)ev, (void)text, (void)len;
    ++*(size_t *)ud;
    return 0;
}

/* A filter naming tens of thousands of fields compiled in quadratic time
 * (40,000 took 18 s: slots were found by a walk over all of them, and
 * each slot's first comparison by a walk over the code); 36,000 compile,
 * open and run. */
static void test_many_fields(void **state)
{
    const char *dirs[] = {BUNDLED_DIR};
    tenon_t *t = open_dirs(dirs, 1);
    tenon_instance_t *src;
    tenon_pipeline_t *p;
    size_t cap = 36000 * 32, len = 0, matched = 0;
    char *f = malloc(cap);
    (void)state;
    for (int i = 0; i < 36000; i++)
        len += (size_t)snprintf(f + len, cap - len, "%sjson.value[/u%d] = x",
                                i ? " or " : "", i);
    /* and one that matches, at the end */
    snprintf(f + len, cap - len, " or json.value[/user] = alice");
    assert_int_equal(tenon_create(t, "jsonl", NULL, &src), 0);
    assert_int_equal(tenon_pipeline_new(t, src, &p), 0);
    tenon_destroy(src);
    assert_int_equal(tenon_pipeline_filter(p, f, NULL), 0);
    assert_int_equal(tenon_pipeline_output(p, TENON_OUTPUT_TEXT, "%evt.num",
                                           NULL, count_line, &matched),
                     0);
    assert_int_equal(tenon_pipeline_open(p, EXAMPLE_DATA), 0);
    assert_int_equal(tenon_pipeline_run(p, 0, NULL, NULL), 0);
    assert_int_equal(matched, 12);
    tenon_pipeline_free(p);
    tenon_close(t);
    free(f);
}

/* A glob of many unclosed '[' against a long value ran for minutes: each
 * '[' looked for its ']' to the end of the pattern at every step. */
static void test_glob_unclosed_brackets(void **state)
{
    char *dir = make_tmpdir(), *file = path_join(dir, "in.jsonl");
    char *filter = malloc(2100);
    FILE *f = fopen(file, "w");
    struct run r;
    (void)state;
    fputs("{\"s\":\"", f);
    for (int i = 0; i < 20000; i++)
        fputc('[', f);
    fputs("\"}\n", f);
    fclose(f);
    strcpy(filter, "json.value[/s] glob '*");
    memset(filter + strlen(filter), '[', 2000);
    strcpy(filter + 22 + 2000, "x'");
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open", file,
        "-f", filter, "--stats");
    assert_status(&r, 0);
    assert_contains(r.err, "events read: 1 (async 0), matched: 0");
    run_free(&r);
    free(filter);
    free(file);
    remove_tree(dir);
}

/* Reals inside an object or array came out with 17 digits, so
 * json.value[/a] = '[0.1]' never matched. */
static void test_nested_reals_shortest(void **state)
{
    char *dir = make_tmpdir(), *file = path_join(dir, "in.jsonl");
    FILE *f = fopen(file, "w");
    struct run r;
    (void)state;
    fputs("{\"a\":[0.1,{\"b\":1.5e300,\"c\":2}]}\n", f);
    fclose(f);
    RUN(&r, "run", "--plugin-path", BUNDLED_DIR, "-s", "jsonl", "--open", file,
        "-f", "json.value[/a/0] = 0.1 and json.value[/a/1/c] = 2", "-F",
        "%json.value[/a]");
    assert_status(&r, 0);
    assert_string_equal(r.out, "[0.1,{\"b\":1.5e+300,\"c\":2}]\n");
    run_free(&r);
    free(file);
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_null),
        cmocka_unit_test(test_resume_mid_batch),
        cmocka_unit_test(test_ts_now_source),
        cmocka_unit_test(test_listen_mutual_unsubscribe),
        cmocka_unit_test(test_json_escapes_terminal_controls),
        cmocka_unit_test(test_output_write_errors),
        cmocka_unit_test(test_closed_stdin),
        cmocka_unit_test(test_stats_write_error),
        cmocka_unit_test(test_config_mistakes),
        cmocka_unit_test(test_metrics_exact),
        cmocka_unit_test(test_caret_and_blank_filter),
        cmocka_unit_test(test_many_fields),
        cmocka_unit_test(test_glob_unclosed_brackets),
        cmocka_unit_test(test_nested_reals_shortest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
