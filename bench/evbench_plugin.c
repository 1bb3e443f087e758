/*
 * evbench - the source and extractor bench/pipeline measures.
 *
 * A source of minimal plugin events (type 322, a 32-byte payload of four
 * u64s) that costs next to nothing per event: at open it builds BATCH
 * records once, and each next_batch() hands out the same array again until
 * the count the open string asks for is reached. What the benchmark times
 * is therefore the pipeline (and the extraction), not the making of
 * events.
 *
 * Fields, from the payload of event k of a batch (k = 0..BATCH-1):
 *
 *     bench.v  (k * 7919) % 1000   a filter `bench.v < 100` matches 10%
 *     bench.a  k
 *     bench.b  (k * 31) % 1000
 *     bench.c  k / 8
 *
 * Open string: how many events ("" means the argument n).
 */
#include <tenon/event.h>
#include <tenon/plugin.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

TENON_PLUGIN_INFO("evbench", "1.0.0",
    TENON_DESCRIPTION("Minimal events and four u64 fields, for bench/pipeline")
    TENON_LICENSE("MIT")
    TENON_PROVIDES(TENON_SOURCE_ID)
    TENON_PROVIDES(TENON_EXTRACT_ID)
    TENON_ARG_INT_RANGE("n", "0", "1000000000000", "10000000",
                        "events per capture when the open string gives "
                        "none"));

#define BATCH    1024
#define NFIELDS  4
#define PAYLOAD  (NFIELDS * 8)
#define EVT_SIZE (TENON_EVENT_HEADER_SIZE + 8 + 4 + PAYLOAD)

struct evbench {
    const struct tenon_host *host;
    struct tenon_instance *self;
    uint64_t n;
    uint64_t *vals; /* one value per requested field of the current call */
    uint32_t nvals;
};

struct tenon_capture {
    uint64_t left;
    unsigned char buf[BATCH][EVT_SIZE];
    const struct tenon_event *evts[BATCH];
};

static const struct tenon_field fields[NFIELDS] = {
    {"bench.v", TENON_FIELD_U64, 0, "V", "(k * 7919) % 1000 for event k."},
    {"bench.a", TENON_FIELD_U64, 0, "A",
     "k, the event's place in its "
     "batch."},
    {"bench.b", TENON_FIELD_U64, 0, "B", "(k * 31) % 1000."},
    {"bench.c", TENON_FIELD_U64, 0, "C", "k / 8."},
};

static const char *bench_event_source(void *obj)
{
    (void)obj;
    return "evbench";
}

static int bench_open(void *obj, const char *params, struct tenon_capture **out)
{
    struct evbench *b = obj;
    struct tenon_capture *cap;
    uint64_t n = b->n;

    if (params && *params) {
        char *end;
        errno = 0;
        n = strtoull(params, &end, 10);
        if (errno || *end || params[0] < '0' || params[0] > '9') {
            b->host->set_error(b->self,
                               "open string '%s': expected a count "
                               "of events",
                               params);
            return TENON_EINVAL;
        }
    }
    if (!(cap = malloc(sizeof *cap)))
        return TENON_ENOMEM;
    cap->left = n;
    for (uint64_t k = 0; k < BATCH; k++) {
        uint64_t p[NFIELDS] = {(k * 7919) % 1000, k, (k * 31) % 1000, k / 8};
        tenon_event_plugin_write(cap->buf[k], 1700000000000000000ull + k, 0, p,
                                 PAYLOAD);
        cap->evts[k] = (const struct tenon_event *)cap->buf[k];
    }
    *out = cap;
    return 0;
}

static int bench_next_batch(void *obj, struct tenon_capture *cap, uint32_t *n,
                            const struct tenon_event *const **evts)
{
    (void)obj;
    if (cap->left == 0)
        return TENON_EEOF;
    *n = cap->left < BATCH ? (uint32_t)cap->left : BATCH;
    cap->left -= *n;
    *evts = cap->evts;
    return 0;
}

static void bench_close(void *obj, struct tenon_capture *cap)
{
    (void)obj;
    free(cap);
}

static const struct tenon_field *bench_fields(void *obj, uint32_t *n)
{
    (void)obj;
    *n = NFIELDS;
    return fields;
}

static int bench_extract(void *obj, const struct tenon_event_input *ev,
                         uint32_t n, struct tenon_extract_field *req)
{
    struct evbench *b = obj;
    struct tenon_bytes pl;

    if (n > b->nvals) {
        uint64_t *v = realloc(b->vals, n * sizeof *v);
        if (!v)
            return TENON_ENOMEM;
        b->vals = v;
        b->nvals = n;
    }
    if (tenon_event_payload(ev->evt, &pl) != 0 || pl.len != PAYLOAD) {
        for (uint32_t i = 0; i < n; i++)
            req[i].res_len = 0;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = req[i].field_id;
        if (id >= NFIELDS) {
            b->host->set_error(b->self, "no field with id %u", id);
            return TENON_EINVAL;
        }
        memcpy(&b->vals[i], (const unsigned char *)pl.ptr + id * 8, 8);
        req[i].res.u64 = &b->vals[i];
        req[i].res_len = 1;
    }
    return 0;
}

static const struct tenon_source_v1 source = {
    .struct_size = sizeof source,
    .event_source = bench_event_source,
    .open = bench_open,
    .next_batch = bench_next_batch,
    .close = bench_close,
};

static const struct tenon_extract_v1 extract = {
    .struct_size = sizeof extract,
    .fields = bench_fields,
    .extract = bench_extract,
};

static int bench_create(const struct tenon_host *host,
                        struct tenon_instance *self,
                        const struct tenon_args *args,
                        struct tenon_instance *input, void **obj)
{
    struct evbench *b = calloc(1, sizeof *b);
    (void)input;
    if (!b)
        return TENON_ENOMEM;
    b->host = host;
    b->self = self;
    b->n = (uint64_t)tenon_arg(args, "n")->i;
    *obj = b;
    return 0;
}

static void bench_destroy(void *obj)
{
    struct evbench *b = obj;
    free(b->vals);
    free(b);
}

static const void *bench_get_interface(void *obj, const char *id)
{
    (void)obj;
    if (strcmp(id, TENON_SOURCE_ID) == 0)
        return &source;
    return strcmp(id, TENON_EXTRACT_ID) == 0 ? &extract : NULL;
}

TENON_PLUGIN_ENTRY(bench_create, bench_destroy, bench_get_interface, NULL);
