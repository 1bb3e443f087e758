/*
 * Callbacks between plugins (PANDA's plugin-to-plugin callbacks, without
 * their fixed slots): a provider instance declares named callbacks and fires
 * them; plugins and the host register handlers on them and unregister them
 * at any time, also from inside a handler that is running.
 *
 * One lock per context guards every list here; it is never held while a
 * handler runs. A handler that is unregistered is only marked and taken out
 * of the id table: its node stays linked while a fire of its callback is
 * walking the list (the walk continues from it), and is freed by the last
 * fire to finish, or at once when no fire is walking. Unregistering waits
 * until the handler is not running on another thread, so that its context
 * can be freed as soon as the call returns; a thread knows which handlers it
 * is running itself (the frames below) and does not wait for those.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tenon__handler {
    uint64_t id;
    struct tenon_callback *cb;
    struct tenon_instance *owner; /* NULL: the host program */
    tenon_callback_fn fn;
    void *ctx;
    struct tenon__handler *prev, *next;             /* in cb's list */
    struct tenon__handler *owner_prev, *owner_next; /* in owner's list */
    struct tenon__handler *hash_next;               /* in the id table */
    int removed;
    unsigned running; /* threads inside fn now */
};

struct tenon_callback {
    struct tenon_callback *next; /* in the provider's list */
    struct tenon_instance *provider;
    char *name, *sig;
    struct tenon__handler *head, *tail;
    size_t live; /* handlers not removed */
    /* Threads that hold a pointer into the list across an unlock (a fire
     * walking it, an unregister waiting for a handler to return): removed
     * nodes are freed, and the callback itself, only when there are none. */
    size_t pins;
    size_t nremoved; /* removed nodes still linked */
};

/* The handlers this thread is running, innermost first. */
struct frame {
    const struct tenon__handler *h;
    struct frame *up;
};
static _Thread_local struct frame *frames;

static unsigned running_here(const struct tenon__handler *h)
{
    unsigned n = 0;
    for (const struct frame *f = frames; f; f = f->up)
        n += f->h == h;
    return n;
}

int tenon__callbacks_init(struct tenon__callbacks *c)
{
    memset(c, 0, sizeof *c);
    if (pthread_mutex_init(&c->lock, NULL))
        return TENON_ENOMEM;
    if (pthread_cond_init(&c->idle, NULL)) {
        pthread_mutex_destroy(&c->lock);
        return TENON_ENOMEM;
    }
    c->next_id = 1;
    return 0;
}

void tenon__callbacks_free(struct tenon__callbacks *c)
{
    /* Every instance is gone, and with it every callback and handler. */
    free(c->table);
    pthread_cond_destroy(&c->idle);
    pthread_mutex_destroy(&c->lock);
}

/* ---- the id table ---------------------------------------------------------
 * Chained, a power of two in size, doubled when it holds twice as many
 * handlers as buckets, so an unregister costs the same with 10 or 100,000
 * handlers. Ids count up from 1 and are never reused in a context's life:
 * a stale id finds nothing. */

static size_t bucket(const struct tenon__callbacks *c, uint64_t id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (c->nbuckets - 1);
}

static int table_add(struct tenon__callbacks *c, struct tenon__handler *h)
{
    if (c->count + 1 > 2 * c->nbuckets) {
        size_t n = c->nbuckets ? 2 * c->nbuckets : 64;
        struct tenon__handler **t = calloc(n, sizeof *t);
        if (!t)
            return TENON_ENOMEM;
        struct tenon__handler **old = c->table;
        size_t oldn = c->nbuckets;
        c->table = t;
        c->nbuckets = n;
        for (size_t i = 0; i < oldn; i++)
            for (struct tenon__handler *x = old[i], *nx; x; x = nx) {
                nx = x->hash_next;
                size_t b = bucket(c, x->id);
                x->hash_next = t[b];
                t[b] = x;
            }
        free(old);
    }
    size_t b = bucket(c, h->id);
    h->hash_next = c->table[b];
    c->table[b] = h;
    c->count++;
    return 0;
}

static struct tenon__handler *table_take(struct tenon__callbacks *c,
                                         uint64_t id)
{
    if (!c->nbuckets)
        return NULL;
    for (struct tenon__handler **pp = &c->table[bucket(c, id)]; *pp;
         pp = &(*pp)->hash_next)
        if ((*pp)->id == id) {
            struct tenon__handler *h = *pp;
            *pp = h->hash_next;
            c->count--;
            return h;
        }
    return NULL;
}

/* ---- lists ----------------------------------------------------------------
 */

static struct tenon__callbacks *cbs_of(struct tenon_instance *inst)
{
    return &inst->t->callbacks;
}

