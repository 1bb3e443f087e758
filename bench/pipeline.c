/*
 * bench/pipeline - Tenon's event pipeline beside a plain C loop that calls
 * the same plugin functions directly, in one run:
 *
 *   a  source only     evbench's events through the pipeline, no filter
 *   b  1 field         filter `bench.v < 100`: one u64 extracted and
 *                      compared per event (10% match)
 *   c  4 fields        `bench.a < 5000 and bench.b < 5000 and bench.c <
 *                      5000 and bench.v < 100`: four u64s per event
 *   d  jsonl           the bundled jsonl plugin over a JSON-lines file
 *                      written to $TMPDIR at run time, filter
 *                      `json.value[/user] = "u7"` (1% match); d0 is the
 *                      same file with no filter
 *
 * The plain loop is "the limit this design can reach": it gets the very
 * vtables the pipeline uses (tenon_create + tenon_get_interface), then calls
 * next_batch() and, per event, extract() with every field the case needs in
 * one call, and compares the values inline. What it skips is all the
 * pipeline adds: record checks, the compiled filter, built-in fields,
 * routing by source and event type, counters.
 *
 * Cases a-c run at -n events (default 10 M), ten times and a tenth of it;
 * d at -l lines (default 1 M), ten times and a tenth of it; -c picks
 * cases (e.g. -c bd; a always runs, as the others' reference). Each figure is
 * the best of -r repetitions, Tenon and the plain loop alternating; ns per
 * field is the time over the source-only case of the same size and way,
 * divided by the fields extracted. Both ways must count the same matches,
 * or the program says FAIL and exits 1: a fast wrong answer cannot win.
 */
#include <tenon/host.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef TENON_BENCH_PLUGINS
#error "build with -DTENON_BENCH_PLUGINS=\"build/plugins\""
#endif
#ifndef TENON_BENCH_EVPLUGINS
#error "build with -DTENON_BENCH_EVPLUGINS=\"build/bench/plugins\""
#endif

#define MAXF 4

static int reps = 3;
static const char *only = "abcd"; /* -c: the cases to run */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench/pipeline: %s: %s\n", what, why);
    exit(1);
}

/* ---- the cases ---------------------------------------------------------- */

/* One way of comparing a field's value, for the plain loop. */
enum cmp { LT_U64, EQ_STR };

struct test {
    const char *field;
    const char *arg; /* the field's argument, or NULL */
    enum cmp cmp;
    uint64_t u;      /* LT_U64: below this */
    const char *str; /* EQ_STR: equal to this */
};

struct bench_case {
    const char *name;
    const char *filter; /* Tenon's; "" for none */
    int nt;             /* tests the plain loop makes, all and-ed */
    struct test t[MAXF];
};

static const struct bench_case case_a = {"a source only", "", 0, {{0}}};
static const struct bench_case case_b = {
    "b 1 field", "bench.v < 100", 1, {{"bench.v", NULL, LT_U64, 100, NULL}}};
static const struct bench_case case_c = {
    "c 4 fields",
    "bench.a < 5000 and bench.b < 5000 and bench.c < 5000 and bench.v < 100",
    4,
    {{"bench.a", NULL, LT_U64, 5000, NULL},
     {"bench.b", NULL, LT_U64, 5000, NULL},
     {"bench.c", NULL, LT_U64, 5000, NULL},
     {"bench.v", NULL, LT_U64, 100, NULL}}};
static const struct bench_case case_d0 = {"d0 jsonl, no filter", "", 0, {{0}}};
static const struct bench_case case_d = {
    "d jsonl, 1 filter",
    "json.value[/user] = \"u7\"",
    1,
    {{"json.value", "/user", EQ_STR, 0, "u7"}}};

/* What a run of either way gives back: how long, how many events went
 * through, how many matched. */
struct result {
    double secs;
    uint64_t events, matched;
};

/* The instances one case reads from: the source, and the instance that
 * extracts its fields (the same one, or another). */
