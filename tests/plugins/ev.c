/*
 * Plugins for the pipeline tests (test_pipeline.c), one source built as
 * several plugins by EV_KIND:
 *   1 "evsrc"     source "evtest" of `n` plugin events (payload: the u64
 *                 counter i, from 1), and an extractor of fields on them;
 *                 arguments make it return TENON_EAGAIN, hand over a
 *                 malformed record, give some events another type, fail;
 *   2 "evasync"   async events "tick" from two threads (`n` each), data
 *                 the u64 (thread << 32 | seq); extracts them;
 *   3 "evlisten"  a capture listener whose routines count their runs and
 *                 the runs outside capture open .. close;
 *   4 "evparse"   parses types 322 and 402, checking each event comes once
 *                 and in order;
 *   5 "evparse402" parses type 402 only, counting any other type it sees;
 *   6 "evdup"     extracts a field named like one of evsrc's.
 * Each publishes what it saw as metrics (tenon.metrics/1).
 */
#include <tenon/event.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if EV_KIND == 1
TENON_PLUGIN_INFO("evsrc", "1.0.0",
    TENON_DESCRIPTION("Test source of numbered events, and their fields")
    TENON_PROVIDES(TENON_SOURCE_ID) TENON_PROVIDES(TENON_EXTRACT_ID)
    TENON_PROVIDES(TENON_METRICS_ID)
    TENON_ARG_INT("n", "1000", "how many events")
    TENON_ARG_INT("batch", "100", "events per batch")
    TENON_ARG_INT("eagain", "0", "return TENON_EAGAIN every k-th call")
    TENON_ARG_INT("bad", "0", "hand over a malformed record as event k")
    TENON_ARG_INT("fail", "0", "fail the batch holding event k")
    TENON_ARG_BOOL("types", "no", "give even events type 1000"));
#elif EV_KIND == 2
/* Built twice: evasyncnp asks only for log, so its events are refused
 * (permission "event"). */
#ifdef EV_NOEVENT
#define EV_ASYNC_NAME  "evasyncnp"
#define EV_ASYNC_PERMS TENON_PERMISSION("log")
#else
#define EV_ASYNC_NAME "evasync"
#define EV_ASYNC_PERMS
#endif
TENON_PLUGIN_INFO(EV_ASYNC_NAME, "1.0.0",
    TENON_DESCRIPTION("Test async events from two threads")
    EV_ASYNC_PERMS
    TENON_PROVIDES(TENON_ASYNC_ID) TENON_PROVIDES(TENON_EXTRACT_ID)
    TENON_PROVIDES(TENON_METRICS_ID)
    TENON_ARG_INT("n", "1000", "events per thread")
    TENON_ARG_BOOL("badname", "no", "also emit one event of an undeclared "
                   "name"));
#elif EV_KIND == 3
TENON_PLUGIN_INFO("evlisten", "1.0.0",
    TENON_DESCRIPTION("Test capture listener")
    TENON_PROVIDES(TENON_LISTEN_ID) TENON_PROVIDES(TENON_METRICS_ID));
#elif EV_KIND == 4
TENON_PLUGIN_INFO("evparse", "1.0.0",
    TENON_DESCRIPTION("Test parser of types 322 and 402")
    TENON_PROVIDES(TENON_PARSE_ID) TENON_PROVIDES(TENON_METRICS_ID));
#elif EV_KIND == 5
TENON_PLUGIN_INFO("evparse402", "1.0.0",
    TENON_DESCRIPTION("Test parser of type 402 only")
    TENON_PROVIDES(TENON_PARSE_ID) TENON_PROVIDES(TENON_METRICS_ID));
#else
TENON_PLUGIN_INFO("evdup", "1.0.0",
    TENON_DESCRIPTION("Extracts a field evsrc has too")
    TENON_PROVIDES(TENON_EXTRACT_ID));
#endif

#define NMETRICS 4