static void owner_unlink(struct tenon__callbacks *c, struct tenon__handler *h)
{
    if (h->owner_prev)
        h->owner_prev->owner_next = h->owner_next;
    else if (h->owner)
        h->owner->handlers = h->owner_next;
    else
        c->host_handlers = h->owner_next;
    if (h->owner_next)
        h->owner_next->owner_prev = h->owner_prev;
    h->owner_prev = h->owner_next = NULL;
}

static void list_unlink(struct tenon__handler *h)
{
    struct tenon_callback *cb = h->cb;
    if (h->prev)
        h->prev->next = h->next;
    else
        cb->head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    else
        cb->tail = h->prev;
}

/* Free the removed nodes of `cb` once nothing is pinning its list. */
static void sweep(struct tenon_callback *cb)
{
    if (cb->pins || !cb->nremoved)
        return;
    for (struct tenon__handler *h = cb->head, *nx; h; h = nx) {
        nx = h->next;
        if (h->removed) {
            list_unlink(h);
            free(h);
        }
    }
    cb->nremoved = 0;
}

static void unpin(struct tenon__callbacks *c, struct tenon_callback *cb)
{
    if (--cb->pins == 0)
        pthread_cond_broadcast(&c->idle);
}

/* Mark `h` removed, take it out of its owner's list, and wait until it is
 * not running on another thread. The caller took it out of the id table
 * and pins its callback (the wait unlocks). */
static void mark_and_wait(struct tenon__callbacks *c, struct tenon__handler *h)
{
    h->removed = 1;
    h->cb->live--;
    h->cb->nremoved++;
    owner_unlink(c, h);
    while (h->running > running_here(h))
        pthread_cond_wait(&c->idle, &c->lock);
}

/* Take `h`, already out of the id table, out of use for good; it may be
 * freed when this returns. Caller holds the lock. */
static void retire(struct tenon__callbacks *c, struct tenon__handler *h)
{
    struct tenon_callback *cb = h->cb;
    cb->pins++;
    mark_and_wait(c, h);
    unpin(c, cb);
    sweep(cb);
}

/* ---- the host API -------------------------------------------------------- */

static int valid_text(const char *s) { return s && *s && strlen(s) < 256; }

int tenon__callback_declare(struct tenon_instance *self, const char *name,
                            const char *sig, struct tenon_callback **out)
{
    struct tenon__callbacks *c;
    struct tenon_callback *cb;
    int rc = 0;

    if (out)
        *out = NULL;
    if (!self || !out || !valid_text(name) || !tenon__valid_interface_id(sig))
        return TENON_EINVAL;
    c = cbs_of(self);
    if (!(cb = calloc(1, sizeof *cb)) || !(cb->name = tenon__strdup(name)) ||
        !(cb->sig = tenon__strdup(sig))) {
        if (cb)
            free(cb->name);
        free(cb);
        return TENON_ENOMEM;
    }
    cb->provider = self;
    pthread_mutex_lock(&c->lock);
    for (struct tenon_callback *x = self->callbacks; x; x = x->next)
        if (strcmp(x->name, name) == 0)
            rc = TENON_EEXIST;
    if (!rc) {
        cb->next = self->callbacks;
        self->callbacks = cb;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc) {
        free(cb->name);
        free(cb->sig);
        free(cb);
        return rc;
    }
    *out = cb;
    return 0;
}