struct setup {
    tenon_t *t;
    tenon_instance_t *src, *ext; /* ext may equal src, or be NULL */
};

/* ---- Tenon's pipeline ------------------------------------------------- */

static struct result run_pipeline(const struct setup *s,
                                  const struct bench_case *c,
                                  const char *params)
{
    tenon_pipeline_t *p;
    struct tenon_pipeline_stats st = {.struct_size = sizeof st};
    struct result r;
    size_t col = 0;
    double t0;

    if (tenon_pipeline_new(s->t, s->src, &p) ||
        (s->ext && s->ext != s->src && tenon_pipeline_add(p, s->ext)))
        die("pipeline", tenon_last_error());
    if (tenon_pipeline_filter(p, c->filter, &col))
        die(c->filter, tenon_last_error());
    if (tenon_pipeline_output(p, TENON_OUTPUT_TEXT, NULL, NULL, NULL, NULL))
        die("output", tenon_last_error());
    t0 = now();
    if (tenon_pipeline_open(p, params))
        die("open", tenon_last_error());
    if (tenon_pipeline_run(p, 0, NULL, NULL))
        die("run", tenon_last_error());
    tenon_pipeline_close(p);
    r.secs = now() - t0;
    if (tenon_pipeline_stats(p, &st))
        die("stats", tenon_last_error());
    r.events = st.read;
    r.matched = st.matched;
    tenon_pipeline_free(p);
    return r;
}

/* ---- the plain loop --------------------------------------------------- */

static uint32_t field_id(const struct tenon_extract_v1 *x, void *obj,
                         const char *name)
{
    uint32_t n;
    const struct tenon_field *f = x->fields(obj, &n);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return i;
    die(name, "no such field");
    return 0;
}

static int passes(const struct test *t, const struct tenon_extract_field *f)
{
    if (f->res_len == 0)
        return 0;
    if (t->cmp == LT_U64)
        return f->res.u64[0] < t->u;
    return strcmp(f->res.str[0], t->str) == 0;
}

static struct result run_plain(const struct setup *s,
                               const struct bench_case *c, const char *params)
{
    void *sobj, *xobj = NULL;
    const struct tenon_source_v1 *src =
        tenon_get_interface(s->src, TENON_SOURCE_ID, &sobj);
    const struct tenon_extract_v1 *x =
        s->ext ? tenon_get_interface(s->ext, TENON_EXTRACT_ID, &xobj) : NULL;
    struct tenon_extract_field req[MAXF];
    struct tenon_capture *cap;
    const char *evtsrc = src->event_source(sobj);
    uint64_t num = 0, matched = 0, bytes = 0;
    struct result r;
    double t0;

    if (c->nt && !x)
        die(c->name, "no extractor");
    memset(req, 0, sizeof req);
    for (int i = 0; i < c->nt; i++) {
        req[i].field_id = field_id(x, xobj, c->t[i].field);
        req[i].field = c->t[i].field;
        req[i].arg_key = c->t[i].arg;
        req[i].arg_present = c->t[i].arg != NULL;
        req[i].ftype =
            c->t[i].cmp == LT_U64 ? TENON_FIELD_U64 : TENON_FIELD_STRING;
    }
    t0 = now();
    if (src->open(sobj, params ? params : "", &cap))
        die("open", tenon_last_error());
    for (;;) {
        const struct tenon_event *const *evts;
        uint32_t n;
        int rc = src->next_batch(sobj, cap, &n, &evts);
        if (rc == TENON_EEOF)
            break;
        if (rc == TENON_EAGAIN)
            continue;
        if (rc)
            die("next_batch", tenon_last_error());
        for (uint32_t i = 0; i < n; i++) {
            struct tenon_event_input in = {evts[i], ++num, evtsrc};
            int ok = 1;
            bytes += evts[i]->len; /* read each record, as the pipeline does */
            if (!c->nt)
                continue;
            if (x->extract(xobj, &in, (uint32_t)c->nt, req))
                die("extract", tenon_last_error());
            for (int k = 0; k < c->nt && ok; k++)
                ok = passes(&c->t[k], &req[k]);
            matched += (uint64_t)ok;
        }
    }
    src->close(sobj, cap);
    r.secs = now() - t0;
    r.events = num;
    r.matched = c->nt ? matched : num;
    if (bytes == 0 && num)
        die(c->name, "empty records");
    return r;
}

