/*
 * The example event plugins and host of docs/events.md do what the page
 * says: counter (examples/evsource.c) called directly through its
 * tenon.source/1, digits (examples/evextract.c) through its
 * tenon.extract/1 on records built here, and the host evhost
 * (examples/evhost.c) run as a program, its output checked against what
 * this file computes from the numbers themselves.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EXAMPLES_DIR
#error "build with -DEXAMPLES_DIR=\"build/examples\""
#endif
#ifndef EVHOST
#error "build with -DEVHOST=\"build/examples/evhost\""
#endif
#ifndef OPHOST
#error "build with -DOPHOST=\"build/examples/ophost\""
#endif

static tenon_t *open_examples(void)
{
    const char *dirs[] = {EXAMPLES_DIR};
    return open_scanned(dirs, 1);
}

/* ---- counter, called directly ------------------------------------------- */

/* Read a whole capture of `spec` opened with `params`; every value goes into
 * got[] (up to max), and the count is returned. Checks each record's layout
 * on the way. */
static uint64_t read_counter(tenon_t *t, const char *spec, const char *params,
                             uint64_t *got, uint64_t max)
{
    tenon_instance_t *inst;
    void *obj;
    const struct tenon_source_v1 *src;
    struct tenon_capture *cap;
    uint64_t count = 0;
    int rc;

    assert_int_equal(tenon_create(t, spec, NULL, &inst), 0);
    src = tenon_get_interface(inst, TENON_SOURCE_ID, &obj);
    assert_non_null(src);
    assert_string_equal(src->event_source(obj), "counter");
    assert_int_equal(src->open(obj, params, &cap), 0);
    for (;;) {
        const struct tenon_event *const *evts;
        uint32_t n;
        rc = src->next_batch(obj, cap, &n, &evts);
        if (rc == TENON_EEOF)
            break;
        assert_int_equal(rc, 0);
        for (uint32_t i = 0; i < n; i++) {
            struct tenon_bytes pl = {0, NULL}, id = {0, NULL};
            uint32_t plugin_id;
            assert_int_equal(evts[i]->type, TENON_EVENT_PLUGIN);
            assert_int_equal(evts[i]->len, tenon_event_plugin_size(8));
            assert_int_equal(tenon_event_param(evts[i], evts[i]->len, 0, &id),
                             0);
            assert_int_equal(id.len, 4);
            memcpy(&plugin_id, id.ptr, 4);
            assert_int_equal(plugin_id, 0);
            assert_int_equal(tenon_event_payload(evts[i], &pl), 0);
            assert_int_equal(pl.len, 8);
            if (count < max)
                memcpy(&got[count], pl.ptr, 8);
            count++;
        }
        const char *text = NULL;
        double f = src->progress(obj, cap, &text);
        assert_true(f >= 0.0 && f <= 1.0);
        assert_non_null(text);
    }
    src->close(obj, cap);
    tenon_destroy(inst);
    return count;
}

static void counter_counts(void **state)
{
    (void)state;
    tenon_t *t = open_examples();
    uint64_t got[200];

    /* More than one batch, starting where the open string says. */
    assert_int_equal(read_counter(t, "counter:n=150", "1000", got, 200), 150);
    for (uint64_t i = 0; i < 150; i++)
        assert_int_equal(got[i], 1000 + i);
    assert_int_equal(read_counter(t, "counter", "", got, 200), 10);
    assert_int_equal(got[9], 9);
    assert_int_equal(read_counter(t, "counter:n=0", "", got, 200), 0);
    tenon_close(t);
}

static void counter_refuses_bad_open(void **state)
{
    (void)state;
    tenon_t *t = open_examples();
    tenon_instance_t *inst;
    void *obj;
    struct tenon_capture *cap = NULL;
    static const char *const bad[] = {"x", "-1", "12a", " 1",
                                      "18446744073709551615"};

    assert_int_equal(tenon_create(t, "counter:n=5", NULL, &inst), 0);
    const struct tenon_source_v1 *src =
        tenon_get_interface(inst, TENON_SOURCE_ID, &obj);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(src->open(obj, bad[i], &cap), TENON_EINVAL);
        assert_contains(tenon_instance_error(inst),
                        "expected the first number");
    }
    tenon_destroy(inst);
    /* The declared range is enforced before the plugin runs. */
    assert_int_equal(tenon_create(t, "counter:n=-1", NULL, &inst),
                     TENON_ERANGE);
    assert_contains(tenon_last_error(), "argument 'n'");
    tenon_close(t);
}

