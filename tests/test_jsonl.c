/*
 * The jsonl plugin driven by hand through its interfaces (source, extract,
 * metrics): events and payloads of real files and of standard input,
 * fields at RFC 6901 pointers, and every kind of line that is no event
 * (not JSON, cut short, longer than maxline, endless), counted and logged
 * once.
 */
#include "testutil.h"

#include <tenon/event.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a context whose log lines the test reads ---------------------------- */

static char logbuf[8192];
static size_t loglen;
static int warnings;

static void log_fn(void *ud, int level, const char *origin, const char *msg)
{
    (void)ud;
    if (level == TENON_LOG_WARN)
        warnings++;
    loglen += (size_t)snprintf(logbuf + loglen, sizeof logbuf - loglen,
                               "%s: %s\n", origin, msg);
    if (loglen >= sizeof logbuf)
        loglen = sizeof logbuf - 1;
}

struct jl {
    tenon_t *t;
    tenon_instance_t *inst;
    const struct tenon_source_v1 *src;
    const struct tenon_extract_v1 *ex;
    const struct tenon_metrics_v1 *met;
    void *obj;
    struct tenon_capture *cap;
    uint64_t evtnum;
};

static void jl_new(struct jl *j, const char *spec)
{
    static const char *const dirs[] = {TEST_EXAMPLE_DIR};
    struct tenon_options o;
    void *obj2;
    memset(j, 0, sizeof *j);
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.plugin_paths = dirs;
    o.plugin_path_count = 1;
    o.no_cache = 1;
    o.log_fn = log_fn;
    loglen = 0;
    logbuf[0] = 0;
    warnings = 0;
    assert_int_equal(tenon_open(&j->t, &o), 0);
    assert_int_equal(tenon_create(j->t, spec, NULL, &j->inst), 0);
    j->src = tenon_get_interface(j->inst, TENON_SOURCE_ID, &j->obj);
    j->ex = tenon_get_interface(j->inst, TENON_EXTRACT_ID, &obj2);
    assert_non_null(j->src);
    assert_non_null(j->ex);
    assert_ptr_equal(obj2, j->obj);
    j->met = tenon_get_interface(j->inst, TENON_METRICS_ID, &obj2);
    assert_non_null(j->met);
    assert_string_equal(j->src->event_source(j->obj), "jsonl");
}

static void jl_free(struct jl *j)
{
    if (j->cap)
        j->src->close(j->obj, j->cap);
    tenon_destroy(j->inst);
    tenon_close(j->t);
}

static uint64_t metric(struct jl *j, const char *name)
{
    uint32_t n = 0;
    const struct tenon_metric *m = j->met->metrics(j->obj, &n);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0) {
            assert_int_equal(m[i].type, TENON_METRIC_COUNTER);
            assert_int_equal(m[i].value_type, TENON_METRIC_U64);
            return m[i].value.u64;
        }
    fail_msg("no metric %s", name);
    return 0;
}

/* The field `name` ("json.value") with argument `arg` (may be NULL). */
static struct tenon_extract_field field(struct jl *j, const char *name,
                                        const char *arg)
{
    struct tenon_extract_field f;
    uint32_t n;
    const struct tenon_field *fs = j->ex->fields(j->obj, &n);
    memset(&f, 0, sizeof f);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(fs[i].name, name) == 0) {
            f.field_id = i;
            f.field = fs[i].name;
            f.ftype = fs[i].type;
            f.arg_key = arg;
            f.arg_present = arg != NULL;
            return f;
        }
    fail_msg("no field %s", name);
    return f;
}

/* The text of json.value[ptr] of `ev`; NULL when absent. */
static const char *value(struct jl *j, const struct tenon_event_input *ev,
                         const char *name, const char *ptr)
{
    struct tenon_extract_field f = field(j, name, ptr);
    assert_int_equal(j->ex->extract(j->obj, ev, 1, &f), 0);
    assert_true(f.res_len <= 1);
    return f.res_len ? f.res.str[0] : NULL;
}

