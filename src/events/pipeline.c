/*
 * The event pipeline: a source's batches, and the async events waiting in
 * the queue, become one stream; each event is numbered, parsed by the
 * members that want it (once, in order), tested against the filter (which
 * extracts lazily) and, when it matches, written by the output.
 */
#include "pipeline.h"

#include "filter_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_realtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int provides(tenon_instance_t *inst, const char *id)
{
    const tenon_plugin_t *p = tenon_instance_plugin(inst);
    for (size_t i = 0; i < tenon_plugin_provides_count(p); i++)
        if (strcmp(tenon_plugin_provides(p, i), id) == 0)
            return 1;
    return 0;
}

/* A vtable of `id` that covers `min` bytes, or NULL. */
static const void *iface(tenon_instance_t *inst, const char *id, size_t min,
                         void **obj)
{
    const uint32_t *vt;
    if (!provides(inst, id))
        return NULL;
    vt = tenon_get_interface(inst, id, obj);
    return vt && *vt >= min ? vt : NULL;
}

#define COVERS(type, member) (offsetof(type, member) + sizeof(void *))

static void member_free(struct tenon__member *m)
{
    free(m->ext_types);
    free(m->parse_types);
    tenon_destroy(m->inst);
}

/* Fill `m` for `inst`: its capabilities and what each wants. */
static int member_init(struct tenon_pipeline *pl, struct tenon__member *m,
                       tenon_instance_t *inst, int is_source)
{
    const char *name = tenon_plugin_name(tenon_instance_plugin(inst));
    const char *own = NULL;
    const struct tenon_source_v1 *src;
    void *obj;
    int rc;

    memset(m, 0, sizeof *m);
    m->inst = inst;
    m->name = name;
    if (is_source)
        m->caps |= TENON_CAP_SOURCE;
    src = iface(inst, TENON_SOURCE_ID, COVERS(struct tenon_source_v1, close),
                &obj);
    if (src && src->event_source)
        own = src->event_source(obj);
    m->ext = iface(inst, TENON_EXTRACT_ID,
                   COVERS(struct tenon_extract_v1, extract), &m->ext_obj);
    if (m->ext) {
        m->fields = m->ext->fields(m->ext_obj, &m->nfields);
        if (!m->fields)
            m->nfields = 0;
        m->caps |= TENON_CAP_EXTRACT;
        if ((rc = tenon__pl_wants(
                 pl, own,
                 m->ext->struct_size >=
                         COVERS(struct tenon_extract_v1, event_types)
                     ? m->ext->event_types
                     : NULL,
                 m->ext->struct_size >=
                         COVERS(struct tenon_extract_v1, event_sources)
                     ? m->ext->event_sources
                     : NULL,
                 m->ext_obj, &m->ext_types)))
            return rc;
        m->extract = m->ext->extract;
    }
    m->parse =
        iface(inst, TENON_PARSE_ID,
              COVERS(struct tenon_parse_v1, event_sources), &m->parse_obj);
    if (m->parse) {
        m->caps |= TENON_CAP_PARSE;
        if ((rc = tenon__pl_wants(pl, own, m->parse->event_types,
                                  m->parse->event_sources, m->parse_obj,
                                  &m->parse_types)))
            return rc;
    }
    m->async = iface(inst, TENON_ASYNC_ID,
                     COVERS(struct tenon_async_v1, set_handler), &m->async_obj);
    if (m->async) {
        m->async_names = m->async->names(m->async_obj, &m->nasync_names);
        if (!m->async_names)
            m->nasync_names = 0;
        m->caps |= TENON_CAP_ASYNC;
    }
    m->listen =
        iface(inst, TENON_LISTEN_ID,
              COVERS(struct tenon_listen_v1, capture_close), &m->listen_obj);
    if (m->listen)
        m->caps |= TENON_CAP_LISTEN;
    return 0;
}

/* Take a reference to `inst` for the pipeline: a chain's instances are
 * refcounted, and the caller may destroy its own. */
static void hold(tenon_instance_t *inst) { atomic_fetch_add(&inst->refs, 1); }