/* ---- measuring and printing ---------------------------------------------
 */

struct both {
    struct result tenon, plain;
};

static struct both measure(const struct setup *s, const struct bench_case *c,
                           const char *params)
{
    struct both best = {{1e300, 0, 0}, {1e300, 0, 0}};
    for (int i = 0; i < reps; i++) {
        struct result a = run_pipeline(s, c, params);
        struct result b = run_plain(s, c, params);
        if (a.events != b.events || a.matched != b.matched) {
            printf("FAIL: %s: the pipeline read %llu events and matched "
                   "%llu, the plain loop %llu and %llu\n",
                   c->name, (unsigned long long)a.events,
                   (unsigned long long)a.matched, (unsigned long long)b.events,
                   (unsigned long long)b.matched);
            exit(1);
        }
        if (a.secs < best.tenon.secs)
            best.tenon = a;
        if (b.secs < best.plain.secs)
            best.plain = b;
    }
    return best;
}

static void print_way(const char *way, struct result r,
                      const struct result *base, int nfields)
{
    printf("  %s %9.1f ms %7.1f Mev/s", way, r.secs * 1e3,
           (double)r.events / r.secs / 1e6);
    if (base && nfields && r.events && r.secs > base->secs)
        printf(" %6.2f ns/field",
               (r.secs - base->secs) * 1e9 / (double)r.events / nfields);
    else if (base && nfields) /* faster than without fields: noise */
        printf("     ~0 ns/field");
    else
        printf("                ");
}

static void row(const struct bench_case *c, const char *size, struct both m,
                const struct both *base)
{
    printf("%-20s %6s", c->name, size);
    print_way("tenon", m.tenon, base ? &base->tenon : NULL, c->nt);
    print_way(" plain", m.plain, base ? &base->plain : NULL, c->nt);
    printf("   tenon/plain %.2fx  matched %llu\n", m.tenon.secs / m.plain.secs,
           (unsigned long long)m.tenon.matched);
    fflush(stdout);
}

static void size_name(char *out, size_t len, uint64_t n)
{
    if (n % 1000000 == 0)
        snprintf(out, len, "%lluM", (unsigned long long)(n / 1000000));
    else if (n % 1000 == 0)
        snprintf(out, len, "%lluk", (unsigned long long)(n / 1000));
    else
        snprintf(out, len, "%llu", (unsigned long long)n);
}

/* ---- the cases at each size ---------------------------------------------
 */

static void bench_events(tenon_t *t, uint64_t n)
{
    struct setup s = {t, NULL, NULL};
    char size[32], params[32];

    if (tenon_create(t, "evbench", NULL, &s.src))
        die("evbench", tenon_last_error());
    s.ext = s.src; /* a source that extracts serves its own fields */
    size_name(size, sizeof size, n);
    snprintf(params, sizeof params, "%llu", (unsigned long long)n);
    /* b and c need a for their ns/field, so a always runs. */
    struct both a = measure(&s, &case_a, params);
    row(&case_a, size, a, NULL);
    if (strchr(only, 'b'))
        row(&case_b, size, measure(&s, &case_b, params), &a);
    if (strchr(only, 'c'))
        row(&case_c, size, measure(&s, &case_c, params), &a);
    tenon_destroy(s.src);
}

/* The JSON-lines file while it exists: up to a GB at -l 10000000, so it
 * goes however the program ends. Read by the signal handler. */
static char jsonl_path[4096];

static void remove_jsonl(void)
{
    if (jsonl_path[0])
        unlink(jsonl_path);
    jsonl_path[0] = 0;
}