struct ev {
    const struct tenon_host *host;
    struct tenon_instance *self;
    int64_t n, batch, eagain, bad, fail;
    int types, badname;
    /* source */
    unsigned char *recs;
    size_t reclen;
    const struct tenon_event **ptrs;
    uint64_t next, calls, ext_calls;
    /* extract */
    uint64_t u64[64], listv[3];
    int64_t i64;
    uint32_t b;
    const char *strs[2];
    char sbuf[2][64];
    struct tenon_bytes ip;
    unsigned char ipb[4];
    /* async */
    void *owner;
    tenon_async_handler_fn handler;
    pthread_t th[2];
    int running;
    atomic_ulong refused;
    /* listen */
    atomic_int open, closed;
    atomic_ulong runs, outside, once_runs;
    /* parse */
    uint64_t parsed, last_num, disorder, wrong;
    struct tenon_metric m[NMETRICS];
};

static int64_t arg_i(const struct tenon_args *a, const char *name)
{
    const struct tenon_arg_value *v = tenon_arg(a, name);
    return v ? v->i : 0;
}

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj)
{
    struct ev *e = calloc(1, sizeof *e);
    (void)input;
    if (!e)
        return TENON_ENOMEM;
    e->host = host;
    e->self = self;
    e->n = arg_i(args, "n");
    e->batch = arg_i(args, "batch");
    e->eagain = arg_i(args, "eagain");
    e->bad = arg_i(args, "bad");
    e->fail = arg_i(args, "fail");
    e->types = (int)arg_i(args, "types");
    e->badname = (int)arg_i(args, "badname");
    if (e->batch <= 0)
        e->batch = 1;
    *obj = e;
    return 0;
}

static void destroy(void *obj)
{
    struct ev *e = obj;
    free(e->recs);
    free(e->ptrs);
    free(e);
}

/* ---- source ----------------------------------------------------------------
 */

#define REC (TENON_EVENT_HEADER_SIZE + 12 + 8)

static const char *event_source(void *obj)
{
    (void)obj;
    return "evtest";
}

static int src_open(void *obj, const char *params, struct tenon_capture **cap)
{
    struct ev *e = obj;
    if (strcmp(params, "fail") == 0) {
        e->host->set_error(e->self, "open parameters 'fail': failing");
        return TENON_EINVAL;
    }
    free(e->recs);
    free(e->ptrs);
    e->recs = malloc((size_t)e->batch * REC);
    e->ptrs = malloc((size_t)e->batch * sizeof *e->ptrs);
    if (!e->recs || !e->ptrs)
        return TENON_ENOMEM;
    e->next = 1;
    e->calls = 0;
    *cap = (struct tenon_capture *)e;
    return 0;
}

static int next_batch(void *obj, struct tenon_capture *cap, uint32_t *n,
                      const struct tenon_event *const **evts)
{
    struct ev *e = obj;
    uint32_t k = 0;
    (void)cap;
    *n = 0;
    e->calls++;
    if (e->eagain && e->calls % (uint64_t)e->eagain == 0)
        return TENON_EAGAIN;
    if (e->next > (uint64_t)e->n)
        return TENON_EEOF;
    while (k < e->batch && e->next <= (uint64_t)e->n) {
        unsigned char *r = e->recs + (size_t)k * REC;
        uint64_t i = e->next++;
        if (e->fail && i == (uint64_t)e->fail) {
            e->host->set_error(e->self, "event %llu: told to fail",
                               (unsigned long long)i);
            return TENON_EIO;
        }
        tenon_event_plugin_write(r, 1000000000ull * 1700000000u + i, 0, &i, 8);
        if (e->types && i % 2 == 0) {
            uint16_t t = 1000;
            memcpy(r + 20, &t, 2);
        }
        if (e->bad && i == (uint64_t)e->bad) {
            uint32_t len = 30; /* shorter than its parameters */
            memcpy(r + 16, &len, 4);
        }
        e->ptrs[k++] = (const struct tenon_event *)r;
    }
    *n = k;
    *evts = e->ptrs;
    return 0;
}

static void src_close(void *obj, struct tenon_capture *cap)
{
    (void)obj, (void)cap;
}

static double progress(void *obj, struct tenon_capture *cap, const char **text)
{
    struct ev *e = obj;
    (void)cap;
    snprintf(e->sbuf[1], sizeof e->sbuf[1], "%llu of %lld",
             (unsigned long long)(e->next - 1), (long long)e->n);
    *text = e->sbuf[1];
    return e->n ? (double)(e->next - 1) / (double)e->n : -1;
}

static const struct tenon_source_v1 source = {
    sizeof source, 0, event_source, src_open, next_batch, src_close, progress};

/* ---- extract --------------------------------------------------------------
 */

