/*
 * The event pipeline with real plugins (tests/plugins/ev.c): order and
 * numbering, parse once, only wanted types delivered, extraction of every
 * field type and several fields per call, JSON output, async events from
 * two threads merged without loss, listen routines between open and
 * close, malformed records, failing sources and extractors, stop and max.
 */
#include "testutil.h"

#include <tenon/op.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tenon_t *open_ev(void)
{
    const char *dirs[] = {TEST_EV_DIR};
    return open_dirs(dirs, 1);
}

struct out {
    size_t n;
    char **lines;
    uint64_t last_num;
    int disorder;
    int stop_at;
};

static int collect(void *ud, const struct tenon_event_input *ev,
                   const char *text, size_t len)
{
    struct out *o = ud;
    assert_int_equal(strlen(text), len);
    if (ev->evtnum <= o->last_num)
        o->disorder++;
    o->last_num = ev->evtnum;
    o->lines = realloc(o->lines, (o->n + 1) * sizeof *o->lines);
    o->lines[o->n++] = strdup(text);
    return o->stop_at && (int)o->n == o->stop_at ? 77 : 0;
}

static void out_free(struct out *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->lines[i]);
    free(o->lines);
    memset(o, 0, sizeof *o);
}

struct fixture {
    tenon_t *t;
    tenon_instance_t *src;
    tenon_pipeline_t *p;
    tenon_instance_t *extra[4];
    size_t nextra;
    struct out out;
};

static void setup_pl(struct fixture *f, const char *src_spec)
{
    memset(f, 0, sizeof *f);
    assert_non_null(f->t = open_ev());
    assert_int_equal(tenon_create(f->t, src_spec, NULL, &f->src), 0);
    assert_int_equal(tenon_pipeline_new(f->t, f->src, &f->p), 0);
}

static tenon_instance_t *add(struct fixture *f, const char *spec)
{
    tenon_instance_t *inst;
    assert_int_equal(tenon_create(f->t, spec, NULL, &inst), 0);
    assert_int_equal(tenon_pipeline_add(f->p, inst), 0);
    f->extra[f->nextra++] = inst;
    return inst;
}

static void teardown_pl(struct fixture *f)
{
    tenon_pipeline_free(f->p);
    for (size_t i = 0; i < f->nextra; i++)
        tenon_destroy(f->extra[i]);
    tenon_destroy(f->src);
    tenon_close(f->t);
    out_free(&f->out);
}

static struct tenon_pipeline_stats stats(tenon_pipeline_t *p)
{
    struct tenon_pipeline_stats st = {.struct_size = sizeof st};
    assert_int_equal(tenon_pipeline_stats(p, &st), 0);
    return st;
}

struct metric_find {
    const char *name;
    uint64_t v;
    int found;
};

static int find_metric(void *ud, const tenon_instance_t *inst,
                       const struct tenon_metric *m)
{
    struct metric_find *mf = ud;
    (void)inst;
    if (strcmp(m->name, mf->name) == 0) {
        assert_int_equal(m->value_type, TENON_METRIC_U64);
        mf->v = m->value.u64, mf->found = 1;
    }
    return 0;
}

static uint64_t metric(tenon_instance_t *inst, const char *name)
{
    struct metric_find mf = {name, 0, 0};
    assert_int_equal(tenon_metrics(inst, find_metric, &mf), 0);
    assert_true(mf.found);
    return mf.v;
}

static void run_all(struct fixture *f, const char *format)
{
    assert_int_equal(tenon_pipeline_output(f->p, TENON_OUTPUT_TEXT, format,
                                           NULL, collect, &f->out),
                     0);
    assert_int_equal(tenon_pipeline_open(f->p, NULL), 0);
    assert_int_equal(tenon_pipeline_run(f->p, 0, NULL, NULL), 0);
    tenon_pipeline_close(f->p);
}

