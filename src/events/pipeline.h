/*
 * The pipeline's state, shared by pipeline.c (lifecycle and the run loop),
 * fields.c (field slots, extraction, built-in fields), output.c (text and
 * JSON), async.c (the queue async events wait in) and listen.c (the
 * routine threads). Not installed.
 */
#ifndef TENON_PIPELINE_H
#define TENON_PIPELINE_H

#include "events.h"

#include <pthread.h>
#include <stdatomic.h>

/* A bitmap of the event types (0..65535) a parser or extractor wants. */
#define TENON__TYPE_WORDS (65536 / 64)

/* Where an async instance's events come from: the `owner` it is given. */
struct tenon__async_owner {
    struct tenon_pipeline *pl;
    uint32_t member;
};

/* A listen instance's owner of its routines. */
struct tenon__listen_owner {
    struct tenon_pipeline *pl;
    uint32_t member;
};

/* One instance in the pipeline, with the capabilities it serves there. */
struct tenon__member {
    tenon_instance_t *inst;
    const char *name; /* its plugin's name */
    unsigned caps;    /* TENON_CAP_* */

    const struct tenon_extract_v1 *ext;
    void *ext_obj;
    /* ext->extract, loaded once: it is called for every event */
    int (*extract)(void *, const struct tenon_event_input *, uint32_t,
                   struct tenon_extract_field *);
    const struct tenon_field *fields;
    uint32_t nfields;
    /* TENON__TYPE_WORDS words; all zero when it does not want the
     * pipeline's source, so that one test says whether to call it */
    uint64_t *ext_types;
    uint64_t ext_calls; /* extract calls so far: a slot's results are good
                           until the next call on its member */

    const struct tenon_parse_v1 *parse;
    void *parse_obj;
    uint64_t *parse_types; /* as ext_types */

    const struct tenon_async_v1 *async;
    void *async_obj;
    const char *const *async_names;
    uint32_t nasync_names;
    struct tenon__async_owner async_owner;
    int async_started;

    const struct tenon_listen_v1 *listen;
    void *listen_obj;
    struct tenon__listen_owner listen_owner;
    int listen_opened;

    uint64_t calls, errors, time_ns; /* calls: next_batch and parse */
};

/* A field use, resolved: a built-in or one member's field with its
 * argument, and its values on the current event once asked for. */
struct tenon__slot {
    int builtin;     /* index into the built-ins, or -1 */
    uint32_t member; /* when not a built-in */
    char *text;      /* as written: "json.value[/a]" (JSON keys) */
    char *arg;       /* the argument; NULL without */
    struct tenon_extract_field req;
    /* The cache: good while evgen is the current event's number and (for a
     * member's field) calls is the member's ext_calls. */
    uint64_t evgen, calls;
    int rc;
    struct tenon__vals vals;
    /* Set at open, for tenon__pl_get_fast(): the member, and its bitmap
     * of wanted types when the slot may take the fast path (a member's
     * field, no timing), else NULL. */
    struct tenon__member *mp;
    const uint64_t *fast_types;
    /* This slot and the ones of the same member the filter asks for next
     * when it holds (tenon__filter_next()): extracted in one call. NULL
     * when it is alone. */
    uint32_t *batch;
    uint32_t nbatch;
    struct tenon_extract_field *breq; /* their requests, in that order */
    /* Storage for built-in values. */
    uint64_t u64;
    const char *str;
    char buf[48];
};

/* An async event waiting to join the stream. */
struct tenon__queued {
    uint32_t member;
    struct tenon_event *evt; /* malloc'd copy */
};

struct tenon__async_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled on push */
    struct tenon__queued *v;
    size_t n, cap;
    size_t bytes;
    atomic_size_t pending; /* n, readable without the lock */
    uint64_t refused;
    int closed; /* refuse pushes */
};

struct tenon__routines;

/* One piece of the output format: literal text, or a slot. */
struct tenon__piece {
    const char *text; /* into the format copy; NULL for a slot */
    size_t len;
    uint32_t slot;
};

struct tenon_pipeline {
    tenon_t *t;
    struct tenon__member *m; /* m[0] is the source */
    size_t nm, capm;
    const struct tenon_source_v1 *src;
    void *src_obj;
    const char *src_name; /* its event source name */
    struct tenon_capture *cap;
    int open;

    struct tenon__slot *slots;
    size_t nslots, capslots;
    uint32_t *htab; /* slot numbers + 1 by field and argument; 0 empty */
    size_t hcap;    /* a power of two, at least twice nslots */
    struct tenon__filter *filter;

    int out_kind;
    char *format;
    struct tenon__piece *pieces;
    size_t npieces;
    uint32_t *out_slots; /* JSON: the slots of the object, in order */
    size_t nout_slots;
    tenon_output_fn out_fn;
    void *out_ud;
    char *outbuf;
    size_t outlen, outcap;

    struct tenon__async_queue q;
    struct tenon__routines *routines;

    /* The current event; ev.evtnum tells one event's cached values from
     * the next's. */
    struct tenon_event_input ev;
    uint32_t ev_member; /* who emitted it */
    uint64_t ev_ts;     /* its time: the record's, or when it came in when
                           that is TENON_TS_NOW */
    /* The source's last batch, delivered up to bi, and the async events
     * taken from the queue, delivered up to aq_i: a run that stops in the
     * middle resumes there. */
    const struct tenon_event *const *bev;
    uint32_t bn, bi;
    struct tenon__queued *aq;
    size_t aq_n, aq_i;
    uint32_t *parsers; /* the members that parse, in order */
    size_t nparsers;

