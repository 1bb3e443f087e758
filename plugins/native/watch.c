/*
 * The process start/exit callback: a thread that, every `interval` ms
 * while the callback has handlers, lists the processes, compares the list
 * with the one before and fires an event per difference, in pid order.
 *
 * A process is its pid and its start time, so a pid reused between two
 * looks shows as the old one's exit and the new one's start. The first
 * look after handlers appear only sets the baseline: what ran before
 * nobody listened is not news.
 */
#include "native.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    uint32_t pid, ppid;
    uint64_t start_ticks;
    char state;
    char name[NATIVE_NAME_MAX + 1];
};

struct snapshot {
    struct entry *v;
    size_t len, cap;
};

struct native_watch {
    struct native *n;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int stop;
    unsigned interval_ms;
    struct snapshot prev, cur; /* swapped after each look */
    int have_prev;
};

static int add_entry(void *ud, const struct native_stat *st)
{
    struct snapshot *s = ud;
    struct entry *e;
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 512;
        struct entry *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    e = &s->v[s->len++];
    e->pid = st->pid;
    e->ppid = st->ppid;
    e->start_ticks = st->start_ticks;
    e->state = st->state ? st->state : '?';
    memcpy(e->name, st->name, sizeof e->name);
    return 0;
}

static void fire(struct native_watch *w, int kind, const struct entry *e)
{
    struct tenon_osi_process p;
    struct tenon_osi_process_event ev;

    if (atomic_load(&w->stop))
        return; /* destroy() is waiting: no more news */
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.pid = e->pid;
    p.ppid = e->ppid;
    p.uid = TENON_OSI_UNKNOWN;
    p.state = e->state;
    p.start_time_ns = native__start_ns(w->n, e->start_ticks);
    p.name = e->name;
    p.exe = "";
    memset(&ev, 0, sizeof ev);
    ev.struct_size = sizeof ev;
    ev.kind = kind;
    ev.process = &p;
    w->n->host->callback_fire(w->n->cb, &ev);
}

/* Both lists are in ascending pid order: one merge finds every change. */
static void diff(struct native_watch *w)
{
    const struct snapshot *a = &w->prev, *b = &w->cur;
    size_t i = 0, j = 0;

    while (i < a->len || j < b->len) {
        if (j == b->len || (i < a->len && a->v[i].pid < b->v[j].pid)) {
            fire(w, TENON_OSI_PROCESS_EXIT, &a->v[i++]);
        } else if (i == a->len || b->v[j].pid < a->v[i].pid) {
            fire(w, TENON_OSI_PROCESS_START, &b->v[j++]);
        } else {
            if (a->v[i].start_ticks != b->v[j].start_ticks) {
                fire(w, TENON_OSI_PROCESS_EXIT, &a->v[i]);
                fire(w, TENON_OSI_PROCESS_START, &b->v[j]);
            }
            i++;
            j++;
        }
    }
}

static void look(struct native_watch *w)
{
    const struct tenon_host *host = w->n->host;
    struct snapshot tmp;
    int rc;

    if (host->callback_handlers(w->n->cb) == 0) {
        w->have_prev = 0;
        return;
    }
    w->cur.len = 0;
    if ((rc = native__stats(w->n, add_entry, &w->cur))) {
        /* Not set_error(): that message belongs to the consumer's calls. */
        TENON_LOG(host, w->n->self, TENON_LOG_WARN,
                  "process watch: listing /proc failed (%s); trying again "
                  "in %u ms",
                  native__errname(-rc), w->interval_ms);
        return;
    }
    if (w->have_prev)
        diff(w);
    tmp = w->prev;
    w->prev = w->cur;
    w->cur = tmp;
    w->have_prev = 1;
}

static void *run(void *arg)
{
    struct native_watch *w = arg;
    struct timespec next, now;

    pthread_mutex_lock(&w->lock);
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&w->stop)) {
        next.tv_sec += w->interval_ms / 1000;
        next.tv_nsec += (long)(w->interval_ms % 1000) * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        /* Behind (a slow look, a stopped machine): no burst to catch up. */
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (next.tv_sec < now.tv_sec ||
            (next.tv_sec == now.tv_sec && next.tv_nsec < now.tv_nsec))
            next = now;
        while (!atomic_load(&w->stop) &&
               pthread_cond_timedwait(&w->cond, &w->lock, &next) != ETIMEDOUT)
            ;
        if (atomic_load(&w->stop))
            break;
        pthread_mutex_unlock(&w->lock);
        look(w);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int native__watch_start(struct native *n, unsigned interval_ms)
{
    struct native_watch *w = calloc(1, sizeof *w);
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    if (!w)
        return native__fail(n, TENON_ENOMEM, "out of memory");
    w->n = n;
    w->interval_ms = interval_ms;
    atomic_init(&w->stop, 0);
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    /* Timed waits on the monotonic clock: setting the date does not stall
     * or hurry the polling. */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    /* The host's signals are for the host's threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&w->thread, NULL, run, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return native__fail(n, TENON_EIO,
                            "starting the process watch thread failed (%s)",
                            native__errname(rc));
    }
    n->watch = w;
    return 0;
}

void native__watch_stop(struct native_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->stop, 1);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w->prev.v);
    free(w->cur.v);
    free(w);
}
