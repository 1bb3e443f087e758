/*
 * Async events: plugins emit them from their own threads through the
 * handler below, which checks and copies each record into a queue; the
 * pipeline's thread takes the queue between batches and delivers its
 * events in the stream. Nothing is lost unless memory runs out or the
 * queue reaches its cap (then the emitter is told, and it is counted).
 */
#include "pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Past these, an emitter outrunning the pipeline is refused rather than
 * allowed to take all memory. */
#define QUEUE_MAX_EVENTS (4u << 20)
#define QUEUE_MAX_BYTES  (1ull << 30)
#define EVENT_MAX        (64u << 20)

void tenon__async_init(struct tenon__async_queue *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    atomic_init(&q->pending, 0);
}

void tenon__async_destroy(struct tenon__async_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->v[i].evt);
    free(q->v);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

int tenon__event_valid(const struct tenon_event *evt, uint64_t max)
{
    const unsigned char *b = (const unsigned char *)evt;
    uint64_t sum = 0;
    uint32_t l;
    if (!evt || evt->len < TENON_EVENT_HEADER_SIZE || evt->len > max ||
        evt->nparams > (evt->len - TENON_EVENT_HEADER_SIZE) / 4)
        return 0;
    for (uint32_t i = 0; i < evt->nparams; i++) {
        memcpy(&l, b + TENON_EVENT_HEADER_SIZE + 4 * i, 4);
        sum += l;
    }
    return sum <= evt->len - TENON_EVENT_HEADER_SIZE - 4ull * evt->nparams;
}

/* Is the async record `evt` one that member `m` may emit? */
static int check_async(const struct tenon__member *m,
                       const struct tenon_event *evt, char *err)
{
    struct tenon_bytes name;
    if (!tenon__event_valid(evt, EVENT_MAX)) {
        snprintf(err, 256,
                 "malformed record: its length does not cover its "
                 "header and parameters (or exceeds 64 MiB)");
        return TENON_EINVAL;
    }
    if (evt->type != TENON_EVENT_ASYNC || evt->nparams != 3 ||
        tenon_event_param(evt, evt->len, 1, &name) || name.len == 0 ||
        ((const char *)name.ptr)[name.len - 1] != '\0') {
        snprintf(err, 256,
                 "not an async event: expected type %u with 3 parameters "
                 "(plugin_id, name with its NUL, data), got type %u with %u",
                 TENON_EVENT_ASYNC, evt->type, evt->nparams);
        return TENON_EINVAL;
    }
    for (uint32_t i = 0; i < m->nasync_names; i++)
        if (m->async_names[i] && strcmp(m->async_names[i], name.ptr) == 0)
            return 0;
    snprintf(err, 256,
             "async event name '%.64s' is not one that plugin '%s' "
             "declares",
             (const char *)name.ptr, m->name);
    return TENON_EINVAL;
}

int tenon__async_handler(void *owner, const struct tenon_event *evt, char *err)
{
    struct tenon__async_owner *o = owner;
    struct tenon_pipeline *pl = o->pl;
    struct tenon__async_queue *q = &pl->q;
    struct tenon_event *copy;
    char sink[256];
    int rc;

    if (!err)
        err = sink;
    err[0] = '\0';
    tenon_instance_t *inst = pl->m[o->member].inst;
    if (!tenon__perm_has(inst, TENON__P_EVENT)) {
        rc = tenon__perm_refuse(inst, TENON__P_EVENT, "emitting an event");
        snprintf(err, 256, "plugin '%s' lacks permission 'event'",
                 pl->m[o->member].name);
        goto refused;
    }
    if ((rc = check_async(&pl->m[o->member], evt, err)))
        goto refused;
    if (!(copy = malloc(evt->len))) {
        snprintf(err, 256, "out of memory");
        rc = TENON_ENOMEM;
        goto refused;
    }
    memcpy(copy, evt, evt->len);
    if (copy->ts == TENON_TS_NOW) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        copy->ts = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        snprintf(err, 256, "the capture is closed");
        rc = TENON_EINVAL;
    } else if (q->n >= QUEUE_MAX_EVENTS ||
               q->bytes + copy->len > QUEUE_MAX_BYTES) {
        snprintf(err, 256, "queue full: the pipeline is %zu events behind",
                 q->n);
        rc = TENON_EBUSY;
    } else if (tenon__grow(&q->v, &q->cap, q->n + 1, sizeof *q->v)) {
        snprintf(err, 256, "out of memory");
        rc = TENON_ENOMEM;
    } else {
        q->v[q->n++] = (struct tenon__queued){o->member, copy};
        q->bytes += copy->len;
        atomic_store_explicit(&q->pending, q->n, memory_order_release);
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
        return 0;
    }
    pthread_mutex_unlock(&q->lock);
    free(copy);
refused:
    pthread_mutex_lock(&q->lock);
    q->refused++;
    pthread_mutex_unlock(&q->lock);
    return rc;
}

struct tenon__queued *tenon__async_take(struct tenon__async_queue *q, size_t *n)
{
    struct tenon__queued *v;
    pthread_mutex_lock(&q->lock);
    v = q->v;
    *n = q->n;
    q->v = NULL;
    q->n = q->cap = q->bytes = 0;
    atomic_store_explicit(&q->pending, 0, memory_order_release);
    pthread_mutex_unlock(&q->lock);
    return v;
}

void tenon__async_wait(struct tenon__async_queue *q, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&q->lock);
    while (q->n == 0) {
        if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&q->lock);
}

int tenon__async_start(struct tenon_pipeline *pl)
{
    pthread_mutex_lock(&pl->q.lock);
    pl->q.closed = 0;
    pthread_mutex_unlock(&pl->q.lock);
    for (size_t i = 0; i < pl->nm; i++) {
        struct tenon__member *m = &pl->m[i];
        int rc;
        if (!m->async || m->async_started)
            continue;
        m->async_owner = (struct tenon__async_owner){pl, (uint32_t)i};
        if ((rc = m->async->set_handler(m->async_obj, &m->async_owner,
                                        tenon__async_handler)) < 0) {
            const char *why = tenon_instance_error(m->inst);
            return tenon__fail(rc < TENON_ERROR_MIN ? TENON_EPLUGIN : rc,
                               "plugin '%s' failed to start its async "
                               "events: %s",
                               m->name, why[0] ? why : "no message");
        }
        m->async_started = 1;
    }
    return 0;
}

void tenon__async_stop(struct tenon_pipeline *pl)
{
    for (size_t i = 0; i < pl->nm; i++) {
        struct tenon__member *m = &pl->m[i];
        if (!m->async_started)
            continue;
        if (m->async->set_handler(m->async_obj, &m->async_owner, NULL) < 0)
            tenon__log(pl->t, TENON_LOG_WARN, "tenon",
                       "plugin '%s' failed to stop its async events: %s",
                       m->name, tenon_instance_error(m->inst));
        m->async_started = 0;
    }
}