/* ---- digits, on records built here -------------------------------------- */

struct req {
    const char *name;
    uint64_t index; /* for counter.digit */
};

/* Extract the fields of `reqs` from a plugin event with payload `payload`
 * (of `size` bytes) in one call. */
static void extract(tenon_instance_t *inst, const void *payload, uint32_t size,
                    const struct req *reqs, uint32_t n,
                    struct tenon_extract_field *out)
{
    void *obj;
    const struct tenon_extract_v1 *x =
        tenon_get_interface(inst, TENON_EXTRACT_ID, &obj);
    unsigned char buf[128];
    uint32_t nf;
    const struct tenon_field *f;

    assert_non_null(x);
    f = x->fields(obj, &nf);
    assert_true(size <= sizeof buf - tenon_event_plugin_size(0));
    tenon_event_plugin_write(buf, 1, 0, payload, size);
    struct tenon_event_input in = {(const struct tenon_event *)buf, 1,
                                   "counter"};
    memset(out, 0, n * sizeof *out);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = 0;
        while (id < nf && strcmp(f[id].name, reqs[i].name) != 0)
            id++;
        assert_true(id < nf);
        out[i].field_id = id;
        out[i].field = f[id].name;
        out[i].ftype = f[id].type;
        out[i].flist = (f[id].flags & TENON_FIELD_LIST) != 0;
        if (f[id].flags & TENON_FIELD_ARG_INDEX) {
            out[i].arg_present = true;
            out[i].arg_index = reqs[i].index;
        }
    }
    assert_int_equal(x->extract(obj, &in, n, out), 0);
}

static void digits_fields(void **state)
{
    (void)state;
    tenon_t *t = open_examples();
    tenon_instance_t *inst;
    struct tenon_extract_field out[7];
    static const struct req reqs[] = {
        {"counter.value", 0}, {"counter.parity", 0}, {"counter.digits", 0},
        {"counter.digit", 0}, {"counter.digit", 3},  {"counter.digit", 4},
        {"counter.value", 0}};
    uint64_t v = 4093;

    assert_int_equal(tenon_create(t, "digits", NULL, &inst), 0);
    extract(inst, &v, 8, reqs, 7, out);
    /* Every field keeps its own values within one call. */
    assert_int_equal(out[0].res_len, 1);
    assert_int_equal(out[0].res.u64[0], 4093);
    assert_int_equal(out[1].res_len, 1);
    assert_string_equal(out[1].res.str[0], "odd");
    assert_int_equal(out[2].res_len, 4);
    assert_int_equal(out[2].res.u64[0], 4);
    assert_int_equal(out[2].res.u64[1], 0);
    assert_int_equal(out[2].res.u64[2], 9);
    assert_int_equal(out[2].res.u64[3], 3);
    assert_int_equal(out[3].res_len, 1);
    assert_int_equal(out[3].res.u64[0], 3);
    assert_int_equal(out[4].res_len, 1);
    assert_int_equal(out[4].res.u64[0], 4);
    assert_int_equal(out[5].res_len, 0); /* 4093 has no digit 4 */
    assert_int_equal(out[6].res.u64[0], 4093);

    v = UINT64_MAX; /* 20 digits, the most there can be */
    extract(inst, &v, 8, reqs + 1, 2, out);
    assert_string_equal(out[0].res.str[0], "odd");
    assert_int_equal(out[1].res_len, 20);
    assert_int_equal(out[1].res.u64[0], 1);
    assert_int_equal(out[1].res.u64[19], 5);

    /* A payload that is not one u64 has no fields. */
    extract(inst, "abc", 3, reqs, 3, out);
    for (int i = 0; i < 3; i++)
        assert_int_equal(out[i].res_len, 0);
    tenon_destroy(inst);
    tenon_close(t);
}

/* ---- evhost, the program ------------------------------------------------
 */

static int exec_evhost(void *arg)
{
    char *const *argv = arg;
    execv(EVHOST, argv);
    return 127;
}

