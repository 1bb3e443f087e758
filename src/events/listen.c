/*
 * Capture listening: listen instances are told when the capture opens and
 * closes, and between the two may run routines on the host's threads
 * (Falco's thread pool). A routine runs again and again while it returns
 * true; two threads share the routines round-robin, one routine never on
 * two threads at once. Everything is stopped and joined before the
 * capture closes.
 */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>

#define ROUTINE_THREADS 2

struct tenon_routine {
    struct tenon_routine *next;
    tenon_routine_fn fn;
    void *state;
    uint32_t member;
    int running, removed;
    int self_removed; /* by its own run: freed by the worker, not waited */
};

struct tenon__routines {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a routine was added, or stop */
    pthread_cond_t idle; /* a routine finished a run */
    struct tenon_routine *head, *cursor;
    pthread_t threads[ROUTINE_THREADS];
    int nthreads, stop, accepting;
};

/* The routine the calling thread is running, so that a routine's own
 * unsubscribe does not wait for itself. */
static _Thread_local struct tenon_routine *current;

static void unlink_routine(struct tenon__routines *r, struct tenon_routine *x)
{
    struct tenon_routine **pp = &r->head;
    while (*pp && *pp != x)
        pp = &(*pp)->next;
    if (*pp)
        *pp = x->next;
    if (r->cursor == x)
        r->cursor = x->next;
    free(x);
}

/* The next routine to run after the cursor, round-robin; NULL if none. */
static struct tenon_routine *pick(struct tenon__routines *r)
{
    struct tenon_routine *start = r->cursor ? r->cursor : r->head, *x = start;
    if (!x)
        return NULL;
    do {
        if (!x->running && !x->removed) {
            r->cursor = x->next;
            return x;
        }
        x = x->next ? x->next : r->head;
    } while (x != start);
    return NULL;
}

static void *worker(void *arg)
{
    struct tenon__routines *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct tenon_routine *x = pick(r);
        bool again;
        if (!x) {
            pthread_cond_wait(&r->work, &r->lock);
            continue;
        }
        x->running = 1;
        pthread_mutex_unlock(&r->lock);
        current = x;
        again = x->fn(x->state);
        current = NULL;
        pthread_mutex_lock(&r->lock);
        x->running = 0;
        /* one removed by another thread is freed by the thread waiting */
        if (x->self_removed || (!again && !x->removed))
            unlink_routine(r, x);
        pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static struct tenon_routine *subscribe(void *owner, tenon_routine_fn fn,
                                       void *state)
{
    struct tenon__listen_owner *o = owner;
    struct tenon__routines *r = o ? o->pl->routines : NULL;
    struct tenon_routine *x;
    if (!r || !fn || !(x = calloc(1, sizeof *x)))
        return NULL;
    x->fn = fn;
    x->state = state;
    x->member = o->member;
    pthread_mutex_lock(&r->lock);
    if (!r->accepting) {
        pthread_mutex_unlock(&r->lock);
        free(x);
        return NULL;
    }
    x->next = r->head;
    r->head = x;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->lock);
    return x;
}

/* Remove `x` (which the caller found in the list), waiting for a run on
 * another thread to end. Called with the lock held. */
static void remove_routine(struct tenon__routines *r, struct tenon_routine *x)
{
    x->removed = 1;
    /* From a routine: itself, or one running on the other thread, which
     * may be removing this one (waiting would deadlock both): it never runs
     * again after the run under way, and its worker frees it. */
    if (x == current || (current && x->running)) {
        x->self_removed = 1;
        return;
    }
    while (x->running)
        pthread_cond_wait(&r->idle, &r->lock);
    unlink_routine(r, x);
}