size_t tenon__callback_fire(struct tenon_callback *cb, const void *event)
{
    struct tenon__callbacks *c;
    size_t n = 0;

    if (!cb)
        return 0;
    c = cbs_of(cb->provider);
    pthread_mutex_lock(&c->lock);
    cb->pins++;
    for (struct tenon__handler *h = cb->head; h; h = h->next) {
        if (h->removed)
            continue;
        struct frame f = {h, frames};
        h->running++;
        frames = &f;
        pthread_mutex_unlock(&c->lock);
        h->fn(h->ctx, event);
        pthread_mutex_lock(&c->lock);
        frames = f.up;
        if (--h->running == 0 && h->removed)
            pthread_cond_broadcast(&c->idle);
        n++;
    }
    unpin(c, cb);
    sweep(cb);
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t tenon__callback_handlers(const struct tenon_callback *cb)
{
    struct tenon__callbacks *c;
    size_t n;
    if (!cb)
        return 0;
    c = cbs_of(cb->provider);
    pthread_mutex_lock(&c->lock);
    n = cb->live;
    pthread_mutex_unlock(&c->lock);
    return n;
}

int tenon__callback_register(struct tenon_instance *self,
                             struct tenon_instance *provider, const char *name,
                             const char *sig, tenon_callback_fn fn, void *ctx,
                             uint64_t *id)
{
    struct tenon__callbacks *c;
    struct tenon_callback *cb = NULL;
    struct tenon__handler *h;
    int rc;

    if (id)
        *id = 0;
    if (!provider || !name || !sig || !fn || !id ||
        (self && self->t != provider->t))
        return tenon__fail(TENON_EINVAL,
                           "callback registration needs a provider instance, "
                           "a callback name, a signature id and a function");
    c = cbs_of(provider);
    if (!(h = calloc(1, sizeof *h)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    pthread_mutex_lock(&c->lock);
    for (struct tenon_callback *x = provider->callbacks; x; x = x->next)
        if (strcmp(x->name, name) == 0)
            cb = x;
    if (!cb)
        rc = tenon__fail(TENON_ENOENT,
                         "plugin '%s' declares no callback named '%s'",
                         provider->plugin->info.name, name);
    else if (strcmp(cb->sig, sig) != 0)
        rc = tenon__fail(TENON_EINVAL,
                         "callback '%s' of plugin '%s' passes events of "
                         "signature %s, not %s",
                         name, provider->plugin->info.name, cb->sig, sig);
    else {
        h->id = c->next_id++;
        h->cb = cb;
        h->owner = self;
        h->fn = fn;
        h->ctx = ctx;
        rc = table_add(c, h);
        if (rc)
            rc = tenon__fail(rc, "out of memory");
    }
    if (rc) {
        pthread_mutex_unlock(&c->lock);
        free(h);
        return rc;
    }
    h->prev = cb->tail;
    if (cb->tail)
        cb->tail->next = h;
    else
        cb->head = h;
    cb->tail = h;
    cb->live++;
    struct tenon__handler **owner_head =
        self ? &self->handlers : &c->host_handlers;
    h->owner_next = *owner_head;
    if (*owner_head)
        (*owner_head)->owner_prev = h;
    *owner_head = h;
    *id = h->id;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* `self` NULL: the host, which may remove any handler; a plugin removes
 * only the handlers it registered. */
static int unregister(struct tenon__callbacks *c, struct tenon_instance *self,
                      uint64_t id)
{
    struct tenon__handler *h = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct tenon__handler *x = c->nbuckets ? c->table[bucket(c, id)]
                                                : NULL;
         x; x = x->hash_next)
        if (x->id == id)
            h = x;
    if (!h || (self && h->owner != self)) {
        pthread_mutex_unlock(&c->lock);
        if (h)
            return tenon__fail(TENON_EPERM,
                               "callback handler %llu was registered by "
                               "another instance",
                               (unsigned long long)id);
        return tenon__fail(TENON_ENOENT, "no callback handler has id %llu",
                           (unsigned long long)id);
    }
    table_take(c, id);
    retire(c, h);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int tenon__callback_unregister(struct tenon_instance *self, uint64_t id)
{
    return self ? unregister(cbs_of(self), self, id) : TENON_EINVAL;
}

int tenon_callback_register(tenon_instance_t *provider, const char *name,
                            const char *sig, tenon_callback_fn fn, void *ctx,
                            uint64_t *id)
{
    return tenon__callback_register(NULL, provider, name, sig, fn, ctx, id);
}

int tenon_callback_unregister(tenon_t *t, uint64_t id)
{
    if (!t)
        return tenon__fail(TENON_EINVAL, "no context");
    return unregister(&t->callbacks, NULL, id);
}

/* ---- instance lifetime --------------------------------------------------- */

void tenon__callbacks_drop_handlers(struct tenon_instance *inst)
{
    struct tenon__callbacks *c = cbs_of(inst);
    pthread_mutex_lock(&c->lock);
    while (inst->handlers) {
        struct tenon__handler *h = inst->handlers;
        table_take(c, h->id);
        retire(c, h);
    }
    pthread_mutex_unlock(&c->lock);
}

void tenon__callbacks_drop_declared(struct tenon_instance *inst)
{
    struct tenon__callbacks *c = cbs_of(inst);
    pthread_mutex_lock(&c->lock);
    while (inst->callbacks) {
        struct tenon_callback *cb = inst->callbacks;
        inst->callbacks = cb->next;
        /* The provider's destroy() has returned: nothing fires any more,
         * but a fire from before may still be running, and an unregister
         * may be waiting for one of its handlers. The pin keeps the walk's
         * nodes while retire() waits. */
        cb->pins++;
        for (struct tenon__handler *h = cb->head; h; h = h->next)
            if (!h->removed) {
                table_take(c, h->id);
                mark_and_wait(c, h);
            }
        unpin(c, cb);
        while (cb->pins)
            pthread_cond_wait(&c->idle, &c->lock);
        sweep(cb);
        free(cb->name);
        free(cb->sig);
        free(cb);
    }
    pthread_mutex_unlock(&c->lock);
}
