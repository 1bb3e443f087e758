/*
 * tenon run and tenon fields from the command line, with the pipeline
 * test plugins (tests/plugins/ev.c): output, --json, -n, --stats, usage
 * errors with their columns and exit statuses, Ctrl-C.
 */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PP "--plugin-path", TEST_EV_DIR

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_run_format(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "run", PP, "-s", "evsrc:n=4", "-F", "%evt.num:%ev.s:%ev.even");
    assert_status(&r, 0);
    assert_string_equal(r.out, "1:ev-1:<NA>\n2:ev-2:2\n3:ev-3:<NA>\n"
                               "4:ev-4:4\n");
    run_free(&r);
    /* the default format has the built-ins */
    RUN(&r, "run", PP, "--source=evsrc:n=1");
    assert_status(&r, 0);
    assert_contains(r.out, "1 ");
    assert_contains(r.out, " evtest evsrc 46\n");
    run_free(&r);
}

static void test_run_json_and_max(void **state)
{
    struct run r;
    json_t *o;
    (void)state;
    RUN(&r, "run", PP, "-s", "evsrc:n=100", "--json", "-n", "3", "-F",
        "%ev.n %ev.list");
    assert_status(&r, 0);
    assert_int_equal(count_lines(r.out), 3);
    o = parse_json(strrchr(r.out, '{'));
    assert_int_equal(json_integer_value(json_object_get(o, "evt.num")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "ev.n")), 3);
    assert_int_equal(json_array_size(json_object_get(o, "ev.list")), 3);
    json_decref(o);
    run_free(&r);
}

static void test_run_stats(void **state)
{
    struct run r;
    json_t *o, *st, *pl;
    (void)state;
    RUN(&r, "run", PP, "-s", "evsrc:n=50", "-p", "evparse", "--stats", "-F",
        "%ev.n");
    assert_status(&r, 0);
    assert_int_equal(count_lines(r.out), 50);
    assert_contains(r.err, "events read: 50 (async 0), matched: 50, "
                           "dropped: 0, errors: 0");
    assert_contains(r.err, "events/s");
    assert_contains(r.err, "plugin evsrc (source, extract): ");
    assert_contains(r.err, "plugin evparse (parse): 50 calls, 0 errors");
    assert_contains(r.err, "    parsed = 50 (counter)");
    run_free(&r);
    RUN(&r, "run", PP, "-s", "evsrc:n=50", "-p", "evparse", "--stats", "--json",
        "-F", "%ev.n");
    assert_status(&r, 0);
    o = parse_json(r.err);
    st = json_object_get(o, "stats");
    assert_int_equal(json_integer_value(json_object_get(st, "read")), 50);
    pl = json_array_get(json_object_get(st, "plugins"), 1);
    assert_string_equal(json_string_value(json_object_get(pl, "plugin")),
                        "evparse");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_array_get(json_object_get(pl, "metrics"), 0), "value")),
        50);
    json_decref(o);
    run_free(&r);
}

/* Mistakes on the command line are usage errors that say where. */
static void test_run_usage_errors(void **state)
{
    static const struct {
        const char *a, *b, *c, *d;
        const char *msg;
    } bad[] = {
        {"-F", "%nope", NULL, NULL,
         "tenon run: bad format at column 2: unknown field 'nope'"},
        {"-F", "%ev.idx", NULL, NULL, "field 'ev.idx' needs an argument"},
        {"-n", "0", NULL, NULL, "-n '0': expected a number of events"},
        {"-n", "x", NULL, NULL, "-n 'x': expected a number of events"},
        {"--config", "evsrc", NULL, NULL, "expected PLUGIN=JSON"},
        {"-p", "evsrc:nope=1", NULL, NULL, "-p 'evsrc:nope=1'"},
        {"-p", "nosuchplugin", NULL, NULL, "-p 'nosuchplugin'"},
        {"--bogus", NULL, NULL, NULL, "unknown option '--bogus'"},
        {"-F", NULL, NULL, NULL, "-F needs a value"},
    };
    struct run r;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        RUN(&r, "run", PP, "-s", "evsrc:n=3", bad[i].a, bad[i].b, bad[i].c,
            bad[i].d);
        assert_int_equal(r.status, strstr(bad[i].msg, "nosuchplugin") ? 1 : 2);
        assert_contains(r.err, bad[i].msg);
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    RUN(&r, "run", PP, "-F", "%evt.num");
    assert_status(&r, 2);
    assert_contains(r.err, "expected -s SOURCE");
    run_free(&r);
    RUN(&r, "run", PP, "-s", "evparse");
    assert_status(&r, 2);
    assert_contains(r.err, "plugin 'evparse' is not an event source");
    run_free(&r);
    /* the caret points at the column */
    RUN(&r, "run", PP, "-s", "evsrc", "-F", "ab %ev.nope");
    assert_status(&r, 2);
    assert_contains(r.err, "column 5: unknown field 'ev.nope'");
    assert_contains(r.err, "  ab %ev.nope\n      ^\n");
    run_free(&r);
}

