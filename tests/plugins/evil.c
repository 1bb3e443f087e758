/*
 * evil - a hostile event plugin for attacking the pipeline (issue 9).
 * One plugin, every capability; `mode` picks the misbehaviour:
 *
 * source modes (next_batch):
 *   ok         3 well-formed plugin events, then EOF
 *   tsnow      events with ts = TENON_TS_NOW
 *   nullrec    a batch whose array holds NULL pointers
 *   zero       returns 0 with n = 0 forever (never EAGAIN)
 *   batch      one batch of 10 events, then EOF (for -n resume tests)
 * extract modes (the field evil.ip is an IPADDR, evil.s a string list):
 *   ipnull     evil.ip = {len 4, ptr NULL}
 *   ipnull7    evil.ip = {len 7, ptr NULL}
 *   netprefix  evil.net = 10.0.0.0 with prefix byte 200
 *   badutf8    evil.s = invalid UTF-8 and C1/DEL controls
 *   boolodd    evil.b = 7
 *   typeodd    evil.odd (type 99) = bytes
 * async modes:
 *   aflood     a thread emits as fast as it can until stopped
 *   athreads   16 threads emit 10000 events each, then stop
 *   alate      keeps emitting after set_handler(NULL) returned (contract
 *              violation, to see that the host survives it)
 * listen modes:
 *   lmutual    two routines that unsubscribe each other
 *   lsubin     a routine subscribing new routines from inside itself
 *   lother     unsubscribe with a pointer that is not a routine
 * metrics modes:
 *   mnull      NULL names, unknown types, huge counts
 */
#include <tenon/event.h>
#include <tenon/plugin.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

TENON_PLUGIN_INFO("evil", "1.0.0",
    TENON_DESCRIPTION("A hostile event plugin")
    TENON_LICENSE("MIT")
    TENON_PROVIDES(TENON_SOURCE_ID)
    TENON_PROVIDES(TENON_EXTRACT_ID)
    TENON_PROVIDES(TENON_ASYNC_ID)
    TENON_PROVIDES(TENON_LISTEN_ID)
    TENON_PROVIDES(TENON_METRICS_ID)
    TENON_ARG_STRING("mode", "ok", "what to do wrong"));

#define EV_SIZE (TENON_EVENT_HEADER_SIZE + 8 + 4 + 8)
#define NEV     64

struct evil {
    const struct tenon_host *host;
    struct tenon_instance *self;
    char mode[32];
    /* async */
    void *owner;
    _Atomic(tenon_async_handler_fn) handler;
    atomic_int stop;
    pthread_t th[16];
    int nth;
    atomic_ulong sent, refused;
    /* listen */
    const struct tenon_listen_input *in;
    /* set by capture_open while the routines may already run */
    struct tenon_routine *_Atomic ra, *_Atomic rb;
    atomic_int runs;
};

struct tenon_capture {
    uint64_t i, end;
    unsigned char buf[NEV][EV_SIZE];
    const struct tenon_event *evts[NEV];
};

static int is(struct evil *e, const char *m) { return strcmp(e->mode, m) == 0; }

static const char *ev_source(void *obj)
{
    (void)obj;
    return "evil";
}

static int ev_open(void *obj, const char *params, struct tenon_capture **out)
{
    struct evil *e = obj;
    struct tenon_capture *c = calloc(1, sizeof *c);
    (void)params;
    if (!c)
        return TENON_ENOMEM;
    c->end = is(e, "batch") ? 10 : 3;
    for (int i = 0; i < NEV; i++)
        c->evts[i] = (const struct tenon_event *)c->buf[i];
    *out = c;
    return 0;
}

static int ev_next(void *obj, struct tenon_capture *c, uint32_t *n,
                   const struct tenon_event *const **evts)
{
    struct evil *e = obj;
    uint32_t k = 0;
    if (is(e, "zero")) {
        *n = 0;
        return 0;
    }
    if (is(e, "aflood") || is(e, "athreads") || is(e, "alate") ||
        is(e, "lmutual") || is(e, "lsubin") || is(e, "lother")) {
        /* let the async/listen parts work for a while */
        if (c->i++ < 100) {
            usleep(10000);
            return TENON_EAGAIN;
        }
        return TENON_EEOF;
    }
    if (c->i >= c->end)
        return TENON_EEOF;
    for (; c->i < c->end && k < NEV; k++, c->i++)
        tenon_event_plugin_write(c->buf[k],
                                 is(e, "tsnow") ? TENON_TS_NOW : 1000000000ull,
                                 0, &c->i, 8);
    *n = k;
    *evts = c->evts;
    if (is(e, "nullrec")) {
        static const struct tenon_event *nulls[3];
        nulls[1] = c->evts[1];
        *evts = nulls;
    }
    return 0;
}

static void ev_close(void *obj, struct tenon_capture *c)
{
    (void)obj;
    free(c);
}

static const struct tenon_source_v1 source = {
    .struct_size = sizeof source,
    .event_source = ev_source,
    .open = ev_open,
    .next_batch = ev_next,
    .close = ev_close,
};