    atomic_int stop;
    int timing;
    struct tenon_pipeline_stats st;
    int warned_malformed;
};

/* ---- fields.c
 * ---------------------------------------------------------------- */

int tenon__pl_resolve(void *ud, const char *name, const char *arg,
                      struct tenon__field_use *out, char *why, size_t whylen);
int tenon__pl_get(void *ud, uint32_t slot, struct tenon__vals *out);
/* What tenon__pl_get_fast() leaves to a call: built-ins, an event the
 * member does not want, timing. */
int tenon__pl_get_slow(struct tenon_pipeline *pl, struct tenon__slot *s,
                       struct tenon__vals *out);
/* Take the values (or the failure) of an extraction into a slot. */
void tenon__pl_take_values(struct tenon_pipeline *pl, struct tenon__member *m,
                           struct tenon__slot *s,
                           const struct tenon_extract_field *req, int rc);
/* Extract every slot of `slots` not yet known for the current event, one
 * call per member. */
void tenon__pl_fetch(struct tenon_pipeline *pl, const uint32_t *slots,
                     size_t n);
/* Fill a member's bitmap of wanted types and whether it wants the source,
 * from its event_types()/event_sources() (either may be NULL);
 * `own_source` is the member's own event source name when it is a source
 * itself, else NULL. */
int tenon__pl_wants(struct tenon_pipeline *pl, const char *own_source,
                    const uint16_t *(*types)(void *, uint32_t *),
                    const char *const *(*sources)(void *, uint32_t *),
                    void *obj, uint64_t **bitmap);
void tenon__pl_slots_free(struct tenon_pipeline *pl);

static inline int tenon__type_wanted(const uint64_t *bits, uint16_t type)
{
    return (int)((bits[type >> 6] >> (type & 63)) & 1u);
}

/* tenon__pl_get(), inline where the pipeline evaluates its filter: the
 * values of a slot on the current event, from the cache or extracted now
 * (one field, one call). */
static inline __attribute__((always_inline)) int
tenon__pl_get_fast(void *ud, uint32_t slot, struct tenon__vals *out)
{
    struct tenon_pipeline *pl = (struct tenon_pipeline *)ud;
    struct tenon__slot *s = &pl->slots[slot];
    struct tenon__member *m = s->mp;
    uint64_t len;
    int rc;

    if (s->evgen == pl->ev.evtnum &&
        (s->builtin >= 0 || s->calls == m->ext_calls)) {
        *out = s->vals;
        return s->rc;
    }
    if (!s->fast_types || s->batch ||
        !tenon__type_wanted(s->fast_types, pl->ev.evt->type))
        return tenon__pl_get_slow(pl, s, out);
    s->req.res_len = 0;
    rc = m->extract(m->ext_obj, &pl->ev, 1, &s->req);
    s->evgen = pl->ev.evtnum;
    s->calls = ++m->ext_calls;
    len = s->req.res_len;
    if (__builtin_expect((rc < 0) | (len > UINT32_MAX) |
                             ((len != 0) & (s->req.res.u64 == NULL)),
                         0)) {
        if (rc < 0)
            m->errors++, pl->st.errors++;
        tenon__pl_take_values(pl, m, s, &s->req, rc);
        *out = s->vals;
        return s->rc;
    }
    /* out from the values themselves, not copied back from s->vals just
     * written: a 16-byte load of two fresh smaller stores stalls the CPU
     * (store forwarding fails), which cost more than all the rest */
    out->type = s->vals.type;
    out->count = s->vals.count = (uint32_t)len;
    out->v = s->vals.v = s->req.res;
    s->rc = 0;
    return 0;
}

/* ---- output.c
 * ----------------------------------------------------------------- */

int tenon__pl_output_compile(struct tenon_pipeline *pl, const char *format,
                             size_t *column);
/* Render the current event into pl->outbuf; 0 or TENON_ENOMEM. */
int tenon__pl_render(struct tenon_pipeline *pl);
void tenon__pl_output_free(struct tenon_pipeline *pl);

/* ---- async.c
 * --------------------------------------------------------------------- */

void tenon__async_init(struct tenon__async_queue *q);
void tenon__async_destroy(struct tenon__async_queue *q);
/* The handler given to async instances (tenon_async_handler_fn). */
int tenon__async_handler(void *owner, const struct tenon_event *evt, char *err);
/* Take everything queued (the caller frees each evt and the array). */
struct tenon__queued *tenon__async_take(struct tenon__async_queue *q,
                                        size_t *n);
/* Wait up to `ms` for something to be queued. */
void tenon__async_wait(struct tenon__async_queue *q, unsigned ms);
int tenon__async_start(struct tenon_pipeline *pl);
void tenon__async_stop(struct tenon_pipeline *pl);

/* ---- listen.c
 * ---------------------------------------------------------------------- */

int tenon__listen_open(struct tenon_pipeline *pl);
void tenon__listen_close(struct tenon_pipeline *pl);

/* Checks a record a plugin handed over: its length covers its header and
 * parameters. */
int tenon__event_valid(const struct tenon_event *evt, uint64_t max);

/* The check of every record a source hands over, cheap enough for each:
 * the length covers the header and the parameter lengths. (Parameters are
 * read by plugins, through bounds-checked tenon_event_param(); the host
 * reads only the header.) */
static inline int tenon__event_header_ok(const struct tenon_event *evt)
{
    return evt && evt->len >= TENON_EVENT_HEADER_SIZE &&
           evt->nparams <= (evt->len - TENON_EVENT_HEADER_SIZE) / 4;
}

#endif /* TENON_PIPELINE_H */