/* A source that fails: exit 1 with the source's reason, after the lines
 * before it. */
static void test_run_source_fails(void **state)
{
    struct run r;
    (void)state;
    RUN(&r, "run", PP, "-s", "evsrc:n=10,fail=4,batch=2", "-F", "%ev.n");
    assert_status(&r, 1);
    assert_string_equal(r.out, "1\n2\n");
    assert_contains(r.err, "source 'evsrc' failed: event 4: told to fail");
    run_free(&r);
    RUN(&r, "run", PP, "-s", "evsrc", "--open", "fail");
    assert_status(&r, 1);
    assert_contains(r.err, "failed to open 'fail'");
    run_free(&r);
}

/* SIGINT: a clean stop, the stats, exit 130. */
static void test_run_sigint(void **state)
{
    int out[2], err[2], status;
    char buf[8192];
    size_t n = 0;
    ssize_t k;
    pid_t pid;
    (void)state;
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        dup2(err[1], 2);
        close(out[0]), close(err[0]);
        execl(TENON_CLI, TENON_CLI, "run", PP, "-s", "evsrc:n=4000000000", "-F",
              "%ev.n", "--stats", (char *)NULL);
        _exit(127);
    }
    close(out[1]), close(err[1]);
    usleep(300000);
    kill(pid, SIGINT);
    while (n < sizeof buf - 1 &&
           (k = read(err[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    assert_contains(buf, "events read: ");
    assert_contains(buf, "plugin evsrc (source, extract)");
    close(out[0]), close(err[0]);
}

static void test_fields(void **state)
{
    struct run r;
    json_t *arr;
    int found = 0;
    (void)state;
    RUN(&r, "fields", PP);
    assert_status(&r, 0);
    assert_contains(r.out, "FIELD ");
    assert_contains(r.out, "evt.num                  u64             "
                           "(built-in) The event's number");
    assert_contains(r.out, "ev.idx[INDEX]            u64             evsrc");
    assert_contains(r.out, "ev.key[KEY]              string          evsrc");
    assert_contains(r.out, "ev.list                  list of u64     evsrc");
    assert_contains(r.out, "async.seq                u64             evasync");
    run_free(&r);
    RUN(&r, "fields", PP, "evsrc", "--json");
    assert_status(&r, 0);
    arr = parse_json(r.out);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *f = json_array_get(arr, i);
        assert_string_equal(json_string_value(json_object_get(f, "plugin")),
                            "evsrc");
        if (strcmp(json_string_value(json_object_get(f, "name")), "ev.key"))
            continue;
        found = 1;
        assert_true(json_is_true(
            json_object_get(json_object_get(f, "arg"), "required")));
        assert_true(
            json_is_true(json_object_get(json_object_get(f, "arg"), "key")));
        assert_string_equal(json_string_value(json_object_get(f, "type")),
                            "string");
    }
    assert_true(found);
    json_decref(arr);
    run_free(&r);
    RUN(&r, "fields", PP, "evparse");
    assert_status(&r, 1);
    assert_contains(r.err, "plugin 'evparse' extracts no fields");
    run_free(&r);
    RUN(&r, "fields", PP, "nosuch");
    assert_status(&r, 1);
    run_free(&r);
    RUN(&r, "fields", PP, "a", "b");
    assert_status(&r, 2);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_format),
        cmocka_unit_test(test_run_json_and_max),
        cmocka_unit_test(test_run_stats),
        cmocka_unit_test(test_run_usage_errors),
        cmocka_unit_test(test_run_source_fails),
        cmocka_unit_test(test_run_sigint),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