/* Every event in order, numbered from 1, its fields extracted. */
static void test_order_and_fields(void **state)
{
    struct fixture f;
    (void)state;
    setup_pl(&f, "evsrc:n=1000,batch=7");
    run_all(&f, "%evt.num|%ev.n|%ev.s|%ev.neg|%ev.odd|%ev.list|%ev.idx[5]|"
                "%ev.key[k1]|%ev.ip|%ev.even|%evt.type|%evt.source|"
                "%evt.plugin|%evt.len|100%%");
    assert_int_equal(f.out.n, 1000);
    assert_int_equal(f.out.disorder, 0);
    assert_string_equal(f.out.lines[0], "1|1|ev-1|-1|true|(1,2,3)|6|k1-1|"
                                        "10.0.0.1|<NA>|322|evtest|evsrc|46|"
                                        "100%");
    assert_string_equal(f.out.lines[4], "5|5|ev-5|-5|true|<NA>|10|k1-5|"
                                        "10.0.0.5|<NA>|322|evtest|evsrc|46|"
                                        "100%");
    assert_string_equal(f.out.lines[299], "300|300|ev-300|-300|false|<NA>|"
                                          "305|k1-300|10.0.1.44|300|322|"
                                          "evtest|evsrc|46|100%");
    struct tenon_pipeline_stats st = stats(f.p);
    assert_int_equal(st.read, 1000);
    assert_int_equal(st.matched, 1000);
    assert_int_equal(st.dropped, 0);
    /* several fields of one event in one call: one extract per event */
    assert_int_equal(metric(f.src, "extract_calls"), 1000);
    teardown_pl(&f);
}

static void test_json_output(void **state)
{
    struct fixture f;
    json_t *o;
    (void)state;
    setup_pl(&f, "evsrc:n=10");
    assert_int_equal(tenon_pipeline_output(f.p, TENON_OUTPUT_JSON,
                                           "%ev.s %ev.list %ev.even %ev.ip",
                                           NULL, collect, &f.out),
                     0);
    assert_int_equal(tenon_pipeline_open(f.p, NULL), 0);
    assert_int_equal(tenon_pipeline_run(f.p, 0, NULL, NULL), 0);
    assert_int_equal(f.out.n, 10);
    o = parse_json(f.out.lines[2]);
    assert_int_equal(json_integer_value(json_object_get(o, "evt.num")), 3);
    assert_true(json_integer_value(json_object_get(o, "evt.time")) >
                1700000000ll * 1000000000ll);
    assert_string_equal(json_string_value(json_object_get(o, "ev.s")), "ev-3");
    assert_int_equal(json_array_size(json_object_get(o, "ev.list")), 3);
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(o, "ev.list"), 2)),
        9);
    assert_true(json_is_null(json_object_get(o, "ev.even")));
    assert_string_equal(json_string_value(json_object_get(o, "ev.ip")),
                        "10.0.0.3");
    json_decref(o);
    teardown_pl(&f);
}

/* Parsers see each event they want once, in order, and no other type. */
static void test_parse_once_and_types(void **state)
{
    struct fixture f;
    tenon_instance_t *p322, *p402;
    (void)state;
    setup_pl(&f, "evsrc:n=500,types=yes");
    p322 = add(&f, "evparse");
    p402 = add(&f, "evparse402");
    run_all(&f, "%evt.num %evt.type %ev.n");
    assert_int_equal(f.out.n, 500);
    /* even events have type 1000: evsrc's extractor wants 322 only */
    assert_string_equal(f.out.lines[1], "2 1000 <NA>");
    assert_string_equal(f.out.lines[2], "3 322 3");
    assert_int_equal(metric(f.src, "wrong_type"), 0);
    assert_int_equal(metric(p322, "parsed"), 250);
    assert_int_equal(metric(p322, "disorder"), 0);
    assert_int_equal(metric(p322, "wrong_type"), 0);
    assert_int_equal(metric(p402, "parsed"), 0);
    teardown_pl(&f);
}

/* 100,000 async events from two threads all arrive, in the stream, each
 * thread's in its order, parsed once, only by those that want them. */
static void test_async_two_threads(void **state)
{
    struct fixture f;
    tenon_instance_t *asy, *p322, *p402;
    uint64_t next_seq[2] = {0, 0};
    size_t nasync = 0, nsrc = 0;
    (void)state;
    setup_pl(&f, "evsrc:n=2000,batch=10");
    asy = add(&f, "evasync:n=50000");
    p322 = add(&f, "evparse");
    p402 = add(&f, "evparse402");
    run_all(&f, "%evt.type %async.thread %async.seq %ev.n %evt.plugin");
    assert_int_equal(f.out.disorder, 0);
    for (size_t i = 0; i < f.out.n; i++) {
        unsigned type;
        char th[32], seq[32], n[32], plugin[32];
        assert_int_equal(sscanf(f.out.lines[i], "%u %31s %31s %31s %31s", &type,
                                th, seq, n, plugin),
                         5);
        if (type == 402) {
            unsigned long t = strtoul(th, NULL, 10);
            assert_true(t < 2);
            assert_int_equal(strtoull(seq, NULL, 10), next_seq[t]);
            next_seq[t]++;
            assert_string_equal(n, "<NA>");
            assert_string_equal(plugin, "evasync");
            nasync++;
        } else {
            assert_int_equal(type, 322);
            assert_string_equal(th, "<NA>");
            assert_string_equal(plugin, "evsrc");
            nsrc++;
        }
    }
    assert_int_equal(nasync, 100000);
    assert_int_equal(nsrc, 2000);
    assert_int_equal(next_seq[0], 50000);
    assert_int_equal(next_seq[1], 50000);
    struct tenon_pipeline_stats st = stats(f.p);
    assert_int_equal(st.read, 102000);
    assert_int_equal(st.async, 100000);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(metric(asy, "refused"), 0);
    assert_int_equal(metric(p322, "parsed"), 102000);
    assert_int_equal(metric(p322, "disorder"), 0);
    assert_int_equal(metric(p402, "parsed"), 100000);
    assert_int_equal(metric(p402, "wrong_type"), 0);
    teardown_pl(&f);
}