/* json.number[ptr]: 1 and *v when present. */
static int number(struct jl *j, const struct tenon_event_input *ev,
                  const char *ptr, int64_t *v)
{
    struct tenon_extract_field f = field(j, "json.number", ptr);
    assert_int_equal(j->ex->extract(j->obj, ev, 1, &f), 0);
    if (!f.res_len)
        return 0;
    *v = f.res.i64[0];
    return 1;
}

static int jl_open(struct jl *j, const char *params)
{
    j->evtnum = 0;
    return j->src->open(j->obj, params, &j->cap);
}

/* Every event of the capture, each handed to `fn`; returns how many. */
static size_t jl_each(struct jl *j,
                      void (*fn)(struct jl *, const struct tenon_event_input *,
                                 struct tenon_bytes *, void *),
                      void *ud)
{
    size_t total = 0;
    for (;;) {
        uint32_t n = 0;
        const struct tenon_event *const *evts = NULL;
        int rc = j->src->next_batch(j->obj, j->cap, &n, &evts);
        if (rc == TENON_EEOF)
            break;
        assert_int_equal(rc, 0);
        assert_true(n <= 4096);
        for (uint32_t i = 0; i < n; i++) {
            struct tenon_event_input ev = {evts[i], ++j->evtnum, "jsonl"};
            struct tenon_bytes b;
            assert_int_equal(evts[i]->type, TENON_EVENT_PLUGIN);
            assert_int_equal(tenon_event_payload(evts[i], &b), 0);
            if (fn)
                fn(j, &ev, &b, ud);
            total++;
        }
    }
    j->src->close(j->obj, j->cap);
    j->cap = NULL;
    return total;
}

static char *write_file(const char *dir, const char *name, const void *data,
                        size_t len)
{
    char *path = path_join(dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* ---- events and payloads ------------------------------------------------- */

static const char *const basic_lines[] = {
    "{\"user\":\"ann\",\"size\":12}",          "[1,2,3]", "\"just a string\"",
    "  {\"nested\": {\"a\": [true, null]}}  ", "42",
};

struct collect {
    char *payloads[16];
    size_t n;
};

static void collect_fn(struct jl *j, const struct tenon_event_input *ev,
                       struct tenon_bytes *b, void *ud)
{
    struct collect *c = ud;
    (void)j;
    assert_true(c->n < 16);
    assert_true(ev->evt->ts > 1500000000ull * 1000000000ull);
    c->payloads[c->n++] = strndup(b->ptr, b->len);
}

static void test_events(void **state)
{
    const char *dir = *state;
    struct jl j;
    struct collect c = {{0}, 0};
    char text[512] = "";
    char *path;

    /* Empty and blank lines between them, one CRLF ending. */
    for (size_t i = 0; i < 5; i++) {
        strcat(text, basic_lines[i]);
        strcat(text, i == 2 ? "\r\n\n   \n" : "\n");
    }
    path = write_file(dir, "basic.jsonl", text, strlen(text));
    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, path), 0);
    assert_int_equal(jl_each(&j, collect_fn, &c), 5);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(c.payloads[i], basic_lines[i]);
        free(c.payloads[i]);
    }
    assert_int_equal(metric(&j, "jsonl.lines"), 7);
    assert_int_equal(metric(&j, "jsonl.bytes"), strlen(text));
    assert_int_equal(metric(&j, "jsonl.malformed"), 0);
    assert_int_equal(warnings, 0);
    jl_free(&j);
    free(path);
}

/* ---- fields -------------------------------------------------------------- */

static const char doc[] =
    "{\"user\":{\"name\":\"ann\",\"id\":7},\"a/b\":1,\"m~n\":2,\"~1\":3,"
    "\"\":\"empty key\",\"list\":[10,\"x\",{\"k\":[1.5]}],\"size\":5000,"
    "\"neg\":-9223372036854775808,\"f\":2.0,\"g\":0.1,\"big\":1e300,"
    "\"s\":\"12\",\"t\":true,\"n\":null,\"u\":\"caf\\u00e9 \\\"q\\\"\"}\n";

