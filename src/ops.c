/*
 * Operations (pluginop's protocol operations for any C host), the
 * permissions every host call checks, timers and two-step enable.
 *
 * Dispatch reads an immutable snapshot of an operation's hooks (struct
 * hookset) without taking a lock. Attach and detach build a new snapshot
 * under the context's lock, publish it, and retire the old one with a grace
 * period: readers mark themselves with the grace-period counter they
 * entered under (a plain store, no fence), and the writer runs a
 * process-wide barrier (barrier_linux.c) and then waits for every reader
 * that entered before the change. So an unhooked operation costs one load,
 * a hooked one a few stores more than the calls it makes, and a detached
 * hook never runs after detach returns.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OP_NAME_MAX 64
/* How deep op_call() may nest calls on one thread: a hook calling
 * operations that call it again must not exhaust the host's stack. */
#define TENON_OP_MAX_DEPTH 64

/* ---- permissions --------------------------------------------------------- */

static const char *const perm_names[TENON__P_COUNT] = {
    "log",          "callback", "event", "op",    "buffer.read",
    "buffer.write", "timer",    "file",  "table", "network"};

size_t tenon_permission_count(void) { return TENON__P_COUNT; }

const char *tenon_permission_name(size_t i)
{
    return i < TENON__P_COUNT ? perm_names[i] : NULL;
}

int tenon__perm_lookup(const char *s, size_t len)
{
    for (int i = 0; i < TENON__P_COUNT; i++)
        if (strlen(perm_names[i]) == len && memcmp(perm_names[i], s, len) == 0)
            return i;
    return -1;
}

/* "log, timer" for a mask, into buf. */
static void perm_list(uint32_t mask, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < TENON__P_COUNT; i++)
        if (mask >> i & 1u) {
            int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
                             perm_names[i]);
            if (w < 0 || (size_t)w >= len - n)
                return;
            n += (size_t)w;
        }
    if (!n)
        snprintf(buf, len, "none");
}

int tenon__perm_refuse(struct tenon_instance *self, int perm, const char *what)
{
    if (!self)
        return tenon__fail(TENON_EPERM, "%s: no instance", what);
    atomic_fetch_add_explicit(&self->denied[perm], 1, memory_order_relaxed);
    unsigned bit = 1u << perm;
    atomic_uint *logged = (atomic_uint *)(uintptr_t)&self->plugin->perm_logged;
    if (!(atomic_fetch_or(logged, bit) & bit))
        tenon__log(self->t, TENON_LOG_WARN, "tenon",
                   "plugin '%s' was refused %s: it lacks permission '%s' "
                   "(logged once per plugin and permission; "
                   "tenon_instance_denied() counts them)",
                   self->plugin->info.name, what, perm_names[perm]);
    return tenon__fail(TENON_EPERM, "plugin '%s' lacks permission '%s' for %s",
                       self->plugin->info.name, perm_names[perm], what);
}

int tenon_instance_permitted(const tenon_instance_t *inst, const char *name)
{
    int b = name ? tenon__perm_lookup(name, strlen(name)) : -1;
    return b >= 0 && tenon__perm_has(inst, b);
}

uint64_t tenon_instance_denied(const tenon_instance_t *inst, const char *name)
{
    int b = name ? tenon__perm_lookup(name, strlen(name)) : -1;
    if (!inst || b < 0)
        return 0;
    return atomic_load_explicit(&inst->denied[b], memory_order_relaxed);
}

int tenon__host_permitted(struct tenon_instance *self, const char *name)
{
    return tenon_instance_permitted(self, name);
}

/* ---- the registry -------------------------------------------------------- */

struct hook {
    uint64_t id;
    struct tenon_op *op;
    int kind;
    unsigned flags;
    int rank;
    int has_param;
    uint64_t param;
    tenon_hook_fn fn;
    void *ctx;
    struct tenon_instance *inst; /* NULL: the host program */
    struct hook *next;           /* in op->hooks, in attach order */
    atomic_int dead;             /* detached (set before it is unlinked) */
};

/* One hook as dispatch runs it: a copy of what it needs, so that a call
 * reads one array instead of chasing pointers. */
struct entry {
    tenon_hook_fn fn;
    void *ctx;
    struct hook *hook; /* checked only after this thread changed hooks */
};

/* What one call (one parameter) runs: befores, defines by rank, afters. */
struct hookset {
    uint32_t nbefore, ndefine, nafter;
    struct entry h[];
};

struct paramset {
    uint64_t param;
    struct hookset *hs;
};

/* A snapshot of an operation's hooks, replaced whole. */
struct snapshot {
    struct hookset *any;     /* unparameterised, or every other parameter */
    size_t nparams;          /* parameters with hooks of their own */
    struct paramset *params; /* sorted by param */
    struct snapshot *retired_next;
};

struct tenon_op {
    uint32_t hooked; /* first member: TENON_OP_HOOKED() reads it */
    uint32_t flags;
    tenon_t *t;
    char name[OP_NAME_MAX];
    char sig[TENON_OP_MAX_ARGS + 1];
    uint32_t argc;
    uint32_t nbuf, nwbuf; /* how many 'b' or 'w', and 'w' arguments */
    int declared;
    tenon_op_native_fn native;
    void *ctx;
    struct snapshot *_Atomic snap; /* NULL when no hook */
    struct hook *hooks;            /* under ops->lock */
    struct tenon_op *next;
};

struct timer {
    int64_t deadline;
    uint64_t seq, id;
    struct tenon_instance *inst;
    tenon_timer_fn fn;
    void *ctx;
};

struct policy_entry {
    char *plugin; /* "*" for the default */
    uint32_t mask;
};

struct tenon__ops {
    pthread_mutex_t lock; /* the registry, hooks, policy */
    struct tenon_op *ops;
    uint64_t next_id;
    struct policy_entry *policy;
    size_t npolicy;
    int have_policy;

    pthread_mutex_t tlock; /* timers */
    pthread_cond_t tcond;
    struct timer *heap;
    size_t nheap, capheap;
    uint64_t tseq;
    uint64_t firing; /* id of the timer being fired, or 0 */
    struct tenon_instance *firing_inst;
    pthread_t poller;
    pthread_mutex_t poll_lock;
};