/* An async event of a name the plugin did not declare is refused. */
static void test_async_undeclared_name(void **state)
{
    struct fixture f;
    tenon_instance_t *asy;
    (void)state;
    setup_pl(&f, "evsrc:n=10");
    asy = add(&f, "evasync:n=5,badname=yes");
    run_all(&f, "%evt.type");
    assert_int_equal(metric(asy, "refused"), 1);
    struct tenon_pipeline_stats st = stats(f.p);
    assert_int_equal(st.async, 10);
    assert_int_equal(st.dropped, 1);
    teardown_pl(&f);
}

/* A plugin without permission "event" emits nothing: each event is
 * refused, counted, and the refusal logged once. */
static void test_async_without_permission(void **state)
{
    struct fixture f;
    tenon_instance_t *asy;
    (void)state;
    setup_pl(&f, "evsrc:n=10");
    asy = add(&f, "evasyncnp:n=5");
    assert_false(tenon_instance_permitted(asy, "event"));
    run_all(&f, "%evt.type");
    struct tenon_pipeline_stats st = stats(f.p);
    assert_int_equal(st.async, 0);
    assert_int_equal(metric(asy, "refused"), 10);
    assert_int_equal(tenon_instance_denied(asy, "event"), 10);
    teardown_pl(&f);
}

static uint64_t runs_now(tenon_instance_t *l) { return metric(l, "runs"); }

/* Routines run between capture open and close, and not after. */
static void test_listen_routines(void **state)
{
    struct fixture f;
    tenon_instance_t *l;
    uint64_t after;
    (void)state;
    setup_pl(&f, "evsrc:n=100,eagain=2");
    l = add(&f, "evlisten");
    assert_int_equal(runs_now(l), 0);
    assert_int_equal(
        tenon_pipeline_output(f.p, TENON_OUTPUT_TEXT, NULL, NULL, NULL, NULL),
        0);
    assert_int_equal(tenon_pipeline_open(f.p, NULL), 0);
    for (int i = 0; i < 200 && runs_now(l) < 5; i++)
        usleep(10000);
    assert_true(runs_now(l) >= 5);
    assert_int_equal(tenon_pipeline_run(f.p, 0, NULL, NULL), 0);
    tenon_pipeline_close(f.p);
    after = runs_now(l);
    usleep(50000);
    assert_int_equal(runs_now(l), after);
    assert_int_equal(metric(l, "outside"), 0);
    assert_int_equal(metric(l, "three_times"), 3);
    teardown_pl(&f);
}

/* A malformed record is dropped and counted; the rest goes on. */
static void test_malformed_record(void **state)
{
    struct fixture f;
    (void)state;
    setup_pl(&f, "evsrc:n=20,bad=7");
    run_all(&f, "%ev.n");
    assert_int_equal(f.out.n, 19);
    assert_string_equal(f.out.lines[6], "8");
    struct tenon_pipeline_stats st = stats(f.p);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.read, 19);
    teardown_pl(&f);
}

static void test_source_fails(void **state)
{
    struct fixture f;
    (void)state;
    setup_pl(&f, "evsrc:n=50,fail=30,batch=10");
    assert_int_equal(tenon_pipeline_output(f.p, TENON_OUTPUT_TEXT, "%ev.n",
                                           NULL, collect, &f.out),
                     0);
    assert_int_equal(tenon_pipeline_open(f.p, NULL), 0);
    assert_int_equal(tenon_pipeline_run(f.p, 0, NULL, NULL), TENON_EIO);
    assert_contains(tenon_last_error(), "source 'evsrc' failed");
    assert_contains(tenon_last_error(), "event 30: told to fail");
    assert_int_equal(f.out.n, 20);
    tenon_pipeline_close(f.p);
    /* a source that cannot open says so with its parameters */
    assert_int_equal(tenon_pipeline_open(f.p, "fail"), TENON_EINVAL);
    assert_contains(tenon_last_error(), "source 'evsrc' failed to open 'fail'");
    teardown_pl(&f);
}