static void fields_fn(struct jl *j, const struct tenon_event_input *ev,
                      struct tenon_bytes *b, void *ud)
{
    int64_t v;
    (void)b;
    (void)ud;
    assert_nstr(value(j, ev, "json.value", "/user/name"), "ann");
    assert_nstr(value(j, ev, "json.value", "/user"),
                "{\"name\":\"ann\",\"id\":7}");
    assert_nstr(value(j, ev, "json.value", "/a~1b"), "1");
    assert_nstr(value(j, ev, "json.value", "/m~0n"), "2");
    /* ~01 is "~1", not "/": ~1 is undone before ~0. */
    assert_nstr(value(j, ev, "json.value", "/~01"), "3");
    assert_nstr(value(j, ev, "json.value", "/"), "empty key");
    assert_nstr(value(j, ev, "json.value", "/list/0"), "10");
    assert_nstr(value(j, ev, "json.value", "/list/1"), "x");
    assert_nstr(value(j, ev, "json.value", "/list/2/k/0"), "1.5");
    assert_nstr(value(j, ev, "json.value", "/list/2"), "{\"k\":[1.5]}");
    assert_nstr(value(j, ev, "json.value", "/f"), "2.0");
    assert_nstr(value(j, ev, "json.value", "/g"), "0.1");
    assert_nstr(value(j, ev, "json.value", "/t"), "true");
    assert_nstr(value(j, ev, "json.value", "/n"), "null");
    assert_nstr(value(j, ev, "json.value", "/u"), "caf\xc3\xa9 \"q\"");
    /* Nothing there: past the end, "-", leading zeros, a key of a
     * string, a key that is not there. */
    assert_null(value(j, ev, "json.value", "/list/3"));
    assert_null(value(j, ev, "json.value", "/list/-"));
    assert_null(value(j, ev, "json.value", "/list/01"));
    assert_null(value(j, ev, "json.value", "/list/+1"));
    assert_null(value(j, ev, "json.value", "/list/99999999999999999999"));
    assert_null(value(j, ev, "json.value", "/s/0"));
    assert_null(value(j, ev, "json.value", "/nope"));
    assert_null(value(j, ev, "json.value", "/user/name/x"));

    assert_true(number(j, ev, "/size", &v));
    assert_int_equal(v, 5000);
    assert_true(number(j, ev, "/neg", &v));
    assert_true(v == INT64_MIN);
    assert_true(number(j, ev, "/list/0", &v));
    assert_int_equal(v, 10);
    v = 77;
    assert_false(number(j, ev, "/f", &v));   /* a real, even 2.0 */
    assert_false(number(j, ev, "/big", &v)); /* a huge real */
    assert_false(number(j, ev, "/s", &v));   /* a string of digits */
    assert_false(number(j, ev, "/t", &v));
    assert_false(number(j, ev, "/nope", &v));
    assert_int_equal(v, 77);

    assert_nstr(value(j, ev, "json.type", NULL), "object");
    assert_nstr(value(j, ev, "json.type", "/list"), "array");
    assert_nstr(value(j, ev, "json.type", "/size"), "integer");
    assert_nstr(value(j, ev, "json.type", "/g"), "number");
    assert_nstr(value(j, ev, "json.type", "/t"), "boolean");
    assert_nstr(value(j, ev, "json.type", "/n"), "null");
    assert_nstr(value(j, ev, "json.type", "/s"), "string");
    assert_null(value(j, ev, "json.type", "/zzz"));
    {
        char raw[sizeof doc];
        memcpy(raw, doc, sizeof doc - 2);
        raw[sizeof doc - 2] = 0;
        assert_nstr(value(j, ev, "json.rawtext", NULL), raw);
    }
}

static void test_fields(void **state)
{
    const char *dir = *state;
    struct jl j;
    char *path = write_file(dir, "fields.jsonl", doc, strlen(doc));
    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, path), 0);
    assert_int_equal(jl_each(&j, fields_fn, NULL), 1);
    jl_free(&j);
    free(path);
}