static int unsubscribe(void *owner, struct tenon_routine *x)
{
    struct tenon__listen_owner *o = owner;
    struct tenon__routines *r = o ? o->pl->routines : NULL;
    struct tenon_routine *y;
    if (!r)
        return TENON_EINVAL;
    pthread_mutex_lock(&r->lock);
    for (y = r->head; y && y != x; y = y->next)
        ;
    if (!y || y->member != o->member || y->removed) {
        pthread_mutex_unlock(&r->lock);
        return TENON_ENOENT;
    }
    remove_routine(r, y);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* Stop every routine of `member` (all when UINT32_MAX). */
/* Is a routine of `member` (any when UINT32_MAX) still in the list? */
static int has_member(const struct tenon__routines *r, uint32_t member)
{
    for (const struct tenon_routine *x = r->head; x; x = x->next)
        if (member == UINT32_MAX || x->member == member)
            return 1;
    return 0;
}

static void remove_member(struct tenon__routines *r, uint32_t member)
{
    pthread_mutex_lock(&r->lock);
    for (;;) {
        struct tenon_routine *x = r->head;
        while (x &&
               ((member != UINT32_MAX && x->member != member) || x->removed))
            x = x->next;
        if (!x)
            break;
        remove_routine(r, x);
    }
    /* routines removed from a routine are freed by their worker once their
     * run ends: wait for that too */
    while (has_member(r, member))
        pthread_cond_wait(&r->idle, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

static struct tenon_listen_input input_of(struct tenon__member *m)
{
    return (struct tenon_listen_input){&m->listen_owner, subscribe,
                                       unsubscribe};
}

int tenon__listen_open(struct tenon_pipeline *pl)
{
    struct tenon__routines *r;
    int any = 0;
    for (size_t i = 0; i < pl->nm; i++)
        any |= pl->m[i].listen != NULL;
    if (!any)
        return 0;
    if (!(r = calloc(1, sizeof *r)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->idle, NULL);
    r->accepting = 1;
    pl->routines = r;
    for (int i = 0; i < ROUTINE_THREADS; i++) {
        if (pthread_create(&r->threads[i], NULL, worker, r) != 0)
            break;
        r->nthreads++;
    }
    if (r->nthreads == 0) {
        tenon__listen_close(pl);
        return tenon__fail(TENON_ENOMEM, "cannot start the routine threads");
    }
    for (size_t i = 0; i < pl->nm; i++) {
        struct tenon__member *m = &pl->m[i];
        struct tenon_listen_input in;
        int rc;
        if (!m->listen)
            continue;
        m->listen_owner = (struct tenon__listen_owner){pl, (uint32_t)i};
        in = input_of(m);
        if ((rc = m->listen->capture_open(m->listen_obj, &in)) < 0) {
            const char *why = tenon_instance_error(m->inst);
            remove_member(r, (uint32_t)i);
            tenon__listen_close(pl);
            return tenon__fail(rc < TENON_ERROR_MIN ? TENON_EPLUGIN : rc,
                               "plugin '%s' failed at capture open: %s",
                               m->name, why[0] ? why : "no message");
        }
        m->listen_opened = 1;
    }
    return 0;
}

void tenon__listen_close(struct tenon_pipeline *pl)
{
    struct tenon__routines *r = pl->routines;
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->accepting = 0; /* closing: no new routines */
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < pl->nm; i++) {
        struct tenon__member *m = &pl->m[i];
        struct tenon_listen_input in;
        if (!m->listen_opened)
            continue;
        in = input_of(m);
        /* its routines stop first, so capture_close() may free their state */
        remove_member(r, (uint32_t)i);
        if (m->listen->capture_close(m->listen_obj, &in) < 0)
            tenon__log(pl->t, TENON_LOG_WARN, "tenon",
                       "plugin '%s' failed at capture close: %s", m->name,
                       tenon_instance_error(m->inst));
        m->listen_opened = 0;
    }
    remove_member(r, UINT32_MAX);
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < r->nthreads; i++)
        pthread_join(r->threads[i], NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->idle);
    free(r);
    pl->routines = NULL;
}