static void on_signal(int sig)
{
    if (jsonl_path[0])
        unlink(jsonl_path);
    _exit(128 + sig);
}

/* Write a JSON-lines file of `lines` lines into jsonl_path, in $TMPDIR.
 * One line in 100 has "user":"u7". */
static void write_jsonl(uint64_t lines)
{
    const char *tmp = getenv("TMPDIR");
    char path[sizeof jsonl_path];
    int fd;
    FILE *f;

    snprintf(path, sizeof path, "%s/tenon-bench-XXXXXX.jsonl",
             tmp && *tmp ? tmp : "/tmp");
    if ((fd = mkstemps(path, 6)) < 0)
        die(path, strerror(errno));
    memcpy(jsonl_path, path, sizeof path);
    if (!(f = fdopen(fd, "w")))
        die(path, strerror(errno));
    for (uint64_t i = 0; i < lines; i++)
        fprintf(f,
                "{\"n\":%llu,\"user\":\"u%llu\",\"size\":%llu,"
                "\"path\":\"/srv/data/%llu.bin\"}\n",
                (unsigned long long)i, (unsigned long long)(i % 100),
                (unsigned long long)(i * 7 % 10000),
                (unsigned long long)(i % 1000));
    if (fclose(f))
        die(path, strerror(errno));
}

static void bench_jsonl(tenon_t *t, uint64_t lines)
{
    struct setup s = {t, NULL, NULL};
    const tenon_plugin_t *pl;
    char size[32];

    if (!strchr(only, 'd'))
        return;
    if (tenon_find(t, "jsonl", &pl)) {
        printf("d jsonl: skipped (%s)\n", tenon_last_error());
        return;
    }
    write_jsonl(lines);
    if (tenon_create(t, "jsonl", NULL, &s.src))
        die("jsonl", tenon_last_error());
    s.ext = s.src;
    size_name(size, sizeof size, lines);
    struct both d0 = measure(&s, &case_d0, jsonl_path);
    row(&case_d0, size, d0, NULL);
    row(&case_d, size, measure(&s, &case_d, jsonl_path), &d0);
    tenon_destroy(s.src);
    remove_jsonl();
}

static uint64_t parse_count(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < 10 || v > 1000000000ull || s[0] == '-')
        die(opt, "expected a count from 10 to 1000000000");
    return v;
}

int main(int argc, char **argv)
{
    const char *dirs[] = {TENON_BENCH_EVPLUGINS, TENON_BENCH_PLUGINS};
    struct tenon_options opts = {.struct_size = sizeof opts,
                                 .plugin_paths = dirs,
                                 .plugin_path_count = 2,
                                 .no_cache = 1};
    uint64_t n = 10000000, lines = 1000000;
    tenon_t *t;
    int opt;

    while ((opt = getopt(argc, argv, "r:n:l:c:h")) != -1) {
        switch (opt) {
        case 'r':
            reps = atoi(optarg);
            if (reps < 1 || reps > 100)
                die("-r", "expected 1 to 100 repetitions");
            break;
        case 'n': n = parse_count(optarg, "-n"); break;
        case 'l': lines = parse_count(optarg, "-l"); break;
        case 'c':
            only = optarg;
            if (!*only || strspn(only, "abcd") != strlen(only))
                die("-c", "expected cases among a, b, c and d, e.g. -c ab");
            break;
        default:
            fprintf(stderr, "usage: pipeline [-r REPS] [-n EVENTS] "
                            "[-l JSONL_LINES] [-c CASES]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    atexit(remove_jsonl);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (tenon_open(&t, &opts))
        die("tenon_open", tenon_last_error());
    printf("best of %d; ns/field: time over case a (d0 for d) per field "
           "extracted\n",
           reps);
    bench_events(t, n / 10);
    bench_events(t, n);
    bench_events(t, n * 10);
    bench_jsonl(t, lines / 10);
    bench_jsonl(t, lines);
    bench_jsonl(t, lines * 10);
    tenon_close(t);
    return 0;
}