/* Several fields in one call, all from one parse of the line; values stay
 * put until the next call. */
static void many_fn(struct jl *j, const struct tenon_event_input *ev,
                    struct tenon_bytes *b, void *ud)
{
    struct tenon_extract_field f[5];
    (void)b;
    (void)ud;
    f[0] = field(j, "json.value", "/user/name");
    f[1] = field(j, "json.number", "/size");
    f[2] = field(j, "json.value", "/list");
    f[3] = field(j, "json.value", "/missing");
    f[4] = field(j, "json.rawtext", NULL);
    assert_int_equal(j->ex->extract(j->obj, ev, 5, f), 0);
    assert_int_equal(f[0].res_len, 1);
    assert_string_equal(f[0].res.str[0], "ann");
    assert_int_equal(f[1].res_len, 1);
    assert_int_equal(f[1].res.i64[0], 5000);
    assert_int_equal(f[2].res_len, 1);
    assert_string_equal(f[2].res.str[0], "[10,\"x\",{\"k\":[1.5]}]");
    assert_int_equal(f[3].res_len, 0);
    assert_int_equal(f[4].res_len, 1);
    assert_int_equal(strlen(f[4].res.str[0]), strlen(doc) - 1);

    /* A pointer that is no pointer: refused by check_arg() when a filter
     * compiles; met anyway, that field alone is missing, said once, and
     * the others in the call are still extracted. */
    char why[256];
    assert_int_equal(
        j->ex->check_arg(j->obj, f[0].field_id, "user", why, sizeof why),
        TENON_EINVAL);
    assert_contains(why, "'user' is not a JSON pointer");
    assert_int_equal(
        j->ex->check_arg(j->obj, f[0].field_id, "/a~2", why, sizeof why),
        TENON_EINVAL);
    assert_int_equal(
        j->ex->check_arg(j->obj, f[0].field_id, "/a~1b", why, sizeof why), 0);
    assert_int_equal(
        j->ex->check_arg(j->obj, f[0].field_id, "", why, sizeof why), 0);
    f[0] = field(j, "json.value", "user");
    f[1] = field(j, "json.number", "/size");
    assert_int_equal(j->ex->extract(j->obj, ev, 2, f), 0);
    assert_int_equal(f[0].res_len, 0);
    assert_int_equal(f[1].res_len, 1);
    assert_int_equal(f[1].res.i64[0], 5000);
    assert_contains(tenon_last_error(), "json.value[user]: not a JSON pointer");
}

static void test_many_fields(void **state)
{
    const char *dir = *state;
    struct jl j;
    char *path = write_file(dir, "many.jsonl", doc, strlen(doc));
    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, path), 0);
    assert_int_equal(jl_each(&j, many_fn, NULL), 1);
    jl_free(&j);
    free(path);
}

/* Events the instance did not read itself (another instance's, or from a
 * capture file), and hostile ones. */
static void test_foreign_events(void **state)
{
    static const char payload[] = "{\"k\":[\"v\"]}";
    unsigned char buf[256];
    struct tenon_event_input ev = {(const struct tenon_event *)buf, 1, "jsonl"};
    struct jl j;
    (void)state;

    jl_new(&j, "jsonl");
    tenon_event_plugin_write(buf, 1, 0, payload, sizeof payload - 1);
    assert_nstr(value(&j, &ev, "json.value", "/k/0"), "v");
    assert_nstr(value(&j, &ev, "json.rawtext", NULL), payload);
    /* Another event in the same buffer: not mistaken for the first. */
    tenon_event_plugin_write(buf, 1, 0, "[5]", 3);
    ev.evtnum = 2;
    assert_nstr(value(&j, &ev, "json.value", "/0"), "5");
    /* Not JSON, a NUL inside, invalid UTF-8: no fields. */
    tenon_event_plugin_write(buf, 1, 0, "{\"a\"", 4);
    ev.evtnum = 3;
    assert_null(value(&j, &ev, "json.value", "/a"));
    assert_null(value(&j, &ev, "json.rawtext", NULL));
    tenon_event_plugin_write(buf, 1, 0, "\"a\0b\"", 5);
    ev.evtnum = 4;
    assert_null(value(&j, &ev, "json.value", ""));
    tenon_event_plugin_write(buf, 1, 0, "\"\xff\xfe\"", 4);
    ev.evtnum = 5;
    assert_null(value(&j, &ev, "json.value", ""));
    /* Not a plugin event. */
    tenon_event_async_write(buf, 1, 0, "x", "[1]", 3);
    ev.evtnum = 6;
    assert_null(value(&j, &ev, "json.value", "/0"));
    jl_free(&j);
}