static struct tenon__ops *ops_of(tenon_t *t)
{
    struct tenon__ops *o = __atomic_load_n(&t->ops, __ATOMIC_ACQUIRE);
    if (o)
        return o;
    pthread_mutex_lock(&t->lock);
    if (!(o = t->ops) && (o = calloc(1, sizeof *o))) {
        pthread_mutex_init(&o->lock, NULL);
        pthread_mutex_init(&o->tlock, NULL);
        pthread_mutex_init(&o->poll_lock, NULL);
        pthread_cond_init(&o->tcond, NULL);
        o->next_id = 1;
        __atomic_store_n(&t->ops, o, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&t->lock);
    return o;
}

/* ---- the read side ------------------------------------------------------- */

struct reader {
    _Atomic uint64_t gen; /* grace period entered under; 0 when outside */
    struct reader *next;
    /* What this thread retired from inside its own read section (a hook
     * detaching itself): freed when the section ends. */
    void *deferred;
    struct frame *frames; /* the calls running on this thread, innermost
                             first: what buf_read()/buf_write() check */
    /* This thread detached a hook or changed an instance's state inside
     * its read section: the snapshots its calls are walking may hold hooks
     * that must not run any more, so each is checked before it runs. */
    unsigned changed;
};

static void deferred_free(struct reader *r);
struct snapshot;
struct hook;
static void retire(struct snapshot *snaps, struct hook *hooks);

static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reader *readers;
static _Atomic uint64_t gp = 1;
static pthread_once_t barrier_once = PTHREAD_ONCE_INIT;
/* 0: no process-wide barrier (or a ThreadSanitizer build, which cannot see
 * what one orders): readers publish their mark with a sequentially
 * consistent store instead, and the writer's loads are sequentially
 * consistent too, so neither side can miss the other. */
static int have_barrier;

#if defined(__SANITIZE_THREAD__)
#define TENON__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TENON__TSAN 1
#endif
#endif
static pthread_key_t reader_key;

static __attribute__((
    tls_model("initial-exec"))) _Thread_local struct reader *my_reader;

static void reader_gone(void *p)
{
    struct reader *r = p, **pp;
    pthread_mutex_lock(&readers_lock);
    for (pp = &readers; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    pthread_mutex_unlock(&readers_lock);
    free(r);
}

static void barrier_setup(void)
{
#ifdef TENON__TSAN
    have_barrier = 0;
#else
    have_barrier = tenon__sys_barrier_init() == 0;
#endif
    pthread_key_create(&reader_key, reader_gone);
}

static __attribute__((noinline)) struct reader *reader_new(void)
{
    struct reader *r;
    pthread_once(&barrier_once, barrier_setup);
    if (!(r = calloc(1, sizeof *r)))
        abort(); /* cannot dispatch safely without one */
    pthread_mutex_lock(&readers_lock);
    r->next = readers;
    readers = r;
    pthread_mutex_unlock(&readers_lock);
    pthread_setspecific(reader_key, r);
    my_reader = r;
    return r;
}

/* The read side. A thread is inside a read section while a call of its
 * own is running (r->frames is not NULL) and while the outermost call
 * reads a snapshot. Only the outermost call marks the section: nesting is
 * told by the frame pointer the call saves in a register, so that a call
 * stores to the thread's record without first loading what the previous
 * call stored there (a chain of store-to-load forwards that bounded the
 * rate of calls). */
static inline struct reader *reader_get(void)
{
    struct reader *r = my_reader;
    if (__builtin_expect(!r, 0))
        r = reader_new();
    return r;
}

static inline void read_mark(struct reader *r)
{
    uint64_t g = atomic_load_explicit(&gp, memory_order_acquire);
    if (__builtin_expect(!have_barrier, 0))
        atomic_store_explicit(&r->gen, g, memory_order_seq_cst);
    else {
        atomic_store_explicit(&r->gen, g, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    }
}

static inline void read_unmark(struct reader *r)
{
    atomic_store_explicit(&r->gen, 0, memory_order_release);
    if (__builtin_expect(r->changed, 0))
        r->changed = 0;
    if (__builtin_expect(r->deferred != NULL, 0))
        deferred_free(r);
}

/* Inside a section: a call of this thread is running. */
static inline int reading(void) { return my_reader && my_reader->frames; }

/* Wait until every reader that may hold what was unpublished before this
 * call has left; the calling thread's own section (a hook detaching
 * itself) is not waited for. */
static void synchronize(void)
{
    pthread_once(&barrier_once, barrier_setup);
    uint64_t g = atomic_fetch_add(&gp, 1) + 1;
    if (have_barrier)
        tenon__sys_barrier();
    pthread_mutex_lock(&readers_lock);
restart:
    for (struct reader *r = readers; r; r = r->next) {
        uint64_t v = atomic_load_explicit(&r->gen, memory_order_seq_cst);
        if (r == my_reader || v == 0 || v >= g)
            continue;
        /* a reader takes readers_lock only to register or leave, never
         * inside a section: it can finish while we wait */
        pthread_mutex_unlock(&readers_lock);
        sched_yield();
        pthread_mutex_lock(&readers_lock);
        goto restart; /* the list may have changed */
    }
    pthread_mutex_unlock(&readers_lock);
}

/* ---- names --------------------------------------------------------------- */

static int valid_op_name(const char *s, size_t len)
{
    if (len == 0 || len >= OP_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
            return 0;
    }
    return 1;
}

/* "name" or "name[param]" (decimal or 0x hex), `len` bytes. */
static int op_ref_parse(const char *s, size_t len, char name[OP_NAME_MAX],
                        int *has_param, uint64_t *param, char *why,
                        size_t why_len)
{
    const char *br = memchr(s, '[', len);
    size_t nlen = br ? (size_t)(br - s) : len;
    *has_param = 0;
    *param = 0;
    if (!valid_op_name(s, nlen))
        return tenon__reason(why, why_len, TENON_EINVAL,
                             "operation '%.*s' is not a name; expected 1 to "
                             "63 of [a-z0-9_.-] starting with a letter or "
                             "digit, optionally followed by [PARAM]",
                             (int)(len > 200 ? 200 : len), s);
    memcpy(name, s, nlen);
    name[nlen] = '\0';
    if (!br)
        return 0;
    const char *p = br + 1, *end = s + len;
    if (end - p < 2 || end[-1] != ']')
        return tenon__reason(why, why_len, TENON_EINVAL,
                             "operation '%.*s': expected a parameter "
                             "closed by ']'",
                             (int)(len > 200 ? 200 : len), s);
    end--;
    int base = 10;
    if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    uint64_t v = 0;
    for (; p < end; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return tenon__reason(why, why_len, TENON_EINVAL,
                                 "operation '%.*s': the parameter is not a "
                                 "decimal or 0x-hex integer",
                                 (int)(len > 200 ? 200 : len), s);
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return tenon__reason(why, why_len, TENON_EINVAL,
                                 "operation '%.*s': the parameter is above "
                                 "2^64-1",
                                 (int)(len > 200 ? 200 : len), s);
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *has_param = 1;
    *param = v;
    return 0;
}

static const char *const kind_names[] = {NULL, "before", "define", "after"};

int tenon__hook_spec_parse(const char *v, int *kind, char *op, size_t oplen,
                           unsigned *flags, char *why, size_t why_len)
{
    const char *sp = strchr(v, ' ');
    int has;
    uint64_t param;
    char name[OP_NAME_MAX];
    *kind = 0;
    *flags = 0;
    for (int k = 1; k <= 3; k++)
        if (sp && (size_t)(sp - v) == strlen(kind_names[k]) &&
            memcmp(v, kind_names[k], (size_t)(sp - v)) == 0)
            *kind = k;
    if (!*kind)
        return tenon__reason(why, why_len, TENON_EINVAL,
                             "hook '%.200s' does not start with before, "
                             "define or after and a space",
                             v);
    const char *o = sp + 1, *oe = strchr(o, ' ');
    size_t olen = oe ? (size_t)(oe - o) : strlen(o);
    if (oe) {
        if (strcmp(oe, " always-on") != 0)
            return tenon__reason(why, why_len, TENON_EINVAL,
                                 "hook '%.200s': expected nothing or "
                                 "' always-on' after the operation",
                                 v);
        *flags |= TENON_HOOK_ALWAYS_ON;
    }
    int rc = op_ref_parse(o, olen, name, &has, &param, why, why_len);
    if (rc)
        return rc;
    if (olen >= oplen)
        return tenon__reason(why, why_len, TENON_EINVAL,
                             "hook '%.200s': operation too long", v);
    memcpy(op, o, olen);
    op[olen] = '\0';
    return 0;
}

static int valid_sig(const char *sig)
{
    size_t n = strlen(sig);
    if (n > TENON_OP_MAX_ARGS)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (sig[i] != 'i' && sig[i] != 'b' && sig[i] != 'w')
            return 0;
    return 1;
}

/* The operation `name`, created undeclared when absent. Under o->lock. */
static struct tenon_op *op_get(tenon_t *t, struct tenon__ops *o,
                               const char *name, int create)
{
    struct tenon_op *op;
    for (op = o->ops; op; op = op->next)
        if (strcmp(op->name, name) == 0)
            return op;
    if (!create || !(op = calloc(1, sizeof *op)))
        return NULL;
    op->t = t;
    snprintf(op->name, sizeof op->name, "%s", name);
    op->next = o->ops;
    o->ops = op;
    return op;
}

int tenon_op_declare(tenon_t *t, const char *name, const char *sig,
                     unsigned flags, tenon_op_native_fn native, void *ctx,
                     tenon_op_t **out)
{
    struct tenon__ops *o;
    struct tenon_op *op;

    if (out)
        *out = NULL;
    if (!t || !name || !sig || !out)
        return tenon__fail(TENON_EINVAL, "tenon_op_declare: NULL argument");
    if (!valid_op_name(name, strlen(name)))
        return tenon__fail(TENON_EINVAL,
                           "operation name '%.200s' is not valid; expected 1 "
                           "to 63 of [a-z0-9_.-] starting with a letter or "
                           "digit",
                           name);
    if (!valid_sig(sig))
        return tenon__fail(TENON_EINVAL,
                           "signature '%.200s' of operation '%s' is not valid; "
                           "expected up to %d of i (integer), b (buffer), w "
                           "(writable buffer)",
                           sig, name, TENON_OP_MAX_ARGS);
    if (flags & ~TENON_OP_PARAM)
        return tenon__fail(TENON_EINVAL, "operation '%s': unknown flags 0x%x",
                           name, flags);
    if (!(o = ops_of(t)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    pthread_mutex_lock(&o->lock);
    if (!(op = op_get(t, o, name, 1))) {
        pthread_mutex_unlock(&o->lock);
        return tenon__fail(TENON_ENOMEM, "out of memory");
    }
    if (op->declared) {
        pthread_mutex_unlock(&o->lock);
        return tenon__fail(TENON_EEXIST, "operation '%s' is declared already",
                           name);
    }
    snprintf(op->sig, sizeof op->sig, "%s", sig);
    op->argc = (uint32_t)strlen(sig);
    for (uint32_t i = 0; i < op->argc; i++) {
        op->nbuf += sig[i] != 'i';
        op->nwbuf += sig[i] == 'w';
    }
    op->flags = flags;
    op->native = native;
    op->ctx = ctx;
    op->declared = 1;
    pthread_mutex_unlock(&o->lock);
    *out = op;
    return 0;
}

tenon_op_t *tenon_op_find(tenon_t *t, const char *name)
{
    struct tenon__ops *o =
        t ? __atomic_load_n(&t->ops, __ATOMIC_ACQUIRE) : NULL;
    struct tenon_op *op;
    if (!o || !name)
        return NULL;
    pthread_mutex_lock(&o->lock);
    op = op_get(t, o, name, 0);
    if (op && !op->declared)
        op = NULL;
    pthread_mutex_unlock(&o->lock);
    return op;
}

const char *tenon_op_name(const tenon_op_t *op) { return op->name; }

const char *tenon_op_sig(const tenon_op_t *op) { return op->sig; }

/* ---- snapshots ----------------------------------------------------------- */

/* Whether a hook runs in its instance's state now: a snapshot holds only
 * those, and is rebuilt when an instance is enabled or disabled, so that a
 * call checks nothing per hook. Under o->lock, which state changes take. */
static int runs_now(const struct hook *h)
{
    if (!h->inst)
        return 1;
    int st = atomic_load(&h->inst->state);
    return st == TENON_STATE_ENABLED ||
           (st == TENON_STATE_LOADED && (h->flags & TENON_HOOK_ALWAYS_ON));
}

static int hook_applies(const struct hook *h, int has_param, uint64_t param)
{
    return !h->has_param || (has_param && h->param == param);
}

/* The hooks of `op` that run for (has_param, param), in run order. */
static struct hookset *hookset_build(const struct tenon_op *op, int has_param,
                                     uint64_t param, int *oom)
{
    size_t n = 0, k = 0;
    struct hookset *hs;
    for (const struct hook *h = op->hooks; h; h = h->next)
        n += hook_applies(h, has_param, param) && runs_now(h);
    if (!n)
        return NULL;
    struct hook **v = malloc(n * sizeof *v);
    if (!v || !(hs = calloc(1, sizeof *hs + n * sizeof hs->h[0]))) {
        free(v);
        *oom = 1;
        return NULL;
    }
    for (int kind = 1; kind <= 3; kind++) {
        size_t first = k;
        for (struct hook *h = op->hooks; h; h = h->next)
            if (h->kind == kind && hook_applies(h, has_param, param) &&
                runs_now(h))
                v[k++] = h;
        if (kind == TENON_HOOK_DEFINE) /* by rank, stable: ties keep order */
            for (size_t i = first + 1; i < k; i++) {
                struct hook *x = v[i];
                size_t j = i;
                while (j > first && v[j - 1]->rank < x->rank) {
                    v[j] = v[j - 1];
                    j--;
                }
                v[j] = x;
            }
        for (size_t i = first; i < k; i++) {
            hs->h[i].fn = v[i]->fn;
            hs->h[i].ctx = v[i]->ctx;
            hs->h[i].hook = v[i];
        }
        if (kind == TENON_HOOK_BEFORE)
            hs->nbefore = (uint32_t)(k - first);
        else if (kind == TENON_HOOK_DEFINE)
            hs->ndefine = (uint32_t)(k - first);
        else
            hs->nafter = (uint32_t)(k - first);
    }
    free(v);
    return hs;
}

static void snapshot_free(struct snapshot *s)
{
    if (!s)
        return;
    free(s->any);
    for (size_t i = 0; i < s->nparams; i++)
        free(s->params[i].hs);
    free(s->params);
    free(s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Build op's snapshot from its hook list; returns the old one to retire
 * after a grace period (*old). Under o->lock. */
static int snapshot_publish(struct tenon_op *op, struct snapshot **old)
{
    struct snapshot *s = NULL;
    int oom = 0;
    size_t np = 0;
    uint64_t *params = NULL;

    if (op->hooks) {
        if (!(s = calloc(1, sizeof *s)))
            return TENON_ENOMEM;
        s->any = hookset_build(op, 0, 0, &oom);
        for (struct hook *h = op->hooks; h; h = h->next)
            np += h->has_param;
        if (np && !(params = malloc(np * sizeof *params)))
            oom = 1;
        np = 0;
        for (struct hook *h = op->hooks; h && params; h = h->next)
            if (h->has_param)
                params[np++] = h->param;
        if (np)
            qsort(params, np, sizeof *params, cmp_u64);
        size_t u = 0;
        for (size_t i = 0; i < np; i++)
            if (!u || params[u - 1] != params[i])
                params[u++] = params[i];
        if (u && !(s->params = calloc(u, sizeof *s->params)))
            oom = 1;
        for (size_t i = 0; i < u && s->params; i++) {
            s->params[i].param = params[i];
            s->params[i].hs = hookset_build(op, 1, params[i], &oom);
            s->nparams = i + 1;
        }
        free(params);
        if (oom) {
            snapshot_free(s);
            return TENON_ENOMEM;
        }
    }
    *old = atomic_exchange_explicit(&op->snap, s, memory_order_seq_cst);
    __atomic_store_n(&op->hooked, s != NULL, __ATOMIC_RELEASE);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

/* A call running on this thread: what buf_read()/buf_write() check. */
struct frame {
    struct tenon_op_call c;
    const struct tenon_op *op; /* what buf_read/buf_write check against: a
                                  hook may rewrite c, not this */
    const union tenon_op_arg *args;
    struct frame *up;
    unsigned depth; /* calls of this thread running, this one included */
};

/* After this thread detached hooks or changed states (r->changed): whether
 * the hook of `e` may still run. Its struct outlives this call (frees are
 * deferred to the end of the read section); its instance may not, so
 * `dead` (set by every detach, destroy's included) is read first. */
static int still_runs(const struct entry *e)
{
    return !atomic_load(&e->hook->dead) && runs_now(e->hook);
}

static const struct hookset *hookset_for(const struct snapshot *s,
                                         uint64_t param, int has_param)
{
    if (has_param && s->nparams) {
        size_t lo = 0, hi = s->nparams;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s->params[mid].param < param)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < s->nparams && s->params[lo].param == param)
            return s->params[lo].hs;
    }
    return s->any;
}

static inline int64_t native_call(const struct tenon_op *op, uint64_t param,
                                  const union tenon_op_arg *args)
{
    return op->native ? op->native(op->ctx, param, args) : 0;
}

int64_t tenon_op_dispatch(tenon_op_t *op, uint64_t param,
                          const union tenon_op_arg *args)
{
    struct reader *r = reader_get();
    struct frame *up = r->frames;
    if (!up)
        read_mark(r);
    const struct snapshot *s =
        atomic_load_explicit(&op->snap, memory_order_seq_cst);
    const struct hookset *hs =
        s ? hookset_for(s, param, (op->flags & TENON_OP_PARAM) != 0) : NULL;
    int64_t res;

    if (!hs) {
        if (!up)
            read_unmark(r);
        return native_call(op, param, args);
    }
    struct frame f;
    f.c.struct_size = sizeof f.c;
    f.c.argc = op->argc;
    f.c.op = op->name;
    f.c.sig = op->sig;
    f.c.param = param;
    f.c.result = 0;
    /* One register-sized move per argument: the caller has just stored
     * them one by one, and a wider copy (which a compiler makes of a plain
     * loop) would wait for the stores to drain (store forwarding fails on
     * a load that spans two stores). */
    if (!op->nbuf)
        for (uint32_t i = 0; i < op->argc; i++) {
            int64_t v = args[i].i;
            __asm__("" : "+r"(v));
            f.c.argv[i] = v;
        }
    else
        for (uint32_t i = 0; i < op->argc; i++)
            f.c.argv[i] =
                op->sig[i] == 'i' ? args[i].i : (int64_t)args[i].buf->len;
    f.op = op;
    f.args = args;
    f.up = up;
    f.depth = up ? up->depth + 1 : 1;
    r->frames = &f;

    const struct entry *e = hs->h, *end = e + hs->nbefore;
    int refused = 0;
    for (; e < end; e++) {
        if (__builtin_expect(r->changed, 0) && !still_runs(e))
            continue;
        int64_t v = e->fn(e->ctx, &f.c);
        if (v < 0 && v != TENON_EDECLINE) {
            res = v;
            refused = 1;
            break;
        }
    }
    e = hs->h + hs->nbefore;
    end = e + hs->ndefine;
    if (!refused) {
        /* the first definition that takes the call; one that declines
         * (TENON_EDECLINE) hands it to the next, then to the host */
        for (;; e++) {
            while (e < end && __builtin_expect(r->changed, 0) && !still_runs(e))
                e++;
            if (e == end) {
                res = native_call(op, param, args);
                break;
            }
            res = e->fn(e->ctx, &f.c);
            if (__builtin_expect(res != TENON_EDECLINE, 1))
                break;
        }
    }
    e = end;
    end = e + hs->nafter;
    if (e < end) {
        f.c.result = res;
        if (op->nwbuf)
            for (uint32_t i = 0; i < op->argc; i++) /* what the define wrote */
                if (op->sig[i] == 'w')
                    f.c.argv[i] = (int64_t)args[i].buf->len;
        for (; e < end; e++)
            if (!__builtin_expect(r->changed, 0) || still_runs(e))
                e->fn(e->ctx, &f.c);
    }
    r->frames = up;
    if (!up)
        read_unmark(r);
    return res;
}

int tenon_op_hooks(tenon_t *t, const char *ref, size_t *before, size_t *define,
                   size_t *after)
{
    struct tenon__ops *o =
        t ? __atomic_load_n(&t->ops, __ATOMIC_ACQUIRE) : NULL;
    char name[OP_NAME_MAX], why[TENON__REASON_MAX];
    int has;
    uint64_t param;
    size_t n[4] = {0, 0, 0, 0};
    int rc;

    if (!ref)
        return tenon__fail(TENON_EINVAL, "tenon_op_hooks: NULL operation");
    if ((rc = op_ref_parse(ref, strlen(ref), name, &has, &param, why,
                           sizeof why)))
        return tenon__fail(rc, "%s", why);
    if (o) {
        pthread_mutex_lock(&o->lock);
        struct tenon_op *op = op_get(t, o, name, 0);
        for (struct hook *h = op ? op->hooks : NULL; h; h = h->next)
            if (has ? hook_applies(h, 1, param) : !h->has_param)
                n[h->kind]++;
        pthread_mutex_unlock(&o->lock);
    }
    if (before)
        *before = n[TENON_HOOK_BEFORE];
    if (define)
        *define = n[TENON_HOOK_DEFINE];
    if (after)
        *after = n[TENON_HOOK_AFTER];
    return 0;
}

/* ---- attach / detach ----------------------------------------------------- */

static int attach(tenon_t *t, struct tenon_instance *inst, const char *ref,
                  int kind, unsigned flags, int rank, tenon_hook_fn fn,
                  void *ctx, uint64_t *id)
{
    struct tenon__ops *o;
    struct tenon_op *op;
    struct snapshot *old = NULL;
    char name[OP_NAME_MAX], why[TENON__REASON_MAX];
    struct hook *h;
    int rc;

    if (id)
        *id = 0;
    if (!t || !ref || !fn)
        return tenon__fail(TENON_EINVAL, "attach: NULL operation or function");
    if (kind < TENON_HOOK_BEFORE || kind > TENON_HOOK_AFTER)
        return tenon__fail(TENON_EINVAL,
                           "attach to '%.200s': kind %d is not before (1), "
                           "define (2) or after (3)",
                           ref, kind);
    if (flags & ~TENON_HOOK_ALWAYS_ON)
        return tenon__fail(
            TENON_EINVAL, "attach to '%.200s': unknown flags 0x%x", ref, flags);
    if (!(h = calloc(1, sizeof *h)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    if ((rc = op_ref_parse(ref, strlen(ref), name, &h->has_param, &h->param,
                           why, sizeof why))) {
        free(h);
        return tenon__fail(rc, "%s", why);
    }
    if (!(o = ops_of(t))) {
        free(h);
        return tenon__fail(TENON_ENOMEM, "out of memory");
    }
    h->kind = kind;
    h->flags = inst ? flags : TENON_HOOK_ALWAYS_ON;
    h->rank = rank;
    h->fn = fn;
    h->ctx = ctx;
    h->inst = inst;
    pthread_mutex_lock(&o->lock);
    if (!(op = op_get(t, o, name, 1))) {
        pthread_mutex_unlock(&o->lock);
        free(h);
        return tenon__fail(TENON_ENOMEM, "out of memory");
    }
    if (h->has_param && op->declared && !(op->flags & TENON_OP_PARAM)) {
        pthread_mutex_unlock(&o->lock);
        free(h);
        return tenon__fail(TENON_EINVAL,
                           "operation '%s' takes no parameter; '%.200s' "
                           "names one",
                           name, ref);
    }
    h->op = op;
    h->id = o->next_id++;
    struct hook **pp = &op->hooks;
    while (*pp)
        pp = &(*pp)->next;
    *pp = h;
    if ((rc = snapshot_publish(op, &old))) {
        *pp = NULL;
        pthread_mutex_unlock(&o->lock);
        free(h);
        return tenon__fail(rc, "out of memory");
    }
    if (id)
        *id = h->id;
    pthread_mutex_unlock(&o->lock);
    if (old) {
        synchronize();
        old->retired_next = NULL;
        retire(old, NULL);
    }
    return 0;
}

int tenon_op_attach(tenon_t *t, tenon_instance_t *inst, const char *op,
                    int kind, unsigned flags, int rank, tenon_hook_fn fn,
                    void *ctx, uint64_t *id)
{
    if (inst && inst->t != t)
        return tenon__fail(TENON_EINVAL,
                           "attach: the instance belongs to another context");
    return attach(t, inst, op, kind, flags, rank, fn, ctx, id);
}

/* Detach hooks matching (id, or every hook of `inst` when id is 0). The
 * caller's `owner` check: with `only` non-NULL, a hook of another owner is
 * TENON_EPERM. */
static int detach(tenon_t *t, uint64_t id, struct tenon_instance *inst,
                  int check_owner)
{
    struct tenon__ops *o = __atomic_load_n(&t->ops, __ATOMIC_ACQUIRE);
    struct hook *gone = NULL;
    struct snapshot *retired = NULL;
    int found = 0, rc = 0;

    if (!o)
        return id ? tenon__fail(TENON_ENOENT, "no hook has id %llu",
                                (unsigned long long)id)
                  : 0;
    pthread_mutex_lock(&o->lock);
    for (struct tenon_op *op = o->ops; op; op = op->next) {
        int changed = 0;
        for (struct hook **pp = &op->hooks; *pp;) {
            struct hook *h = *pp;
            if (id ? h->id == id : h->inst == inst) {
                if (id && check_owner && h->inst != inst) {
                    rc = TENON_EPERM;
                    pp = &h->next;
                    found = 1;
                    continue;
                }
                *pp = h->next;
                atomic_store(&h->dead, 1);
                h->next = gone;
                gone = h;
                changed = found = 1;
                continue;
            }
            pp = &h->next;
        }
        if (changed) {
            struct snapshot *old = NULL;
            /* building a smaller snapshot can still fail for memory: keep
             * trying, readers must never see a freed hook */
            while (snapshot_publish(op, &old))
                sched_yield();
            if (old) {
                old->retired_next = retired;
                retired = old;
            }
        }
    }
    pthread_mutex_unlock(&o->lock);
    if (gone && reading())
        my_reader->changed = 1;
    if (gone || retired)
        synchronize();
    retire(retired, gone);
    if (rc == TENON_EPERM && id)
        return tenon__fail(TENON_EPERM,
                           "hook %llu was attached by another owner",
                           (unsigned long long)id);
    if (id && !found)
        return tenon__fail(TENON_ENOENT, "no hook has id %llu",
                           (unsigned long long)id);
    return 0;
}

/* A batch of retired snapshots and hooks, freed together. */
struct retired {
    struct snapshot *snaps;
    struct hook *hooks;
    struct retired *next;
};

static void retired_free(struct snapshot *snaps, struct hook *hooks)
{
    while (snaps) {
        struct snapshot *n = snaps->retired_next;
        snapshot_free(snaps);
        snaps = n;
    }
    while (hooks) {
        struct hook *n = hooks->next;
        free(hooks);
        hooks = n;
    }
}

/* Free what a grace period retired, unless this thread is itself inside a
 * read section that may still use it: then when that section ends. */
static void retire(struct snapshot *snaps, struct hook *hooks)
{
    struct reader *r = my_reader;
    struct retired *b;
    if (!snaps && !hooks)
        return;
    if (!r || !r->frames) {
        retired_free(snaps, hooks);
        return;
    }
    while (!(b = malloc(sizeof *b)))
        sched_yield();
    b->snaps = snaps;
    b->hooks = hooks;
    b->next = r->deferred;
    r->deferred = b;
}

static void deferred_free(struct reader *r)
{
    struct retired *b = r->deferred;
    r->deferred = NULL;
    while (b) {
        struct retired *n = b->next;
        retired_free(b->snaps, b->hooks);
        free(b);
        b = n;
    }
}

int tenon_op_detach(tenon_t *t, uint64_t id)
{
    if (!t || !id)
        return tenon__fail(TENON_ENOENT, "no hook has id 0");
    return detach(t, id, NULL, 0);
}

int tenon__host_op_attach(struct tenon_instance *self, const char *op, int kind,
                          unsigned flags, tenon_hook_fn fn, void *ctx,
                          uint64_t *id)
{
    if (id)
        *id = 0;
    if (!tenon__perm_has(self, TENON__P_OP))
        return tenon__perm_refuse(self, TENON__P_OP, "attaching a hook");
    if (atomic_load(&self->state) == TENON_STATE_DISABLED)
        return tenon__fail(TENON_EPERM, "plugin '%s' is disabled",
                           self->plugin->info.name);
    return attach(self->t, self, op, kind, flags, self->plugin->info.rank, fn,
                  ctx, id);
}

int tenon__host_op_detach(struct tenon_instance *self, uint64_t id)
{
    if (!tenon__perm_has(self, TENON__P_OP))
        return tenon__perm_refuse(self, TENON__P_OP, "detaching a hook");
    if (!id)
        return tenon__fail(TENON_ENOENT, "no hook has id 0");
    return detach(self->t, id, self, 1);
}

/* ---- buffers ------------------------------------------------------------- */

static struct frame *frame_of(const struct tenon_op_call *call)
{
    for (struct frame *f = my_reader ? my_reader->frames : NULL; f; f = f->up)
        if (&f->c == call)
            return f;
    return NULL;
}

static int buf_arg(struct tenon_instance *self,
                   const struct tenon_op_call *call, uint32_t arg, int write,
                   struct frame **fp)
{
    struct frame *f = call ? frame_of(call) : NULL;
    if (!f)
        return tenon__fail(TENON_EINVAL,
                           "plugin '%s': the call is not running on this "
                           "thread",
                           self->plugin->info.name);
    if (arg >= f->op->argc || f->op->sig[arg] == 'i' ||
        (write && f->op->sig[arg] != 'w'))
        return tenon__fail(TENON_EINVAL,
                           "plugin '%s': argument %u of %s (signature '%s') "
                           "is not a %sbuffer",
                           self->plugin->info.name, arg, f->op->name,
                           f->op->sig, write ? "writable " : "");
    *fp = f;
    return 0;
}

int64_t tenon__host_buf_read(struct tenon_instance *self,
                             const struct tenon_op_call *call, uint32_t arg,
                             uint64_t off, void *dst, uint64_t len)
{
    struct frame *f;
    int rc;
    if (!tenon__perm_has(self, TENON__P_BUF_READ))
        return tenon__perm_refuse(self, TENON__P_BUF_READ,
                                  "reading a buffer of an operation");
    if ((rc = buf_arg(self, call, arg, 0, &f)))
        return rc;
    const struct tenon_buf *b = f->args[arg].buf;
    if (off >= b->len)
        return 0;
    if (len > b->len - off)
        len = b->len - off;
    if (len > INT64_MAX)
        len = INT64_MAX;
    if (len && !dst)
        return tenon__fail(TENON_EINVAL, "buf_read: NULL destination");
    if (len)
        memcpy(dst, (const char *)b->data + off, (size_t)len);
    return (int64_t)len;
}

int64_t tenon__host_buf_write(struct tenon_instance *self,
                              const struct tenon_op_call *call, uint32_t arg,
                              uint64_t off, const void *src, uint64_t len)
{
    struct frame *f;
    int rc;
    if (!tenon__perm_has(self, TENON__P_BUF_WRITE))
        return tenon__perm_refuse(self, TENON__P_BUF_WRITE,
                                  "writing a buffer of an operation");
    if ((rc = buf_arg(self, call, arg, 1, &f)))
        return rc;
    struct tenon_buf *b = f->args[arg].buf;
    if (off > b->len)
        return tenon__fail(TENON_ERANGE,
                           "plugin '%s': writing at %llu of argument %u of %s "
                           "would leave a gap: its length is %zu (write at "
                           "or before the end)",
                           self->plugin->info.name, (unsigned long long)off,
                           arg, f->op->name, b->len);
    if (len > b->cap - off || len > INT64_MAX)
        return tenon__fail(TENON_ERANGE,
                           "plugin '%s': writing %llu bytes at %llu of "
                           "argument %u of %s exceeds its capacity of %zu",
                           self->plugin->info.name, (unsigned long long)len,
                           (unsigned long long)off, arg, f->op->name, b->cap);
    if (len && !src)
        return tenon__fail(TENON_EINVAL, "buf_write: NULL source");
    if (len)
        memcpy((char *)b->data + off, src, (size_t)len);
    if (off + len > b->len)
        b->len = (size_t)(off + len);
    f->c.argv[arg] = (int64_t)b->len;
    return (int64_t)len;
}

/* ---- a plugin calling an operation --------------------------------------- */

int tenon__host_op_call(struct tenon_instance *self, const char *ref,
                        struct tenon_op_value *argv, uint32_t argc,
                        int64_t *result)
{
    char name[OP_NAME_MAX], why[TENON__REASON_MAX];
    struct tenon_buf bufs[TENON_OP_MAX_ARGS];
    union tenon_op_arg args[TENON_OP_MAX_ARGS];
    struct tenon_op *op;
    uint64_t param;
    int has, rc;

    if (result)
        *result = 0;
    if (!tenon__perm_has(self, TENON__P_OP))
        return tenon__perm_refuse(self, TENON__P_OP, "calling an operation");
    if (!ref)
        return tenon__fail(TENON_EINVAL, "op_call: NULL operation");
    if ((rc = op_ref_parse(ref, strlen(ref), name, &has, &param, why,
                           sizeof why)))
        return tenon__fail(rc, "%s", why);
    if (reading() && my_reader->frames->depth >= TENON_OP_MAX_DEPTH)
        return tenon__fail(TENON_EBUSY,
                           "plugin '%s': operations nested %d deep; calling "
                           "'%s' would go deeper than the limit",
                           self->plugin->info.name, TENON_OP_MAX_DEPTH, name);
    if (!(op = tenon_op_find(self->t, name)))
        return tenon__fail(TENON_ENOENT, "no operation '%s' is declared", name);
    if (has != !!(op->flags & TENON_OP_PARAM))
        return tenon__fail(TENON_EINVAL, "operation '%s' %s", name,
                           has ? "takes no parameter" : "needs a parameter");
    if (argc != op->argc || (argc && !argv))
        return tenon__fail(TENON_EINVAL,
                           "operation '%s' (signature '%s') takes %u "
                           "arguments, got %u",
                           name, op->sig, op->argc, argc);
    for (uint32_t i = 0; i < argc; i++) {
        if (op->sig[i] == 'i') {
            args[i].i = argv[i].i;
            continue;
        }
        if (!argv[i].data && argv[i].len)
            return tenon__fail(TENON_EINVAL,
                               "operation '%s': argument %u is a NULL buffer",
                               name, i);
        bufs[i].data = (void *)(uintptr_t)argv[i].data;
        bufs[i].len = op->sig[i] == 'w' ? 0 : (size_t)argv[i].len;
        bufs[i].cap = (size_t)argv[i].len;
        args[i].buf = &bufs[i];
    }
    int64_t r = tenon_op_dispatch(op, param, args);
    for (uint32_t i = 0; i < argc; i++)
        if (op->sig[i] == 'w')
            argv[i].len = bufs[i].len;
    if (result)
        *result = r;
    return 0;
}

/* ---- instance state ------------------------------------------------------ */

/* Set inst's state (from `from`, or any state but DISABLED when `from` is
 * -1) and rebuild the snapshots of the operations it hooks, so that they
 * hold exactly the hooks that run now; returns the state it had. When this
 * returns, a hook the change stopped runs on no other thread. */
static int set_state(struct tenon_instance *inst, int to)
{
    struct tenon__ops *o = __atomic_load_n(&inst->t->ops, __ATOMIC_ACQUIRE);
    struct snapshot *retired = NULL;
    int old;

    if (!o)
        return atomic_exchange(&inst->state, to);
    pthread_mutex_lock(&o->lock);
    old = atomic_load(&inst->state);
    if (old == TENON_STATE_DISABLED || old == to) {
        pthread_mutex_unlock(&o->lock);
        return old;
    }
    atomic_store(&inst->state, to);
    if (reading())
        my_reader->changed = 1;
    for (struct tenon_op *op = o->ops; op; op = op->next) {
        struct hook *h = op->hooks;
        while (h && h->inst != inst)
            h = h->next;
        if (!h)
            continue;
        struct snapshot *prev = NULL;
        while (snapshot_publish(op, &prev))
            sched_yield();
        if (prev) {
            prev->retired_next = retired;
            retired = prev;
        }
    }
    pthread_mutex_unlock(&o->lock);
    if (retired) {
        synchronize();
        retire(retired, NULL);
    }
    return old;
}

int tenon_instance_enable(tenon_instance_t *inst)
{
    if (!inst)
        return tenon__fail(TENON_EINVAL, "enable: NULL instance");
    if (set_state(inst, TENON_STATE_ENABLED) != TENON_STATE_DISABLED)
        return 0;
    return tenon__fail(TENON_EPERM, "plugin '%s' is disabled: %s",
                       inst->plugin->info.name,
                       inst->error[0] ? inst->error : "no reason given");
}

int tenon__host_enable(struct tenon_instance *self)
{
    return tenon_instance_enable(self);
}

int tenon_instance_state(const tenon_instance_t *inst)
{
    return atomic_load((atomic_int *)(uintptr_t)&inst->state);
}

void tenon_instance_disable(tenon_instance_t *inst, const char *reason)
{
    if (!inst)
        return;
    char msg[480];
    snprintf(msg, sizeof msg, "%s",
             reason && *reason ? reason : "disabled, no reason given");
    if (set_state(inst, TENON_STATE_DISABLED) != TENON_STATE_DISABLED) {
        tenon__instance_note(inst, msg);
        tenon__log(inst->t, TENON_LOG_WARN, "tenon", "plugin '%s' disabled: %s",
                   inst->plugin->info.name,
                   reason && *reason ? reason : "no reason given");
    }
}

void tenon__host_disable(struct tenon_instance *self, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!self)
        return;
    if (!fmt) {
        tenon_instance_disable(self, NULL);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tenon_instance_disable(self, msg);
}

/* ---- timers -------------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int timer_before(const struct timer *a, const struct timer *b)
{
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_up(struct timer *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!timer_before(&h[i], &h[p]))
            break;
        struct timer x = h[i];
        h[i] = h[p];
        h[p] = x;
        i = p;
    }
}

static void heap_down(struct timer *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && timer_before(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && timer_before(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        struct timer x = h[i];
        h[i] = h[m];
        h[m] = x;
        i = m;
    }
}

static void heap_remove(struct tenon__ops *o, size_t i)
{
    o->heap[i] = o->heap[--o->nheap];
    if (i < o->nheap) {
        heap_down(o->heap, o->nheap, i);
        heap_up(o->heap, i);
    }
}

int tenon__host_timer_set(struct tenon_instance *self, uint64_t delay_ns,
                          tenon_timer_fn fn, void *ctx, uint64_t *id)
{
    struct tenon__ops *o;
    if (id)
        *id = 0;
    if (!tenon__perm_has(self, TENON__P_TIMER))
        return tenon__perm_refuse(self, TENON__P_TIMER, "setting a timer");
    if (!fn)
        return tenon__fail(TENON_EINVAL, "timer_set: NULL function");
    if (atomic_load(&self->state) == TENON_STATE_DISABLED)
        return tenon__fail(TENON_EPERM, "plugin '%s' is disabled",
                           self->plugin->info.name);
    if (!(o = ops_of(self->t)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    if (delay_ns > (uint64_t)INT64_MAX / 2)
        delay_ns = (uint64_t)INT64_MAX / 2;
    pthread_mutex_lock(&o->tlock);
    if (tenon__grow(&o->heap, &o->capheap, o->nheap + 1, sizeof *o->heap)) {
        pthread_mutex_unlock(&o->tlock);
        return tenon__fail(TENON_ENOMEM, "out of memory");
    }
    struct timer *tm = &o->heap[o->nheap];
    tm->deadline = now_ns() + (int64_t)delay_ns;
    tm->seq = ++o->tseq;
    tm->id = tm->seq;
    tm->inst = self;
    tm->fn = fn;
    tm->ctx = ctx;
    if (id)
        *id = tm->id;
    heap_up(o->heap, o->nheap++);
    pthread_mutex_unlock(&o->tlock);
    return 0;
}

static int on_poller(struct tenon__ops *o)
{
    return o->firing && pthread_equal(o->poller, pthread_self());
}

int tenon__host_timer_cancel(struct tenon_instance *self, uint64_t id)
{
    struct tenon__ops *o;
    if (!tenon__perm_has(self, TENON__P_TIMER))
        return tenon__perm_refuse(self, TENON__P_TIMER, "cancelling a timer");
    if (id == 0 || !(o = __atomic_load_n(&self->t->ops, __ATOMIC_ACQUIRE)))
        return tenon__fail(TENON_ENOENT, "no timer has id %llu",
                           (unsigned long long)id);
    pthread_mutex_lock(&o->tlock);
    for (size_t i = 0; i < o->nheap; i++)
        if (o->heap[i].id == id && o->heap[i].inst == self) {
            heap_remove(o, i);
            pthread_mutex_unlock(&o->tlock);
            return 0;
        }
    while (o->firing == id && o->firing_inst == self && !on_poller(o))
        pthread_cond_wait(&o->tcond, &o->tlock);
    pthread_mutex_unlock(&o->tlock);
    return tenon__fail(TENON_ENOENT,
                       "plugin '%s' has no pending timer with id %llu",
                       self->plugin->info.name, (unsigned long long)id);
}

size_t tenon_poll(tenon_t *t, int64_t *next_ns)
{
    struct tenon__ops *o =
        t ? __atomic_load_n(&t->ops, __ATOMIC_ACQUIRE) : NULL;
    size_t fired = 0;

    if (next_ns)
        *next_ns = -1;
    if (!o)
        return 0;
    if (pthread_mutex_trylock(&o->poll_lock))
        return 0;
    pthread_mutex_lock(&o->tlock);
    /* Only what was due when the call began: a callback that sets a timer
     * with no delay gets it fired by the next call, so one call ends. */
    int64_t start = now_ns();
    for (;;) {
        if (!o->nheap || o->heap[0].deadline > start) {
            int64_t now = now_ns();
            if (next_ns && o->nheap)
                *next_ns =
                    o->heap[0].deadline > now ? o->heap[0].deadline - now : 0;
            break;
        }
        struct timer tm = o->heap[0];
        heap_remove(o, 0);
        if (atomic_load(&tm.inst->state) == TENON_STATE_DISABLED)
            continue;
        o->firing = tm.id;
        o->firing_inst = tm.inst;
        o->poller = pthread_self();
        pthread_mutex_unlock(&o->tlock);
        tm.fn(tm.ctx, tm.id);
        fired++;
        pthread_mutex_lock(&o->tlock);
        o->firing = 0;
        o->firing_inst = NULL;
        pthread_cond_broadcast(&o->tcond);
    }
    pthread_mutex_unlock(&o->tlock);
    pthread_mutex_unlock(&o->poll_lock);
    return fired;
}

/* ---- instances: hooks and timers ----------------------------------------- */

int tenon__instance_hooks_attach(struct tenon_instance *inst)
{
    const struct tenon__info *info = &inst->plugin->info;
    const struct tenon_hooks_v1 *vt;
    size_t k = 0;
    int rc;

    if (!info->nhooks)
        return 0;
    vt = inst->lib->entry->get_interface(inst->obj, TENON_HOOKS_ID);
    if (!vt || vt->struct_size < sizeof *vt || vt->count != info->nhooks ||
        !vt->fns)
        return tenon__fail(TENON_EPLUGIN,
                           "plugin '%s' declares %zu hook(s) but its %s "
                           "interface %s",
                           info->name, info->nhooks, TENON_HOOKS_ID,
                           !vt ? "is missing"
                               : "does not give one function for each");
    for (size_t i = 0; i < info->nkv; i++) {
        char op[OP_NAME_MAX + 32], why[TENON__REASON_MAX];
        int kind;
        unsigned flags;
        uint64_t id;
        if (strcmp(info->kv[i].key, "hook") != 0)
            continue;
        if ((rc = tenon__hook_spec_parse(info->kv[i].value, &kind, op,
                                         sizeof op, &flags, why, sizeof why)))
            return tenon__fail(rc, "plugin '%s': %s", info->name, why);
        if (!vt->fns[k])
            return tenon__fail(TENON_EPLUGIN,
                               "plugin '%s': hook %zu (%s) has no function",
                               info->name, k, info->kv[i].value);
        if ((rc = attach(inst->t, inst, op, kind, flags, info->rank, vt->fns[k],
                         inst->obj, &id)))
            return rc;
        k++;
    }
    return 0;
}

void tenon__instance_ops_stop(struct tenon_instance *inst)
{
    struct tenon__ops *o = __atomic_load_n(&inst->t->ops, __ATOMIC_ACQUIRE);
    if (!o)
        return;
    detach(inst->t, 0, inst, 0);
    pthread_mutex_lock(&o->tlock);
    /* keep the others, then restore the heap order: removing entries one
     * by one while walking the array would move some past the walk */
    size_t k = 0;
    for (size_t i = 0; i < o->nheap; i++)
        if (o->heap[i].inst != inst)
            o->heap[k++] = o->heap[i];
    o->nheap = k;
    for (size_t i = k / 2; i-- > 0;)
        heap_down(o->heap, k, i);
    /* a timer of this instance firing on another thread must finish */
    while (o->firing && o->firing_inst == inst && !on_poller(o))
        pthread_cond_wait(&o->tcond, &o->tlock);
    pthread_mutex_unlock(&o->tlock);
}

/* ---- policy -------------------------------------------------------------- */

/* Up to 64 bytes of `s` as shown in a message: control bytes, invalid
 * UTF-8 and the like escaped (tenon__esc_char), never raw. */
static const char *esc_tok(char out[64 * TENON__ESC_MAX + 1], const char *s,
                           size_t len)
{
    char tmp[65];
    size_t n = len > 64 ? 64 : len, o = 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n && tmp[i];) {
        char e[TENON__ESC_MAX];
        size_t el;
        i += tenon__esc_char(tmp + i, e, &el);
        memcpy(out + o, e, el);
        o += el;
    }
    out[o] = '\0';
    return out;
}

/* Parse "log, timer" / "all" / "none" into a mask: names separated by
 * spaces or commas, at least one; "all" and "none" stand alone. */
static int perms_parse(const char *s, size_t len, uint32_t *mask, char *why,
                       size_t why_len)
{
    char shown[64 * TENON__ESC_MAX + 1];
    size_t i = 0, ntok = 0;
    int word = 0; /* saw all or none */
    *mask = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t st = i;
        while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != ',')
            i++;
        if (st == i)
            break;
        ntok++;
        if (i - st == 3 && memcmp(s + st, "all", 3) == 0) {
            *mask = (1u << TENON__P_COUNT) - 1;
            word = 1;
        } else if (i - st == 4 && memcmp(s + st, "none", 4) == 0) {
            word = 1;
        } else {
            int b = tenon__perm_lookup(s + st, i - st);
            if (b < 0) {
                char known[256];
                perm_list((1u << TENON__P_COUNT) - 1, known, sizeof known);
                return tenon__reason(why, why_len, TENON_EINVAL,
                                     "unknown permission '%s'; expected "
                                     "one of: %s, all, none",
                                     esc_tok(shown, s + st, i - st), known);
            }
            *mask |= 1u << b;
        }
    }
    if (!ntok)
        return tenon__reason(why, why_len, TENON_EINVAL,
                             "no permissions; expected names, 'all' or "
                             "'none'");
    if (word && ntok > 1)
        return tenon__reason(why, why_len, TENON_EINVAL,
                             "'all' and 'none' stand alone; expected one of "
                             "them or a list of names");
    return 0;
}

static int valid_policy_plugin(const char *s, size_t len)
{
    return (len == 1 && s[0] == '*') || tenon__valid_name(s, len);
}

static int policy_put(struct tenon__ops *o, const char *plugin, size_t len,
                      uint32_t mask)
{
    for (size_t i = 0; i < o->npolicy; i++)
        if (strlen(o->policy[i].plugin) == len &&
            memcmp(o->policy[i].plugin, plugin, len) == 0) {
            o->policy[i].mask = mask;
            return 0;
        }
    struct policy_entry *n =
        realloc(o->policy, (o->npolicy + 1) * sizeof *o->policy);
    if (!n)
        return TENON_ENOMEM;
    o->policy = n;
    if (!(n[o->npolicy].plugin = tenon__strndup(plugin, len)))
        return TENON_ENOMEM;
    n[o->npolicy++].mask = mask;
    o->have_policy = 1;
    return 0;
}

int tenon_policy_set(tenon_t *t, const char *plugin, const char *perms)
{
    struct tenon__ops *o;
    char why[TENON__REASON_MAX];
    uint32_t mask;
    int rc;

    if (!t || !plugin || !perms)
        return tenon__fail(TENON_EINVAL, "tenon_policy_set: NULL argument");
    if (!valid_policy_plugin(plugin, strlen(plugin))) {
        char shown[64 * TENON__ESC_MAX + 1];
        return tenon__fail(TENON_EINVAL,
                           "policy: '%s' is not a plugin name or '*'",
                           esc_tok(shown, plugin, strlen(plugin)));
    }
    if ((rc = perms_parse(perms, strlen(perms), &mask, why, sizeof why)))
        return tenon__fail(rc, "policy for '%s': %s", plugin, why);
    if (!(o = ops_of(t)))
        return tenon__fail(TENON_ENOMEM, "out of memory");
    pthread_mutex_lock(&o->lock);
    rc = policy_put(o, plugin, strlen(plugin), mask);
    pthread_mutex_unlock(&o->lock);
    return rc ? tenon__fail(rc, "out of memory") : 0;
}

int tenon_policy_parse(tenon_t *t, const char *text, size_t len,
                       const char *what)
{
    struct tenon__ops *o;
    struct {
        const char *name;
        size_t len;
        uint32_t mask;
    } *lines = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char why[TENON__REASON_MAX], shown[64 * TENON__ESC_MAX + 1];
    int rc = 0;

    if (!t || (!text && len))
        return tenon__fail(TENON_EINVAL, "tenon_policy_parse: NULL argument");
    if (!what)
        what = "policy";
    for (size_t i = 0; i < len;) {
        const char *ln = text + i, *nl = memchr(ln, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - ln) : len - i;
        i += ll + (nl != NULL);
        lineno++;
        const char *hash = memchr(ln, '#', ll);
        if (hash)
            ll = (size_t)(hash - ln);
        size_t a = 0;
        while (a < ll && (ln[a] == ' ' || ln[a] == '\t' || ln[a] == '\r'))
            a++;
        while (ll > a &&
               (ln[ll - 1] == ' ' || ln[ll - 1] == '\t' || ln[ll - 1] == '\r'))
            ll--;
        if (a == ll)
            continue;
        if (memchr(ln + a, '\0', ll - a)) {
            rc = tenon__fail(TENON_EINVAL, "%s, line %zu: a NUL byte", what,
                             lineno);
            goto out;
        }
        size_t b = a;
        while (b < ll && ln[b] != ' ' && ln[b] != '\t')
            b++;
        if (!valid_policy_plugin(ln + a, b - a)) {
            rc = tenon__fail(TENON_EINVAL,
                             "%s, line %zu: '%s' is not a plugin name or "
                             "'*'; expected: PLUGIN PERMISSION...",
                             what, lineno, esc_tok(shown, ln + a, b - a));
            goto out;
        }
        if (b == ll) {
            rc = tenon__fail(TENON_EINVAL,
                             "%s, line %zu: no permissions after '%.*s'; "
                             "expected a list, 'all' or 'none'",
                             what, lineno, (int)(b - a), ln + a);
            goto out;
        }
        uint32_t mask;
        if (perms_parse(ln + b, ll - b, &mask, why, sizeof why)) {
            rc = tenon__fail(TENON_EINVAL, "%s, line %zu: %s", what, lineno,
                             why);
            goto out;
        }
        for (size_t k = 0; k < n; k++)
            if (lines[k].len == b - a &&
                memcmp(lines[k].name, ln + a, b - a) == 0) {
                rc = tenon__fail(TENON_EINVAL,
                                 "%s, line %zu: '%.*s' has a line already",
                                 what, lineno, (int)(b - a), ln + a);
                goto out;
            }
        if (tenon__grow(&lines, &cap, n + 1, sizeof *lines)) {
            rc = tenon__fail(TENON_ENOMEM, "out of memory");
            goto out;
        }
        lines[n].name = ln + a;
        lines[n].len = b - a;
        lines[n++].mask = mask;
    }
    if (!(o = ops_of(t))) {
        rc = tenon__fail(TENON_ENOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&o->lock);
    for (size_t k = 0; k < n && !rc; k++)
        rc = policy_put(o, lines[k].name, lines[k].len, lines[k].mask);
    o->have_policy = 1;
    pthread_mutex_unlock(&o->lock);
    if (rc)
        rc = tenon__fail(rc, "out of memory");
out:
    free(lines);
    return rc;
}

int tenon_policy_load(tenon_t *t, const char *path)
{
    struct stat st;
    char *buf;
    int fd, rc;

    if (!path)
        return tenon__fail(TENON_EINVAL, "tenon_policy_load: NULL path");
    if ((fd = tenon__open_regular(AT_FDCWD, path, &st)) < 0)
        return tenon__fail(TENON_EIO, "cannot open policy file %s: %s", path,
                           strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
        close(fd);
        return tenon__fail(TENON_EINVAL,
                           "policy file %s: expected a regular file of at "
                           "most 1 MiB",
                           path);
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return tenon__fail(TENON_ENOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    rc = tenon_policy_parse(t, buf, got, path);
    free(buf);
    return rc;
}

int tenon__ops_policy_env(tenon_t *t)
{
    const char *f = getenv("TENON_POLICY");
    if (f && !*f) /* set but empty: a mistake, not "no policy" */
        return tenon__fail(TENON_EINVAL,
                           "the variable is set but empty; expected the "
                           "path of a policy file (unset it for none)");
    return f ? tenon_policy_load(t, f) : 0;
}

int tenon_policy_check(tenon_t *t, const tenon_plugin_t *p, uint32_t *asked,
                       uint32_t *granted)
{
    uint32_t g = 0;
    if (!t || !p)
        return tenon__fail(TENON_EINVAL, "tenon_policy_check: NULL argument");
    if (asked)
        *asked = p->info.perms_declared ? p->info.perms
                                        : TENON__PERM_LEGACY | p->info.perms;
    int rc = tenon__perms_grant(t, p, &g);
    if (granted)
        *granted = g;
    return rc;
}

int tenon__perms_grant(tenon_t *t, const struct tenon_plugin *p,
                       uint32_t *granted)
{
    const struct tenon__info *info = &p->info;
    uint32_t want = info->perms_declared ? info->perms : TENON__PERM_LEGACY;
    uint32_t allowed = (1u << TENON__P_COUNT) - 1;
    struct tenon__ops *o = __atomic_load_n(&t->ops, __ATOMIC_ACQUIRE);

    if (!info->perms_declared)
        want |= info->perms; /* hooks ask for "op" */
    if (o) {
        pthread_mutex_lock(&o->lock);
        if (o->have_policy) {
            const struct policy_entry *star = NULL, *mine = NULL;
            for (size_t i = 0; i < o->npolicy; i++) {
                if (strcmp(o->policy[i].plugin, "*") == 0)
                    star = &o->policy[i];
                else if (strcmp(o->policy[i].plugin, info->name) == 0)
                    mine = &o->policy[i];
            }
            allowed = mine ? mine->mask : star ? star->mask : 0;
        }
        pthread_mutex_unlock(&o->lock);
    }
    *granted = want & allowed;
    if (want & ~allowed) {
        char refused[256], ok[256];
        perm_list(want & ~allowed, refused, sizeof refused);
        perm_list(allowed, ok, sizeof ok);
        return tenon__fail(TENON_EPERM,
                           "plugin '%s' asks for permissions the policy does "
                           "not grant it: %s (the policy grants: %s)",
                           info->name, refused, ok);
    }
    return 0;
}

void tenon__ops_free(tenon_t *t)
{
    struct tenon__ops *o = t->ops;
    if (!o)
        return;
    while (o->ops) {
        struct tenon_op *op = o->ops;
        o->ops = op->next;
        while (op->hooks) {
            struct hook *h = op->hooks;
            op->hooks = h->next;
            free(h);
        }
        snapshot_free(atomic_load(&op->snap));
        free(op);
    }
    for (size_t i = 0; i < o->npolicy; i++)
        free(o->policy[i].plugin);
    free(o->policy);
    free(o->heap);
    pthread_mutex_destroy(&o->lock);
    pthread_mutex_destroy(&o->tlock);
    pthread_mutex_destroy(&o->poll_lock);
    pthread_cond_destroy(&o->tcond);
    free(o);
    t->ops = NULL;
}