#if EV_KIND == 1
static const struct tenon_field fields[] = {
    {"ev.n", TENON_FIELD_U64, 0, "N", "the counter"},
    {"ev.s", TENON_FIELD_STRING, 0, "S", "\"ev-\" and the counter"},
    {"ev.neg", TENON_FIELD_I64, 0, "Neg", "minus the counter"},
    {"ev.odd", TENON_FIELD_BOOL, 0, "Odd", "the counter is odd"},
    {"ev.list", TENON_FIELD_U64, TENON_FIELD_LIST, "List",
     "n, 2n, 3n; empty when n is a multiple of 5"},
    {"ev.idx", TENON_FIELD_U64, TENON_FIELD_ARG_REQ | TENON_FIELD_ARG_INDEX,
     "Idx", "n plus the index"},
    {"ev.key", TENON_FIELD_STRING, TENON_FIELD_ARG_REQ | TENON_FIELD_ARG_KEY,
     "Key", "the key, '-' and n"},
    {"ev.ip", TENON_FIELD_IPADDR, 0, "IP", "10.0.n/256.n%256"},
    {"ev.even", TENON_FIELD_U64, 0, "Even", "n, only when even"},
    {"ev.fail", TENON_FIELD_U64, 0, "Fail", "fails on event 3"},
};
#elif EV_KIND == 2
static const struct tenon_field fields[] = {
    {"async.thread", TENON_FIELD_U64, 0, "Thread", "emitting thread, 0 or 1"},
    {"async.seq", TENON_FIELD_U64, 0, "Seq", "sequence in the thread"},
};
#elif EV_KIND == 6
static const struct tenon_field fields[] = {
    {"ev.n", TENON_FIELD_U64, 0, "N", "always 7"},
};
#endif

#if EV_KIND == 1 || EV_KIND == 2 || EV_KIND == 6
static const struct tenon_field *get_fields(void *obj, uint32_t *n)
{
    (void)obj;
    *n = sizeof fields / sizeof *fields;
    return fields;
}

__attribute__((unused)) static uint64_t
payload_u64(const struct tenon_event *evt, uint32_t param)
{
    struct tenon_bytes b;
    uint64_t v = 0;
    if (tenon_event_param(evt, evt->len, param, &b) == 0 && b.len == 8)
        memcpy(&v, b.ptr, 8);
    return v;
}

static int extract_one(struct ev *e, const struct tenon_event_input *ev,
                       struct tenon_extract_field *f, int slot)
{
    uint64_t n = 0;
    f->res_len = 1;
    (void)n;
#if EV_KIND == 2
    n = payload_u64(ev->evt, 2);
    e->u64[slot] = f->field_id == 0 ? n >> 32 : n & 0xffffffffu;
    f->res.u64 = &e->u64[slot];
    return 0;
#elif EV_KIND == 6
    (void)ev;
    e->u64[slot] = 7;
    f->res.u64 = &e->u64[slot];
    return 0;
#else
    if (ev->evt->type != TENON_EVENT_PLUGIN)
        e->wrong++;
    n = payload_u64(ev->evt, 1);
    switch (f->field_id) {
    case 0:
        e->u64[slot] = n;
        f->res.u64 = &e->u64[slot];
        break;
    case 1:
    case 6: {
        char *b = e->sbuf[f->field_id == 1 ? 0 : 1];
        if (f->field_id == 1)
            snprintf(b, 64, "ev-%llu", (unsigned long long)n);
        else
            snprintf(b, 64, "%.40s-%llu", f->arg_key ? f->arg_key : "?",
                     (unsigned long long)n);
        e->strs[f->field_id == 1 ? 0 : 1] = b;
        f->res.str = &e->strs[f->field_id == 1 ? 0 : 1];
        break;
    }
    case 2:
        e->i64 = -(int64_t)n;
        f->res.i64 = &e->i64;
        break;
    case 3:
        e->b = (uint32_t)(n & 1);
        f->res.boolean = &e->b;
        break;
    case 4:
        e->listv[0] = n, e->listv[1] = 2 * n, e->listv[2] = 3 * n;
        f->res.u64 = e->listv;
        f->res_len = n % 5 == 0 ? 0 : 3;
        break;
    case 5:
        if (!f->arg_present)
            return -1;
        e->u64[slot] = n + f->arg_index;
        f->res.u64 = &e->u64[slot];
        break;
    case 7:
        e->ipb[0] = 10, e->ipb[1] = 0, e->ipb[2] = (unsigned char)(n / 256),
        e->ipb[3] = (unsigned char)(n % 256);
        e->ip.len = 4;
        e->ip.ptr = e->ipb;
        f->res.bytes = &e->ip;
        break;
    case 8:
        e->u64[slot] = n;
        f->res.u64 = &e->u64[slot];
        f->res_len = n % 2 == 0;
        break;
    case 9:
        if (n == 3) {
            e->host->set_error(e->self, "ev.fail: event 3 fails");
            return -1;
        }
        e->u64[slot] = n;
        f->res.u64 = &e->u64[slot];
        break;
    default: f->res_len = 0;
    }
    return 0;
#endif
}