static void evhost(struct run *r, const char *filter, const char *format)
{
    char *argv[] = {EVHOST,         "--plugin-path", EXAMPLES_DIR,
                    (char *)filter, (char *)format,  NULL};
    assert_int_equal(run_child(r, 60000, exec_evhost, argv), 0);
}

/* The lines evhost prints with the format "%counter.value" for the numbers
 * 0..29 that keep(v) accepts, then its summary. */
static char *expected(int (*keep)(uint64_t))
{
    char *buf = malloc(4096);
    size_t len = 0;
    int matched = 0;
    assert_non_null(buf);
    for (uint64_t v = 0; v < 30; v++)
        if (keep(v)) {
            len += (size_t)snprintf(buf + len, 4096 - len, "%llu\n",
                                    (unsigned long long)v);
            matched++;
        }
    snprintf(buf + len, 4096 - len, "read 30, matched %d\n", matched);
    return buf;
}

static int odd_ending_1_or_3(uint64_t v)
{
    return v % 2 == 1 && (v % 10 == 1 || v % 10 == 3);
}
static int two_digits(uint64_t v) { return v >= 10; }
static int not_two_digits(uint64_t v) { return v < 10; }
static int every(uint64_t v) { return (void)v, 1; }

static void evhost_filters(void **state)
{
    (void)state;
    static const struct {
        const char *filter;
        int (*keep)(uint64_t);
    } cases[] = {
        {"counter.parity = odd and counter.digit[0] in (1, 3)",
         odd_ending_1_or_3},
        {"", every},
        /* Numbers below 10 have no digit 1: the field is missing there. */
        {"counter.digit[1] exists", two_digits},
        {"counter.digit[1] >= 0", two_digits},
        {"not counter.digit[1] exists", not_two_digits},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct run r;
        char *want = expected(cases[i].keep);
        evhost(&r, cases[i].filter, "%counter.value");
        assert_status(&r, 0);
        assert_nstr(r.out, want);
        free(want);
        run_free(&r);
    }
}

static void evhost_default_format(void **state)
{
    (void)state;
    struct run r;
    evhost(&r, "counter.value = 27", NULL);
    assert_status(&r, 0);
    /* evt.num counts from 1, so 27 is the 28th event. */
    assert_contains(r.out, "28 27 odd ");
    assert_contains(r.out, "read 30, matched 1\n");
    run_free(&r);
}

static void evhost_bad_filter(void **state)
{
    (void)state;
    struct run r;
    evhost(&r, "counter.value >", "%counter.value");
    assert_status(&r, 1);
    assert_contains(r.err, "evhost: filter, column ");
    run_free(&r);
    evhost(&r, "counter.nosuch = 1", "%counter.value");
    assert_status(&r, 1);
    assert_contains(r.err, "counter.nosuch");
    run_free(&r);
    evhost(&r, "", "%counter.digit");
    assert_status(&r, 1);
    assert_contains(r.err, "evhost: format, column ");
    run_free(&r);
}

/* ---- ophost and shout (docs/ops.md) ------------------------------------- */

static void ophost_shout(void **state)
{
    struct run r;
    (void)state;
    /* no plugin: the host's own rendering, and no refusal */
    char *plain[] = {OPHOST, NULL};
    run_input(&r, "hello - world\n", EXAMPLES_DIR, plain);
    assert_status(&r, 0);
    assert_string_equal(r.out, "hello\n\nworld\n");
    run_free(&r);
    /* shout enabled at once: capitals; the empty text refused */
    char *now[] = {OPHOST, "shout", NULL};
    run_input(&r, "hello - world\n", EXAMPLES_DIR, now);
    assert_status(&r, 0);
    assert_string_equal(r.out, "HELLO\nrefused: invalid argument\nWORLD\n");
    run_free(&r);
    /* shout not enabled yet: only its always-on before runs */
    char *later[] = {OPHOST, "shout:delay_ms=600000", NULL};
    run_input(&r, "hello - world\n", EXAMPLES_DIR, later);
    assert_status(&r, 0);
    assert_string_equal(r.out, "hello\nrefused: invalid argument\nworld\n");
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_counts),
        cmocka_unit_test(counter_refuses_bad_open),
        cmocka_unit_test(digits_fields),
        cmocka_unit_test(evhost_filters),
        cmocka_unit_test(evhost_default_format),
        cmocka_unit_test(evhost_bad_filter),
        cmocka_unit_test(ophost_shout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