static int add_member(struct tenon_pipeline *pl, tenon_instance_t *inst,
                      int is_source)
{
    struct tenon__member *m;
    int rc;
    if (tenon__grow(&pl->m, &pl->capm, pl->nm + 1, sizeof *pl->m))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    m = &pl->m[pl->nm];
    hold(inst);
    if ((rc = member_init(pl, m, inst, is_source))) {
        member_free(m);
        return rc;
    }
    pl->nm++;
    return 0;
}

int tenon_pipeline_new(tenon_t *t, tenon_instance_t *source,
                       tenon_pipeline_t **out)
{
    struct tenon_pipeline *pl;
    void *obj;
    const struct tenon_source_v1 *src;
    int rc;

    *out = NULL;
    if (!source)
        return tenon__fail(TENON_EINVAL, "a pipeline needs a source instance");
    src = iface(source, TENON_SOURCE_ID, COVERS(struct tenon_source_v1, close),
                &obj);
    if (!src || !src->event_source || !src->open || !src->next_batch ||
        !src->close)
        return tenon__fail(TENON_EINVAL,
                           "plugin '%s' is not an event source: it does not "
                           "provide %s",
                           tenon_plugin_name(tenon_instance_plugin(source)),
                           TENON_SOURCE_ID);
    if (!(pl = calloc(1, sizeof *pl)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    pl->t = t;
    pl->src = src;
    pl->src_obj = obj;
    pl->src_name = src->event_source(obj);
    if (!pl->src_name || !*pl->src_name)
        pl->src_name = tenon_plugin_name(tenon_instance_plugin(source));
    tenon__async_init(&pl->q);
    atomic_init(&pl->stop, 0);
    pl->st.struct_size = sizeof pl->st;
    if ((rc = add_member(pl, source, 1))) {
        tenon_pipeline_free(pl);
        return rc;
    }
    *out = pl;
    return 0;
}

int tenon_pipeline_add(tenon_pipeline_t *pl, tenon_instance_t *inst)
{
    int rc;
    if (!inst)
        return tenon__fail(TENON_EINVAL, "no instance given");
    if (pl->open)
        return tenon__fail(TENON_EBUSY,
                           "the pipeline is open: add plugins before opening");
    if ((rc = add_member(pl, inst, 0)))
        return rc;
    if (!(pl->m[pl->nm - 1].caps & (TENON_CAP_EXTRACT | TENON_CAP_PARSE |
                                    TENON_CAP_ASYNC | TENON_CAP_LISTEN))) {
        const char *name = pl->m[pl->nm - 1].name;
        member_free(&pl->m[--pl->nm]);
        return tenon__fail(TENON_EINVAL,
                           "plugin '%s' has nothing to do in a pipeline: it "
                           "provides none of tenon.extract/1, tenon.parse/1, "
                           "tenon.async/1, tenon.listen/1",
                           name);
    }
    return 0;
}

int tenon_pipeline_filter(tenon_pipeline_t *pl, const char *expr,
                          size_t *column)
{
    char err[TENON__REASON_MAX];
    size_t col = 0;
    int rc;
    if (pl->open)
        return tenon__fail(TENON_EBUSY, "the pipeline is open");
    tenon__filter_free(pl->filter);
    pl->filter = NULL;
    if (!expr || !expr[strspn(expr, " \t\r\n")])
        return 0; /* nothing but blanks: every event, like no filter */
    rc = tenon__filter_compile(expr, tenon__pl_resolve, pl, &pl->filter, &col,
                               err, sizeof err);
    if (column)
        *column = col;
    if (rc)
        return tenon__fail(rc, "%s", err);
    return 0;
}

int tenon_pipeline_output(tenon_pipeline_t *pl, int kind, const char *format,
                          size_t *column, tenon_output_fn fn, void *ud)
{
    if (pl->open)
        return tenon__fail(TENON_EBUSY, "the pipeline is open");
    if (kind != TENON_OUTPUT_TEXT && kind != TENON_OUTPUT_JSON)
        return tenon__fail(TENON_EINVAL, "unknown output kind %d", kind);
    pl->out_kind = kind;
    pl->out_fn = fn;
    pl->out_ud = ud;
    return tenon__pl_output_compile(pl, format, column);
}

void tenon_pipeline_timing(tenon_pipeline_t *pl, int on) { pl->timing = on; }

/* The slots the output fetches: the format's, and for JSON evt.num,
 * evt.time and the filter's too. */
static int output_slots(struct tenon_pipeline *pl)
{
    size_t cap = 0, nf = 0;
    const uint32_t *fs = NULL;
    char why[TENON__REASON_MAX];
    struct tenon__field_use use;

    free(pl->out_slots);
    pl->out_slots = NULL;
    pl->nout_slots = 0;
    if (!pl->out_fn)
        return 0;
    if (pl->out_kind == TENON_OUTPUT_TEXT && !pl->format &&
        tenon__pl_output_compile(pl, NULL, NULL))
        return TENON_ENOMEM;
    if (pl->out_kind == TENON_OUTPUT_JSON && pl->filter)
        nf = tenon__filter_slots(pl->filter, &fs);
    for (size_t i = 0; i < 2 + pl->npieces + nf; i++) {
        uint32_t slot;
        int dup = 0;
        if (i < 2) {
            if (pl->out_kind != TENON_OUTPUT_JSON)
                continue;
            if (tenon__pl_resolve(pl, i ? "evt.time" : "evt.num", NULL, &use,
                                  why, sizeof why))
                return TENON_ENOMEM;
            slot = use.slot;
        } else if (i < 2 + pl->npieces) {
            if (pl->pieces[i - 2].text)
                continue;
            slot = pl->pieces[i - 2].slot;
        } else {
            slot = fs[i - 2 - pl->npieces];
        }
        for (size_t k = 0; k < pl->nout_slots; k++)
            dup |= pl->out_slots[k] == slot;
        if (dup)
            continue;
        if (tenon__grow(&pl->out_slots, &cap, pl->nout_slots + 1,
                        sizeof *pl->out_slots))
            return TENON_ENOMEM;
        pl->out_slots[pl->nout_slots++] = slot;
    }
    return 0;
}

/* The slots of the same member the filter asks for after `slot` when it
 * holds: extracting them in the call that extracts `slot` costs one call
 * instead of one each (an `and` of fields of one plugin). */
static int batch_of(struct tenon_pipeline *pl, struct tenon__slot *s,
                    uint32_t slot)
{
    uint32_t next[16], keep[17];
    size_t n, k = 0;

    free(s->batch);
    free(s->breq);
    s->batch = NULL;
    s->breq = NULL;
    s->nbatch = 0;
    if (s->builtin >= 0 || !pl->filter)
        return 0;
    n = tenon__filter_next(pl->filter, slot, next, 16);
    keep[k++] = slot;
    for (size_t i = 0; i < n; i++)
        if (pl->slots[next[i]].builtin < 0 &&
            pl->slots[next[i]].member == s->member)
            keep[k++] = next[i];
    if (k == 1)
        return 0;
    if (!(s->batch = malloc(k * sizeof *s->batch)) ||
        !(s->breq = malloc(k * sizeof *s->breq)))
        return TENON_ENOMEM;
    memcpy(s->batch, keep, k * sizeof *keep);
    for (size_t i = 0; i < k; i++)
        s->breq[i] = pl->slots[keep[i]].req;
    s->nbatch = (uint32_t)k;
    return 0;
}

int tenon_pipeline_open(tenon_pipeline_t *pl, const char *params)
{
    int rc;
    if (pl->open)
        return tenon__fail(TENON_EBUSY, "the pipeline is already open");
    if (output_slots(pl))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    for (size_t i = 0; i < pl->nslots; i++) {
        struct tenon__slot *s = &pl->slots[i];
        s->mp = &pl->m[s->member];
        s->fast_types = s->builtin < 0 && !pl->timing ? s->mp->ext_types : NULL;
        if (batch_of(pl, s, (uint32_t)i))
            return tenon__fail(TENON_ENOMEM, "out of memory");
    }
    free(pl->parsers);
    pl->nparsers = 0;
    if (!(pl->parsers = malloc(pl->nm * sizeof *pl->parsers)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    for (size_t i = 0; i < pl->nm; i++)
        if (pl->m[i].parse)
            pl->parsers[pl->nparsers++] = (uint32_t)i;
    pl->cap = NULL;
    if ((rc = pl->src->open(pl->src_obj, params ? params : "", &pl->cap))) {
        const char *why = tenon_instance_error(pl->m[0].inst);
        return tenon__fail(
            rc < 0 && rc >= TENON_ERROR_MIN ? rc : TENON_EPLUGIN,
            "source '%s' failed to open%s%s%s: %s", pl->m[0].name,
            params && *params ? " '" : "", params && *params ? params : "",
            params && *params ? "'" : "", why[0] ? why : "no message");
    }
    pl->open = 1;
    if ((rc = tenon__listen_open(pl)) || (rc = tenon__async_start(pl))) {
        char why[TENON__REASON_MAX];
        snprintf(why, sizeof why, "%s", tenon_last_error());
        tenon_pipeline_close(pl);
        return tenon__fail(rc, "%s", why);
    }
    return 0;
}

void tenon_pipeline_close(tenon_pipeline_t *pl)
{
    size_t n;
    struct tenon__queued *q;
    if (!pl || !pl->open)
        return;
    tenon__async_stop(pl);
    pthread_mutex_lock(&pl->q.lock);
    pl->q.closed = 1;
    pthread_mutex_unlock(&pl->q.lock);
    /* what was emitted and never delivered goes with the capture */
    q = tenon__async_take(&pl->q, &n);
    for (size_t i = 0; i < n; i++)
        free(q[i].evt);
    free(q);
    for (size_t i = pl->aq_i; i < pl->aq_n; i++)
        free(pl->aq[i].evt);
    free(pl->aq);
    pl->aq = NULL;
    pl->aq_i = pl->aq_n = 0;
    pl->bev = NULL;
    pl->bi = pl->bn = 0;
    tenon__listen_close(pl);
    pl->src->close(pl->src_obj, pl->cap);
    pl->cap = NULL;
    pl->open = 0;
}

void tenon_pipeline_free(tenon_pipeline_t *pl)
{
    if (!pl)
        return;
    tenon_pipeline_close(pl);
    tenon__filter_free(pl->filter);
    tenon__pl_output_free(pl);
    tenon__pl_slots_free(pl);
    free(pl->out_slots);
    free(pl->parsers);
    free(pl->outbuf);
    tenon__async_destroy(&pl->q);
    for (size_t i = 0; i < pl->nm; i++)
        member_free(&pl->m[i]);
    free(pl->m);
    free(pl);
}

void tenon_pipeline_stop(tenon_pipeline_t *pl)
{
    atomic_store_explicit(&pl->stop, 1, memory_order_relaxed);
}

double tenon_pipeline_progress(tenon_pipeline_t *pl, const char **text)
{
    const char *t = NULL;
    double f = -1;
    if (text)
        *text = NULL;
    if (!pl->open ||
        pl->src->struct_size < COVERS(struct tenon_source_v1, progress) ||
        !pl->src->progress)
        return -1;
    f = pl->src->progress(pl->src_obj, pl->cap, &t);
    if (text)
        *text = t;
    return f != f ? -1 : f > 1 ? 1 : f;
}

/* ---- the run loop
 * ------------------------------------------------------------- */

/* The parsers that want the current event, in order. */
static void parse_event(struct tenon_pipeline *pl)
{
    for (size_t k = 0; k < pl->nparsers; k++) {
        struct tenon__member *m = &pl->m[pl->parsers[k]];
        uint64_t t0 = 0;
        int rc;
        if (!tenon__type_wanted(m->parse_types, pl->ev.evt->type))
            continue;
        if (pl->timing)
            t0 = now_ns();
        rc = m->parse->parse(m->parse_obj, &pl->ev);
        if (pl->timing)
            m->time_ns += now_ns() - t0;
        m->calls++;
        if (rc < 0)
            m->errors++, pl->st.errors++;
    }
}

/* One event through parse, filter and output; nonzero stops the run.
 * Inline in the batch loop: a call per event, with the registers it
 * saves, is a good part of what a one-field filter costs. */
static inline __attribute__((always_inline)) int
deliver(struct tenon_pipeline *pl, const struct tenon_event *evt,
        uint32_t member)
{
    pl->ev.evt = evt;
    pl->ev.evtnum = ++pl->st.read; /* also what tells cached values apart */
    pl->ev_ts = evt->ts;
    if (__builtin_expect(evt->ts == TENON_TS_NOW, 0))
        pl->ev_ts = now_realtime(); /* the record is the source's, const */
    pl->ev_member = member;
    if (pl->nparsers)
        parse_event(pl);
    if (pl->filter && !tenon__filter_run(pl->filter, tenon__pl_get_fast, pl))
        return 0;
    pl->st.matched++;
    if (!pl->out_fn)
        return 0;
    if (tenon__pl_render(pl))
        return tenon__fail(TENON_ENOMEM, "out of memory writing the output");
    return pl->out_fn(pl->out_ud, &pl->ev, pl->outbuf, pl->outlen);
}

/* Deliver what async members emitted since the last look. */
static int drain_async(struct tenon_pipeline *pl, uint64_t max)
{
    int rc = 0;
    if (pl->aq_i == pl->aq_n) { /* the last take is all delivered */
        free(pl->aq);
        pl->aq = tenon__async_take(&pl->q, &pl->aq_n);
        pl->aq_i = 0;
    }
    /* what is not delivered now (max, a stop) waits for the next run */
    while (pl->aq_i < pl->aq_n && rc == 0) {
        struct tenon__queued *q = &pl->aq[pl->aq_i];
        if (max && pl->st.read >= max)
            break;
        pl->st.async++;
        pl->aq_i++;
        rc = deliver(pl, q->evt, q->member);
        free(q->evt);
        q->evt = NULL;
    }
    return rc;
}

static int source_failed(struct tenon_pipeline *pl, int rc)
{
    const char *why = tenon_instance_error(pl->m[0].inst);
    return tenon__fail(rc >= TENON_ERROR_MIN ? rc : TENON_EPLUGIN,
                       "source '%s' failed: %s", pl->m[0].name,
                       why[0] ? why : tenon_strerror(rc));
}

/* A record the source handed over that does not hold together: dropped,
 * said once. */
static __attribute__((noinline)) void malformed(struct tenon_pipeline *pl,
                                                uint64_t len)
{
    pl->st.dropped++;
    if (!pl->warned_malformed++)
        tenon__log(pl->t, TENON_LOG_WARN, pl->m[0].name,
                   "dropped a malformed event record (length %llu does not "
                   "cover its header and parameter lengths); later ones are "
                   "only counted",
                   (unsigned long long)len);
}

/* Deliver what is left of the source's last batch, up to `max` events in
 * all: a run that stops in the middle (max, the output, a stop) resumes
 * there, since the records stay the source's until it is called again. */
static int rest_of_batch(struct tenon_pipeline *pl, uint64_t max)
{
    const struct tenon_event *const *evts = pl->bev;
    uint32_t n = pl->bn, i = pl->bi;
    int rc = 0;
    if (max && n - i > max - pl->st.read)
        n = i + (uint32_t)(max - pl->st.read);
    while (i < n && rc == 0) {
        const struct tenon_event *e = evts[i++];
        if (!tenon__event_header_ok(e))
            malformed(pl, e ? e->len : 0);
        else
            rc = deliver(pl, e, 0);
    }
    pl->bi = i;
    return rc;
}

/* One batch from the source (or the rest of the last); 1 at its end. */
static int one_batch(struct tenon_pipeline *pl, uint64_t max)
{
    const struct tenon_event *const *evts = NULL;
    struct tenon__member *s = &pl->m[0];
    uint32_t n = 0;
    uint64_t t0 = 0;
    int rc;

    if (pl->bi < pl->bn)
        return rest_of_batch(pl, max);
    if (pl->timing)
        t0 = now_ns();
    rc = pl->src->next_batch(pl->src_obj, pl->cap, &n, &evts);
    if (pl->timing)
        s->time_ns += now_ns() - t0;
    s->calls++;
    if (rc == TENON_EEOF)
        return 1;
    if (rc == TENON_EAGAIN) {
        tenon__async_wait(&pl->q, 5);
        return 0;
    }
    if (rc < 0) {
        s->errors++;
        return source_failed(pl, rc);
    }
    if (n && !evts) {
        s->errors++;
        return tenon__fail(TENON_EPLUGIN,
                           "source '%s' returned %u events and no array",
                           s->name, n);
    }
    pl->bev = evts;
    pl->bn = n;
    pl->bi = 0;
    return rest_of_batch(pl, max);
}

int tenon_pipeline_run(tenon_pipeline_t *pl, uint64_t max, tenon_tick_fn tick,
                       void *ud)
{
    uint64_t start = now_ns(), next_tick = start + 100000000u;
    int rc = 0;

    if (!pl->open)
        return tenon__fail(TENON_EINVAL, "the pipeline is not open");
    pl->ev.evtsrc = pl->src_name;
    atomic_store(&pl->stop, 0);
    for (;;) {
        if (atomic_load_explicit(&pl->stop, memory_order_relaxed)) {
            rc = TENON_EAGAIN;
            break;
        }
        if (max && pl->st.read >= max)
            break;
        rc = one_batch(pl, max);
        if (rc == 0 &&
            atomic_load_explicit(&pl->q.pending, memory_order_acquire))
            rc = drain_async(pl, max);
        if (rc == 1) { /* the end: what async members sent before counts */
            tenon__async_stop(pl);
            rc = drain_async(pl, max);
            break;
        }
        if (rc)
            break;
        if (tick) {
            uint64_t now = now_ns();
            if (now >= next_tick) {
                next_tick = now + 100000000u;
                if ((rc = tick(ud, pl)))
                    break;
            }
        }
    }
    pl->st.elapsed_ns += now_ns() - start;
    return rc;
}

int tenon_pipeline_stats(const tenon_pipeline_t *pl,
                         struct tenon_pipeline_stats *out)
{
    uint32_t size = out->struct_size;
    struct tenon_pipeline_stats st = pl->st;
    pthread_mutex_lock((pthread_mutex_t *)&pl->q.lock);
    st.dropped += pl->q.refused;
    pthread_mutex_unlock((pthread_mutex_t *)&pl->q.lock);
    if (size < sizeof(uint32_t))
        return tenon__fail(TENON_EINVAL, "struct_size not set");
    if (size > sizeof st)
        size = sizeof st;
    memcpy(out, &st, size);
    out->struct_size = size;
    return 0;
}

size_t tenon_pipeline_plugin_count(const tenon_pipeline_t *pl)
{
    return pl->nm;
}

int tenon_pipeline_plugin_stats(const tenon_pipeline_t *pl, size_t i,
                                struct tenon_pipeline_plugin_stats *out)
{
    struct tenon_pipeline_plugin_stats st;
    uint32_t size = out->struct_size;
    if (i >= pl->nm)
        return tenon__fail(TENON_ERANGE, "no plugin %zu in the pipeline", i);
    if (size < sizeof(uint32_t))
        return tenon__fail(TENON_EINVAL, "struct_size not set");
    st.struct_size = sizeof st;
    st.inst = pl->m[i].inst;
    st.caps = pl->m[i].caps;
    st.calls = pl->m[i].calls + pl->m[i].ext_calls;
    st.errors = pl->m[i].errors;
    st.time_ns = pl->m[i].time_ns;
    if (size > sizeof st)
        size = sizeof st;
    memcpy(out, &st, size);
    out->struct_size = size;
    return 0;
}