/* ---- extract ---- */
enum { F_IP, F_NET, F_S, F_B, F_ODD, F_U };
static const struct tenon_field fields[] = {
    {"evil.ip", TENON_FIELD_IPADDR, 0, "ip", "an address"},
    {"evil.net", TENON_FIELD_IPNET, 0, "net", "a network"},
    {"evil.s", TENON_FIELD_STRING, TENON_FIELD_LIST, "s", "strings"},
    {"evil.b", TENON_FIELD_BOOL, 0, "b", "a bool"},
    {"evil.odd", 99, 0, "odd", "a field of an unknown type"},
    {"evil.u", TENON_FIELD_U64, 0, "u", "a number"},
};

static const struct tenon_field *ev_fields(void *obj, uint32_t *n)
{
    (void)obj;
    *n = sizeof fields / sizeof fields[0];
    return fields;
}

static int ev_extract(void *obj, const struct tenon_event_input *ev, uint32_t n,
                      struct tenon_extract_field *f)
{
    struct evil *e = obj;
    static struct tenon_bytes b[64];
    static const char *strs[3];
    static uint32_t bools[64];
    static uint64_t u[64];
    static unsigned char net[5] = {10, 0, 0, 0, 200};
    (void)ev;
    for (uint32_t i = 0; i < n && i < 64; i++) {
        f[i].res_len = 1;
        switch (f[i].field_id) {
        case F_IP:
            b[i].len = is(e, "ipnull7") ? 7 : 4;
            b[i].ptr = NULL;
            f[i].res.bytes = &b[i];
            break;
        case F_NET:
            b[i].len = 5;
            b[i].ptr = net;
            f[i].res.bytes = &b[i];
            break;
        case F_S:
            strs[0] = "bad\xff\xfe utf8";
            strs[1] = "c1 \xc2\x9b"
                      "2J del \x7f bidi \xe2\x80\xae";
            strs[2] = NULL;
            f[i].res.str = strs;
            f[i].res_len = 3;
            break;
        case F_B:
            bools[i] = 7;
            f[i].res.boolean = &bools[i];
            break;
        case F_ODD:
            b[i].len = 3;
            b[i].ptr = "odd";
            f[i].res.bytes = &b[i];
            break;
        case F_U:
            u[i] = ev->evtnum;
            f[i].res.u64 = &u[i];
            break;
        default: f[i].res_len = 0;
        }
    }
    return 0;
}

static const struct tenon_extract_v1 extract = {
    .struct_size = sizeof extract,
    .fields = ev_fields,
    .extract = ev_extract,
};

/* ---- async ---- */
static const char *const names[] = {"evil.tick"};
static const char *const *ev_names(void *obj, uint32_t *n)
{
    (void)obj;
    *n = 1;
    return names;
}

static void *emitter(void *arg)
{
    struct evil *e = arg;
    unsigned char buf[256];
    char err[256];
    int count = 0;
    uint32_t len = tenon_event_async_write(buf, TENON_TS_NOW, 0, "evil.tick",
                                           "payload", 7);
    (void)len;
    for (;;) {
        tenon_async_handler_fn h = atomic_load(&e->handler);
        if (is(e, "alate")) {
            if (atomic_load(&e->stop) > 200000)
                break;
            /* ignores the stop: calls through the handler it saved */
            static tenon_async_handler_fn saved;
            static void *saved_owner;
            if (h)
                saved = h, saved_owner = e->owner;
            if (saved &&
                saved(saved_owner, (const struct tenon_event *)buf, err))
                atomic_fetch_add(&e->refused, 1);
            if (atomic_load(&e->stop))
                atomic_fetch_add(&e->stop, 1);
            usleep(20);
            continue;
        }
        if (atomic_load(&e->stop))
            break;
        if (!h)
            continue;
        if (h(e->owner, (const struct tenon_event *)buf, err))
            atomic_fetch_add(&e->refused, 1);
        else
            atomic_fetch_add(&e->sent, 1);
        if (is(e, "athreads") && ++count == 10000)
            break;
    }
    return NULL;
}

static int ev_set_handler(void *obj, void *owner, tenon_async_handler_fn h)
{
    struct evil *e = obj;
    if (!is(e, "aflood") && !is(e, "athreads") && !is(e, "alate"))
        return 0;
    if (h) {
        e->owner = owner;
        atomic_store(&e->stop, 0);
        atomic_store(&e->handler, h);
        e->nth = is(e, "athreads") ? 16 : 1;
        for (int i = 0; i < e->nth; i++)
            pthread_create(&e->th[i], NULL, emitter, e);
        return 0;
    }
    atomic_store(&e->stop, 1);
    atomic_store(&e->handler, NULL);
    if (is(e, "alate")) { /* returns without joining: keeps emitting */
        for (int i = 0; i < e->nth; i++)
            pthread_detach(e->th[i]);
        e->nth = 0;
        return 0;
    }
    for (int i = 0; i < e->nth; i++)
        pthread_join(e->th[i], NULL);
    e->nth = 0;
    fprintf(stderr, "evil: async sent %lu, refused %lu\n",
            (unsigned long)atomic_load(&e->sent),
            (unsigned long)atomic_load(&e->refused));
    return 0;
}