/* A failing extraction makes its field missing and is counted. */
static void test_extract_fails(void **state)
{
    struct fixture f;
    (void)state;
    setup_pl(&f, "evsrc:n=5");
    run_all(&f, "%ev.fail");
    assert_int_equal(f.out.n, 5);
    assert_string_equal(f.out.lines[1], "2");
    assert_string_equal(f.out.lines[2], "<NA>");
    struct tenon_pipeline_stats st = stats(f.p);
    assert_int_equal(st.errors, 1);
    teardown_pl(&f);
}

/* Output and field errors name what is wrong, with the column. */
static void test_format_errors(void **state)
{
    static const struct {
        const char *format;
        size_t column;
        const char *msg;
    } bad[] = {
        {"%nope.x", 2, "unknown field 'nope.x'"},
        {"a %ev.idx b", 4, "field 'ev.idx' needs an argument"},
        {"%ev.idx[x]", 2, "takes an index (a decimal number)"},
        {"%ev.n[3]", 2, "field 'ev.n' takes no argument"},
        {"x % y", 3, "expected a field name after '%'"},
        {"%", 1, "expected a field name after '%'"},
        {"%ev.key[abc", 8, "unclosed '['"},
        {"%evt.num[1]", 2, "takes no argument"},
        {"a %ev.key[bad]", 4,
         "field 'ev.key[bad]': 'bad' is not a key; expected any other word"},
    };
    struct fixture f;
    (void)state;
    setup_pl(&f, "evsrc:n=5");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t col = 0;
        assert_int_equal(tenon_pipeline_output(f.p, TENON_OUTPUT_TEXT,
                                               bad[i].format, &col, collect,
                                               &f.out),
                         TENON_EINVAL);
        assert_contains(tenon_last_error(), bad[i].msg);
        assert_int_equal(col, bad[i].column);
    }
    teardown_pl(&f);
}

/* Two plugins extracting one name: an error naming both, on use only. */
static void test_ambiguous_field(void **state)
{
    struct fixture f;
    size_t col;
    (void)state;
    setup_pl(&f, "evsrc:n=5");
    add(&f, "evdup");
    assert_int_equal(tenon_pipeline_output(f.p, TENON_OUTPUT_TEXT, "%ev.s",
                                           NULL, collect, &f.out),
                     0);
    assert_int_equal(tenon_pipeline_output(f.p, TENON_OUTPUT_TEXT,
                                           "%ev.s %ev.n", &col, collect,
                                           &f.out),
                     TENON_EINVAL);
    assert_contains(tenon_last_error(), "field 'ev.n' is ambiguous: plugins "
                                        "'evsrc' and 'evdup' both extract it");
    assert_int_equal(col, 8);
    teardown_pl(&f);
}

/* A plugin with no event capability is refused; so is a non-source. */
static void test_refused_members(void **state)
{
    tenon_t *t = open_ev();
    tenon_instance_t *par, *src;
    tenon_pipeline_t *p;
    (void)state;
    assert_int_equal(tenon_create(t, "evparse", NULL, &par), 0);
    assert_int_equal(tenon_pipeline_new(t, par, &p), TENON_EINVAL);
    assert_contains(tenon_last_error(), "plugin 'evparse' is not an event "
                                        "source");
    assert_int_equal(tenon_create(t, "evsrc", NULL, &src), 0);
    assert_int_equal(tenon_pipeline_new(t, src, &p), 0);
    tenon_destroy(src); /* the pipeline holds its own reference */
    assert_int_equal(tenon_pipeline_add(p, par), 0);
    tenon_destroy(par);
    assert_int_equal(tenon_pipeline_open(p, NULL), 0);
    assert_int_equal(tenon_pipeline_run(p, 0, NULL, NULL), 0);
    tenon_pipeline_free(p);
    tenon_close(t);
}

static int tick_stop(void *ud, tenon_pipeline_t *p)
{
    int *ticks = ud;
    const char *text = NULL;
    double fr = tenon_pipeline_progress(p, &text);
    assert_true(fr >= 0 && fr <= 1);
    assert_non_null(text);
    return ++*ticks == 2 ? 55 : 0;
}

static void *stopper(void *arg)
{
    usleep(100000);
    tenon_pipeline_stop(arg);
    return NULL;
}