static int extract(void *obj, const struct tenon_event_input *ev, uint32_t n,
                   struct tenon_extract_field *f)
{
    struct ev *e = obj;
    e->ext_calls++;
    for (uint32_t i = 0; i < n; i++)
        if (extract_one(e, ev, &f[i], i < 64 ? (int)i : 63) < 0)
            return TENON_EINVAL;
    return 0;
}

#if EV_KIND == 2
static const uint16_t async_types[] = {TENON_EVENT_ASYNC};
static const uint16_t *ext_types(void *obj, uint32_t *n)
{
    (void)obj;
    *n = 1;
    return async_types;
}
#else
#define ext_types NULL
#endif

#if EV_KIND == 1
/* ev.key refuses the argument "bad" when a filter compiles. */
static int check_arg(void *obj, uint32_t field_id, const char *arg, char *why,
                     size_t len)
{
    (void)obj;
    if (field_id == 6 && arg && strcmp(arg, "bad") == 0) {
        snprintf(why, len, "'bad' is not a key; expected any other word");
        return TENON_EINVAL;
    }
    return 0;
}
#else
#define check_arg NULL
#endif

static const struct tenon_extract_v1 extractor = {
    sizeof extractor, get_fields, extract, ext_types, NULL, check_arg};
#endif

/* ---- async ------------------------------------------------------------------
 */

#if EV_KIND == 2
static const char *const names_[] = {"tick"};
static const char *const *async_names(void *obj, uint32_t *n)
{
    (void)obj;
    *n = 1;
    return names_;
}

struct emitter {
    struct ev *e;
    uint64_t thread;
};
static struct emitter emitters[2];

static void *emit_loop(void *arg)
{
    struct emitter *em = arg;
    struct ev *e = em->e;
    unsigned char buf[128];
    char err[256];
    for (uint64_t s = 0; s < (uint64_t)e->n; s++) {
        uint64_t v = em->thread << 32 | s;
        tenon_event_async_write(buf, TENON_TS_NOW, 0, "tick", &v, 8);
        if (e->handler(e->owner, (const struct tenon_event *)buf, err))
            atomic_fetch_add(&e->refused, 1);
    }
    if (e->badname && em->thread == 0) {
        uint64_t v = 0;
        tenon_event_async_write(buf, TENON_TS_NOW, 0, "tock", &v, 8);
        if (e->handler(e->owner, (const struct tenon_event *)buf, err))
            atomic_fetch_add(&e->refused, 1);
    }
    return NULL;
}

static int set_handler(void *obj, void *owner, tenon_async_handler_fn fn)
{
    struct ev *e = obj;
    if (fn) {
        if (e->running)
            return TENON_EBUSY;
        e->owner = owner;
        e->handler = fn;
        for (int i = 0; i < 2; i++) {
            emitters[i] = (struct emitter){e, (uint64_t)i};
            pthread_create(&e->th[i], NULL, emit_loop, &emitters[i]);
        }
        e->running = 1;
        return 0;
    }
    /* a stop waits for both threads to have emitted all they had */
    if (e->running)
        for (int i = 0; i < 2; i++)
            pthread_join(e->th[i], NULL);
    e->running = 0;
    return 0;
}

static const struct tenon_async_v1 asyncv = {sizeof asyncv, async_names, NULL,
                                             set_handler};
#endif

/* ---- listen
 * ------------------------------------------------------------------ */