static const struct tenon_async_v1 async_ = {
    .struct_size = sizeof async_,
    .names = ev_names,
    .set_handler = ev_set_handler,
};

/* ---- listen ---- */
static struct evil *g;

static bool routine_a(void *state)
{
    struct evil *e = state;
    atomic_fetch_add(&e->runs, 1);
    if (is(e, "lmutual")) {
        struct tenon_routine *rb;
        usleep(1000);
        if ((rb = atomic_exchange(&e->rb, NULL)))
            e->in->unsubscribe(e->in->owner, rb);
        return true;
    }
    if (is(e, "lsubin")) {
        if (atomic_load(&e->runs) < 1000)
            e->in->subscribe(e->in->owner, routine_a, e);
        return false;
    }
    return false;
}

static bool routine_b(void *state)
{
    struct evil *e = state;
    struct tenon_routine *ra;
    usleep(1000);
    if ((ra = atomic_exchange(&e->ra, NULL)))
        e->in->unsubscribe(e->in->owner, ra);
    return true;
}

static struct tenon_listen_input saved_in;

static int ev_capture_open(void *obj, const struct tenon_listen_input *in)
{
    struct evil *e = obj;
    saved_in = *in;
    e->in = &saved_in;
    g = e;
    if (is(e, "lmutual")) {
        atomic_store(&e->ra, in->subscribe(in->owner, routine_a, e));
        atomic_store(&e->rb, in->subscribe(in->owner, routine_b, e));
    } else if (is(e, "lsubin")) {
        in->subscribe(in->owner, routine_a, e);
    } else if (is(e, "lother")) {
        int x;
        int rc = in->unsubscribe(in->owner, (struct tenon_routine *)&x);
        fprintf(stderr, "evil: unsubscribe(garbage) = %d\n", rc);
        rc = in->unsubscribe(in->owner, NULL);
        fprintf(stderr, "evil: unsubscribe(NULL) = %d\n", rc);
        rc = in->unsubscribe(NULL, NULL);
        fprintf(stderr, "evil: unsubscribe(NULL owner) = %d\n", rc);
        fprintf(stderr, "evil: subscribe(NULL fn) = %p\n",
                (void *)in->subscribe(in->owner, NULL, NULL));
    }
    return 0;
}

static int ev_capture_close(void *obj, const struct tenon_listen_input *in)
{
    struct evil *e = obj;
    (void)in;
    if (is(e, "lsubin") || is(e, "lmutual"))
        fprintf(stderr, "evil: routines ran %d times\n", atomic_load(&e->runs));
    return 0;
}

static const struct tenon_listen_v1 listen_ = {
    .struct_size = sizeof listen_,
    .capture_open = ev_capture_open,
    .capture_close = ev_capture_close,
};

/* ---- metrics ---- */
static const struct tenon_metric *ev_metrics(void *obj, uint32_t *n)
{
    struct evil *e = obj;
    static struct tenon_metric m[4];
    if (!is(e, "mnull")) {
        *n = 0;
        return NULL;
    }
    m[0] = (struct tenon_metric){NULL, 0, {.u64 = 1}, TENON_METRIC_U64};
    m[1] = (struct tenon_metric){"evil.weird", 77, {.u64 = 2}, 99};
    m[2] = (struct tenon_metric){
        "evil.big", 0, {.u64 = UINT64_MAX}, TENON_METRIC_U64};
    m[3] = (struct tenon_metric){
        "evil.\x1b[31mred\n", 1, {.d = 0.0 / 0.0}, TENON_METRIC_D};
    *n = 4;
    return m;
}

static const struct tenon_metrics_v1 metrics_ = {
    .struct_size = sizeof metrics_,
    .metrics = ev_metrics,
};

static int ev_create(const struct tenon_host *host, struct tenon_instance *self,
                     const struct tenon_args *args,
                     struct tenon_instance *input, void **obj)
{
    struct evil *e = calloc(1, sizeof *e);
    (void)input;
    if (!e)
        return TENON_ENOMEM;
    e->host = host;
    e->self = self;
    snprintf(e->mode, sizeof e->mode, "%s", tenon_arg(args, "mode")->str);
    *obj = e;
    return 0;
}

static void ev_destroy(void *obj) { free(obj); }

static const void *ev_get_interface(void *obj, const char *id)
{
    (void)obj;
    if (!strcmp(id, TENON_SOURCE_ID))
        return &source;
    if (!strcmp(id, TENON_EXTRACT_ID))
        return &extract;
    if (!strcmp(id, TENON_ASYNC_ID))
        return &async_;
    if (!strcmp(id, TENON_LISTEN_ID))
        return &listen_;
    if (!strcmp(id, TENON_METRICS_ID))
        return &metrics_;
    return NULL;
}

TENON_PLUGIN_ENTRY(ev_create, ev_destroy, ev_get_interface, NULL);
