/*
 * counter - the example event source of docs/events.md.
 *
 * It emits `n` plugin events (type 322) whose payload is one u64 in host
 * byte order: the values start, start+1, ..., start+n-1, where `start` is
 * the open string ("" means 0). It reports its progress, so `tenon run`
 * draws a bar on a terminal.
 *
 *     tenon run --plugin-path build/examples -s counter:n=5 --open 100
 *
 * What it shows: the records live in a buffer the capture owns and stay
 * valid until the next call, the batch is an array of pointers into it,
 * and every failure leaves a message with set_error().
 */
#include <tenon/event.h>
#include <tenon/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

TENON_PLUGIN_INFO("counter", "1.0.0",
    TENON_DESCRIPTION("Counts: one event per number, the number as payload")
    TENON_LICENSE("MIT")
    TENON_PROVIDES(TENON_SOURCE_ID)
    TENON_HELP("The example source of the Tenon events guide.\n"
               "Open string: the first number (default 0).")
    TENON_ARG_INT_RANGE("n", "0", "1000000000000", "10",
                        "how many events to emit"));

/* Events per next_batch(): enough to amortise the call, few enough that a
 * batch stays in the cache. */
#define BATCH 64

/* Every event has the same size: the header, two parameter lengths, the
 * plugin id and the 8-byte payload. */
#define EVENT_SIZE (TENON_EVENT_HEADER_SIZE + 8 + 4 + 8)

struct counter {
    const struct tenon_host *host;
    struct tenon_instance *self;
    uint64_t n;
};

/* One capture: where the count stands, and the batch the host reads. */
struct tenon_capture {
    uint64_t start, next, end;
    char text[64]; /* progress() describes the capture here */
    unsigned char buf[BATCH][EVENT_SIZE];
    const struct tenon_event *evts[BATCH];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC); /* C11, unlike clock_gettime() */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *counter_event_source(void *obj)
{
    (void)obj;
    return "counter"; /* what evt.source shows, and extractors ask for */
}

static int counter_open(void *obj, const char *params,
                        struct tenon_capture **out)
{
    struct counter *c = obj;
    struct tenon_capture *cap;
    uint64_t start = 0;

    /* The open string comes from the user: parse it strictly. */
    if (params && *params) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(params, &end, 10);
        if (errno || *end || params[0] < '0' || params[0] > '9' ||
            v > UINT64_MAX - c->n) {
            c->host->set_error(c->self,
                               "open string '%s': expected the first "
                               "number, a decimal integer below %llu",
                               params, (unsigned long long)(UINT64_MAX - c->n));
            return TENON_EINVAL;
        }
        start = v;
    }
    if (!(cap = calloc(1, sizeof *cap))) {
        c->host->set_error(c->self, "out of memory");
        return TENON_ENOMEM;
    }
    cap->start = cap->next = start;
    cap->end = start + c->n;
    /* The pointers never change: only the records they point at do. */
    for (int i = 0; i < BATCH; i++)
        cap->evts[i] = (const struct tenon_event *)cap->buf[i];
    *out = cap;
    return 0;
}

static int counter_next_batch(void *obj, struct tenon_capture *cap, uint32_t *n,
                              const struct tenon_event *const **evts)
{
    uint64_t ts = now_ns();
    uint32_t k = 0;
    (void)obj;

    if (cap->next == cap->end)
        return TENON_EEOF;
    for (; k < BATCH && cap->next < cap->end; k++, cap->next++)
        tenon_event_plugin_write(cap->buf[k], ts, 0, &cap->next, 8);
    *n = k;
    *evts = cap->evts;
    return 0;
}

static void counter_close(void *obj, struct tenon_capture *cap)
{
    (void)obj;
    free(cap);
}

static double counter_progress(void *obj, struct tenon_capture *cap,
                               const char **text)
{
    uint64_t done = cap->next - cap->start, all = cap->end - cap->start;
    (void)obj;
    snprintf(cap->text, sizeof cap->text, "%llu of %llu numbers",
             (unsigned long long)done, (unsigned long long)all);
    *text = cap->text;
    return all ? (double)done / (double)all : 1.0;
}

static const struct tenon_source_v1 source = {
    .struct_size = sizeof source,
    .plugin_id = 0, /* not registered with Falco */
    .event_source = counter_event_source,
    .open = counter_open,
    .next_batch = counter_next_batch,
    .close = counter_close,
    .progress = counter_progress,
};

static int counter_create(const struct tenon_host *host,
                          struct tenon_instance *self,
                          const struct tenon_args *args,
                          struct tenon_instance *input, void **obj)
{
    struct counter *c;
    int64_t n = tenon_arg(args, "n")->i;
    (void)input;
    /* The host checks the declared range, unless it predates arg.min and
     * arg.max: check anyway. */
    if (n < 0) {
        host->set_error(self, "n=%lld: expected 0 or more events",
                        (long long)n);
        return TENON_ERANGE;
    }
    if (!(c = calloc(1, sizeof *c)))
        return TENON_ENOMEM;
    c->host = host;
    c->self = self;
    c->n = (uint64_t)n;
    *obj = c;
    return 0;
}

static void counter_destroy(void *obj) { free(obj); }

static const void *counter_get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_SOURCE_ID) == 0 ? &source : NULL;
}

TENON_PLUGIN_ENTRY(counter_create, counter_destroy, counter_get_interface,
                   NULL);