#if EV_KIND == 3
static bool forever(void *state)
{
    struct ev *e = state;
    if (!atomic_load(&e->open) || atomic_load(&e->closed))
        atomic_fetch_add(&e->outside, 1);
    atomic_fetch_add(&e->runs, 1);
    usleep(200);
    return true;
}

static bool three_times(void *state)
{
    struct ev *e = state;
    return atomic_fetch_add(&e->once_runs, 1) + 1 < 3;
}

static int capture_open(void *obj, const struct tenon_listen_input *in)
{
    struct ev *e = obj;
    atomic_store(&e->open, 1);
    if (!in->subscribe(in->owner, forever, e) ||
        !in->subscribe(in->owner, three_times, e))
        return TENON_ENOMEM;
    return 0;
}

static int capture_close(void *obj, const struct tenon_listen_input *in)
{
    struct ev *e = obj;
    (void)in;
    /* the host has stopped the routine that was still there: a run after
     * this counts as outside */
    atomic_store(&e->closed, 1);
    return 0;
}

static const struct tenon_listen_v1 listener = {sizeof listener, capture_open,
                                                capture_close};
#endif

/* ---- parse
 * ------------------------------------------------------------------- */

#if EV_KIND == 4 || EV_KIND == 5
#if EV_KIND == 4
static const uint16_t parse_types_[] = {TENON_EVENT_PLUGIN, TENON_EVENT_ASYNC};
#else
static const uint16_t parse_types_[] = {TENON_EVENT_ASYNC};
#endif
static const uint16_t *parse_types(void *obj, uint32_t *n)
{
    (void)obj;
    *n = sizeof parse_types_ / sizeof *parse_types_;
    return parse_types_;
}

static int parse(void *obj, const struct tenon_event_input *ev)
{
    struct ev *e = obj;
    int ok = 0;
    for (size_t i = 0; i < sizeof parse_types_ / sizeof *parse_types_; i++)
        ok |= ev->evt->type == parse_types_[i];
    if (!ok)
        e->wrong++;
    if (ev->evtnum <= e->last_num)
        e->disorder++;
    e->last_num = ev->evtnum;
    e->parsed++;
    return 0;
}

static const struct tenon_parse_v1 parser = {sizeof parser, parse, parse_types,
                                             NULL};
#endif

/* ---- metrics
 * ------------------------------------------------------------------ */

static void metric(struct ev *e, int i, const char *name, uint64_t v)
{
    e->m[i].name = name;
    e->m[i].type = TENON_METRIC_COUNTER;
    e->m[i].value_type = TENON_METRIC_U64;
    e->m[i].value.u64 = v;
}

static const struct tenon_metric *metrics(void *obj, uint32_t *n)
{
    struct ev *e = obj;
#if EV_KIND == 1
    metric(e, 0, "extract_calls", e->ext_calls);
    metric(e, 1, "wrong_type", e->wrong);
    *n = 2;
#elif EV_KIND == 2
    metric(e, 0, "refused", atomic_load(&e->refused));
    *n = 1;
#elif EV_KIND == 3
    metric(e, 0, "runs", atomic_load(&e->runs));
    metric(e, 1, "outside", atomic_load(&e->outside));
    metric(e, 2, "three_times", atomic_load(&e->once_runs));
    *n = 3;
#else
    metric(e, 0, "parsed", e->parsed);
    metric(e, 1, "disorder", e->disorder);
    metric(e, 2, "wrong_type", e->wrong);
    *n = 3;
#endif
    return e->m;
}

static const struct tenon_metrics_v1 metricsv = {sizeof metricsv, metrics};

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
#if EV_KIND == 1
    if (strcmp(id, TENON_SOURCE_ID) == 0)
        return &source;
#else
    (void)source;
#endif
#if EV_KIND == 1 || EV_KIND == 2 || EV_KIND == 6
    if (strcmp(id, TENON_EXTRACT_ID) == 0)
        return &extractor;
#endif
#if EV_KIND == 2
    if (strcmp(id, TENON_ASYNC_ID) == 0)
        return &asyncv;
#endif
#if EV_KIND == 3
    if (strcmp(id, TENON_LISTEN_ID) == 0)
        return &listener;
#endif
#if EV_KIND == 4 || EV_KIND == 5
    if (strcmp(id, TENON_PARSE_ID) == 0)
        return &parser;
#endif
    if (strcmp(id, TENON_METRICS_ID) == 0)
        return &metricsv;
    return NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