/* ---- lines that are no events -------------------------------------------- */

static void test_malformed(void **state)
{
    static const char text[] = "{\"a\":1}\n"
                               "not json\n"
                               "{\"a\":2}\n"
                               "\n"
                               "{\"a\":\n"
                               "[1,2]]\n"
                               "\"a\\u0000b\"\n"
                               "{\"a\":3}\n";
    const char *dir = *state;
    struct jl j;
    char *path = write_file(dir, "bad.jsonl", text, strlen(text));

    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, path), 0);
    assert_int_equal(jl_each(&j, NULL, NULL), 3);
    assert_int_equal(metric(&j, "jsonl.malformed"), 4);
    assert_int_equal(metric(&j, "jsonl.lines"), 8);
    /* Reported once, with the first one's line number. */
    assert_int_equal(warnings, 1);
    assert_contains(logbuf, "bad.jsonl: line 2: not JSON (jansson: ");
    assert_contains(logbuf, "only counted in the metric jsonl.malformed");
    assert_null(strstr(logbuf, "line 5"));

    /* Once per capture: the next capture reports its own first one; the
     * counters go on. */
    assert_int_equal(jl_open(&j, path), 0);
    assert_int_equal(jl_each(&j, NULL, NULL), 3);
    assert_int_equal(warnings, 2);
    assert_int_equal(metric(&j, "jsonl.malformed"), 8);
    jl_free(&j);
    free(path);
}

static void test_cut(void **state)
{
    const char *dir = *state;
    struct jl j;
    struct collect c = {{0}, 0};
    char *good = write_file(dir, "good.jsonl", "[1]\n{\"end\":true}", 16);
    char *bad = write_file(dir, "bad.jsonl", "[1]\n{\"end\":tr", 13);

    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, good), 0);
    assert_int_equal(jl_each(&j, collect_fn, &c), 2);
    assert_string_equal(c.payloads[1], "{\"end\":true}");
    assert_int_equal(metric(&j, "jsonl.malformed"), 0);
    assert_int_equal(metric(&j, "jsonl.bytes"), 16);
    assert_int_equal(jl_open(&j, bad), 0);
    assert_int_equal(jl_each(&j, NULL, NULL), 1);
    assert_int_equal(metric(&j, "jsonl.malformed"), 1);
    assert_contains(logbuf, "line 2: cut short (no newline at the end of "
                            "the input) and not JSON");
    for (size_t i = 0; i < c.n; i++)
        free(c.payloads[i]);
    jl_free(&j);
    free(good);
    free(bad);
}

struct sizes {
    size_t len[8];
    size_t n;
};

static void size_fn(struct jl *j, const struct tenon_event_input *ev,
                    struct tenon_bytes *b, void *ud)
{
    struct sizes *s = ud;
    (void)j;
    (void)ev;
    s->len[s->n++] = b->len;
}

/* A string of `n` bytes as a JSON line: "xxx...x"\n. */
static char *long_line(char *p, size_t n)
{
    *p++ = '"';
    memset(p, 'x', n - 3);
    p += n - 3;
    *p++ = '"';
    *p++ = '\n';
    return p;
}