/* -n, a stopping output, a tick function and tenon_pipeline_stop(). */
static void test_stop_and_max(void **state)
{
    struct fixture f;
    pthread_t th;
    int ticks = 0;
    (void)state;
    setup_pl(&f, "evsrc:n=100000000,batch=64");
    f.out.stop_at = 10;
    assert_int_equal(tenon_pipeline_output(f.p, TENON_OUTPUT_TEXT, "%ev.n",
                                           NULL, collect, &f.out),
                     0);
    assert_int_equal(tenon_pipeline_open(f.p, NULL), 0);
    assert_int_equal(tenon_pipeline_run(f.p, 0, NULL, NULL), 77);
    assert_int_equal(f.out.n, 10);
    f.out.stop_at = 0;
    assert_int_equal(tenon_pipeline_run(f.p, 1000, NULL, NULL), 0);
    assert_int_equal(stats(f.p).read, 1000);
    assert_int_equal(tenon_pipeline_run(f.p, 0, tick_stop, &ticks), 55);
    assert_int_equal(ticks, 2);
    pthread_create(&th, NULL, stopper, f.p);
    assert_int_equal(tenon_pipeline_run(f.p, 0, NULL, NULL), TENON_EAGAIN);
    pthread_join(th, NULL);
    assert_int_equal(stats(f.p).read, f.out.n);
    teardown_pl(&f);
}

/* The fields of one plugin along a chain of 'and's come in one call; an
 * 'or' does not pull its other side in; the answers stay right. */
static void test_filter_batches_fields(void **state)
{
    struct fixture f;
    (void)state;
    setup_pl(&f, "evsrc:n=100");
    assert_int_equal(
        tenon_pipeline_filter(
            f.p, "ev.n > 10 and ev.neg < -20 and ev.odd = true", NULL),
        0);
    run_all(&f, "%ev.n");
    assert_int_equal(f.out.n, 40); /* odd n from 21 to 99 */
    assert_string_equal(f.out.lines[0], "21");
    /* one extract per event for the filter; the format's ev.n was
     * extracted with it */
    assert_int_equal(metric(f.src, "extract_calls"), 100);
    teardown_pl(&f);

    setup_pl(&f, "evsrc:n=100");
    assert_int_equal(
        tenon_pipeline_filter(f.p, "ev.n < 10 or ev.neg < -95", NULL), 0);
    run_all(&f, "%ev.n");
    assert_int_equal(f.out.n, 9 + 5); /* 1..9 and 96..100 */
    /* ev.n for every event, ev.neg for the 91 where the first fails, and
     * ev.n again for the output of the 5 that matched by ev.neg: the call
     * for ev.neg ended the life of the ev.n it had given before */
    assert_int_equal(metric(f.src, "extract_calls"), 100 + 91 + 5);
    teardown_pl(&f);
}

/* Per-plugin stats and timing. */
static void test_plugin_stats(void **state)
{
    struct fixture f;
    struct tenon_pipeline_plugin_stats ps = {.struct_size = sizeof ps};
    (void)state;
    setup_pl(&f, "evsrc:n=300,batch=100");
    add(&f, "evparse");
    tenon_pipeline_timing(f.p, 1);
    run_all(&f, "%ev.n");
    assert_int_equal(tenon_pipeline_plugin_count(f.p), 2);
    assert_int_equal(tenon_pipeline_plugin_stats(f.p, 0, &ps), 0);
    assert_ptr_equal(ps.inst, f.src);
    assert_int_equal(ps.caps, TENON_CAP_SOURCE | TENON_CAP_EXTRACT);
    assert_int_equal(ps.calls, 4 + 300); /* 3 batches and the end; 300 */
    assert_true(ps.time_ns > 0);
    assert_int_equal(tenon_pipeline_plugin_stats(f.p, 1, &ps), 0);
    assert_int_equal(ps.caps, TENON_CAP_PARSE);
    assert_int_equal(ps.calls, 300);
    assert_int_equal(tenon_pipeline_plugin_stats(f.p, 2, &ps), TENON_ERANGE);
    teardown_pl(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_fields),
        cmocka_unit_test(test_json_output),
        cmocka_unit_test(test_parse_once_and_types),
        cmocka_unit_test(test_async_two_threads),
        cmocka_unit_test(test_async_undeclared_name),
        cmocka_unit_test(test_async_without_permission),
        cmocka_unit_test(test_listen_routines),
        cmocka_unit_test(test_malformed_record),
        cmocka_unit_test(test_source_fails),
        cmocka_unit_test(test_extract_fails),
        cmocka_unit_test(test_format_errors),
        cmocka_unit_test(test_ambiguous_field),
        cmocka_unit_test(test_refused_members),
        cmocka_unit_test(test_stop_and_max),
        cmocka_unit_test(test_plugin_stats),
        cmocka_unit_test(test_filter_batches_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