static void test_long_lines(void **state)
{
    const char *dir = *state;
    size_t mb = 1u << 20;
    char *text = malloc(4 * mb), *p = text, *path;
    struct sizes s = {{0}, 0};
    struct jl j;
    assert_non_null(text);

    /* A 1 MiB line by default. */
    p = long_line(p, mb);
    p += sprintf(p, "[1]\n");
    path = write_file(dir, "big.jsonl", text, (size_t)(p - text));
    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, path), 0);
    assert_int_equal(jl_each(&j, size_fn, &s), 2);
    assert_int_equal(s.len[0], mb - 1);
    assert_int_equal(metric(&j, "jsonl.malformed"), 0);
    jl_free(&j);
    free(path);

    /* Lines longer than maxline are skipped whole, the one after them
     * read: one within a buffer, one across reads, one at the end. */
    p = text;
    p += sprintf(p, "[1]\n");
    p = long_line(p, 2000);
    p += sprintf(p, "[2]\n");
    p = long_line(p, 3 * mb);
    p += sprintf(p, "[3]\n");
    memset(p, 'y', 5000);
    p += 5000;
    path = write_file(dir, "long.jsonl", text, (size_t)(p - text));
    jl_new(&j, "jsonl:maxline=1k");
    s.n = 0;
    assert_int_equal(jl_open(&j, path), 0);
    assert_int_equal(jl_each(&j, size_fn, &s), 3);
    assert_int_equal(metric(&j, "jsonl.malformed"), 3);
    assert_int_equal(metric(&j, "jsonl.lines"), 6);
    assert_int_equal(metric(&j, "jsonl.bytes"), (uint64_t)(p - text));
    assert_contains(logbuf, "long.jsonl: line 2: longer than maxline (1024 "
                            "bytes)");
    jl_free(&j);
    free(path);
    free(text);
}

/* An input without newlines never ends: each call returns, holding at
 * most maxline bytes. */
static void test_endless(void **state)
{
    struct jl j;
    (void)state;
    jl_new(&j, "jsonl:maxline=4k");
    assert_int_equal(jl_open(&j, "/dev/zero"), 0);
    for (int i = 0; i < 3; i++) {
        uint32_t n = 9;
        const struct tenon_event *const *evts;
        assert_int_equal(j.src->next_batch(j.obj, j.cap, &n, &evts), 0);
        assert_int_equal(n, 0);
    }
    assert_int_equal(metric(&j, "jsonl.malformed"), 1);
    assert_true(metric(&j, "jsonl.bytes") >= 3 * (16u << 20));
    jl_free(&j);
}

static void test_open_errors(void **state)
{
    const char *dir = *state;
    struct jl j;
    char *missing = path_join(dir, "no-such.jsonl");
    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, missing), TENON_ENOENT);
    assert_contains(tenon_last_error(), missing);
    assert_contains(tenon_last_error(), "No such file");
    assert_int_equal(jl_open(&j, dir), TENON_EINVAL);
    assert_contains(tenon_last_error(), "is a directory");
    j.cap = NULL;
    jl_free(&j);
    free(missing);
    /* maxline out of range: refused before create. */
    {
        tenon_t *t;
        tenon_instance_t *inst = NULL;
        static const char *const dirs[] = {TEST_EXAMPLE_DIR};
        t = open_dirs(dirs, 1);
        assert_int_not_equal(tenon_create(t, "jsonl:maxline=3", NULL, &inst),
                             0);
        assert_contains(tenon_last_error(), "maxline");
        tenon_close(t);
    }
}

/* A read that fails halfway (EIO) fails the batch, naming the file. */
static void test_read_error(void **state)
{
    struct jl j;
    uint32_t n;
    const struct tenon_event *const *evts;
    (void)state;
    jl_new(&j, "jsonl");
    /* /proc/self/mem at offset 0 is unmapped: read() fails with EIO. */
    assert_int_equal(jl_open(&j, "/proc/self/mem"), 0);
    assert_true(j.src->next_batch(j.obj, j.cap, &n, &evts) < 0);
    assert_contains(tenon_last_error(), "reading /proc/self/mem: ");
    jl_free(&j);
}

/* ---- standard input and progress ----------------------------------------- */

static void test_stdin(void **state)
{
    int fds[2], saved;
    pid_t pid;
    struct jl j;
    const char *dash[] = {"", "-"};
    (void)state;

    for (int k = 0; k < 2; k++) {
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            for (int i = 0; i < 2000; i++)
                dprintf(fds[1], "{\"i\":%d}\n", i);
            _exit(0);
        }
        close(fds[1]);
        saved = dup(0);
        assert_int_equal(dup2(fds[0], 0), 0);
        close(fds[0]);
        jl_new(&j, "jsonl");
        assert_int_equal(jl_open(&j, dash[k]), 0);
        {
            const char *text = NULL;
            assert_true(j.src->progress(j.obj, j.cap, &text) < 0);
            assert_nstr(text, "0 B read");
        }
        assert_int_equal(jl_each(&j, NULL, NULL), 2000);
        jl_free(&j);
        dup2(saved, 0);
        close(saved);
        waitpid(pid, NULL, 0);
    }
}

static void test_progress(void **state)
{
    const char *dir = *state;
    size_t len = 0, cap = 3000 * 40;
    char *text = malloc(cap), *path;
    const char *desc = NULL;
    struct jl j;
    uint32_t n;
    const struct tenon_event *const *evts;
    double f;

    assert_non_null(text);
    for (int i = 0; i < 3000; i++)
        len += (size_t)sprintf(text + len, "{\"n\":%d}\n", i);
    path = write_file(dir, "progress.jsonl", text, len);
    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, path), 0);
    assert_true(j.src->progress(j.obj, j.cap, &desc) == 0.0);
    assert_int_equal(j.src->next_batch(j.obj, j.cap, &n, &evts), 0);
    assert_true(n > 0 && n < 3000);
    f = j.src->progress(j.obj, j.cap, &desc);
    assert_true(f > 0.0 && f < 1.0);
    assert_contains(desc, " KiB of ");
    assert_contains(desc, " KiB");
    while (j.src->next_batch(j.obj, j.cap, &n, &evts) == 0)
        ;
    assert_true(j.src->progress(j.obj, j.cap, &desc) == 1.0);
    jl_free(&j);
    free(path);
    free(text);
}

/* ---- the example data -------------------------------------------------- */

struct tally {
    size_t errors, big, mfa_off, plain_curl, cafe;
};

static void tally_fn(struct jl *j, const struct tenon_event_input *ev,
                     struct tenon_bytes *b, void *ud)
{
    struct tally *t = ud;
    const char *v;
    int64_t n;
    (void)b;
    t->errors += number(j, ev, "/status", &n) && n >= 500;
    t->big += number(j, ev, "/size", &n) && n > 5000;
    t->mfa_off +=
        (v = value(j, ev, "json.value", "/mfa")) && strcmp(v, "false") == 0;
    t->plain_curl += (v = value(j, ev, "json.value", "/request")) &&
                     strcmp(v, "{\"agent\":\"curl/8.5.0\",\"tls\":true}") == 0;
    t->cafe += (v = value(j, ev, "json.value", "/path")) &&
               strstr(v, "caf\xc3\xa9") != NULL;
}

/* examples/data/access.jsonl holds what its README says. */
static void test_example_data(void **state)
{
    struct jl j;
    struct tally t = {0, 0, 0, 0, 0};
    (void)state;
    jl_new(&j, "jsonl");
    assert_int_equal(jl_open(&j, EXAMPLE_DATA), 0);
    assert_int_equal(jl_each(&j, tally_fn, &t), 52);
    assert_int_equal(t.errors, 6);
    assert_int_equal(t.big, 21);
    assert_int_equal(t.mfa_off, 3);
    assert_int_equal(t.plain_curl, 6);
    assert_int_equal(t.cafe, 1);
    assert_int_equal(metric(&j, "jsonl.malformed"), 0);
    jl_free(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_fields, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_many_fields, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_foreign_events),
        cmocka_unit_test_setup_teardown(test_malformed, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_cut, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_long_lines, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_endless),
        cmocka_unit_test_setup_teardown(test_open_errors, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test_setup_teardown(test_progress, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_example_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
