/*
 * kv-ttl - kvserver keys that expire: EXPIRE key seconds, TTL key.
 *
 *     tenon-kvserver --plugin kv-ttl
 *     EXPIRE session:9 1.5   ->  OK   (NIL when the key is not set)
 *     TTL session:9          ->  VALUE 1.496   (NIL: no expiry pending)
 *
 * A define on kv.unknown, the operation kvserver calls for verbs it does
 * not know, adds the two commands; any other verb it declines
 * (TENON_EDECLINE), so another plugin's definition or the server's own
 * code ("unknown command") answers it. EXPIRE sets a host timer (permission
 * timer) whose callback deletes the key through the server's kv.del
 * operation (permission op). An after hook on kv.command cancels the
 * pending expiry of a key that a successful SET or DEL replaced.
 */
#include <tenon/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kvops.h"

TENON_PLUGIN_INFO("kv-ttl", "0.1.0",
    TENON_DESCRIPTION("Adds EXPIRE and TTL to kvserver, with timers")
    TENON_LICENSE("MIT")
    TENON_HELP("EXPIRE key seconds: delete key after that many seconds "
               "(0.001 to 31536000, a fraction allowed); 'OK', or 'NIL' when "
               "the key is not set. A later EXPIRE replaces the pending one; "
               "SET and DEL of the key cancel it. TTL key: the seconds left "
               "('VALUE 1.250'), or 'NIL' when no expiry is pending.")
    TENON_PERMISSION("op")
    TENON_PERMISSION("log")
    TENON_PERMISSION("buffer.read")
    TENON_PERMISSION("buffer.write")
    TENON_PERMISSION("timer")
    TENON_HOOK_DEFINE(KV_OP_UNKNOWN)
    TENON_HOOK_AFTER(KV_OP_COMMAND));

#define MAX_SECONDS 31536000ull /* a year */

struct ttl;

/* A pending expiry. */
struct entry {
    struct entry *next;
    struct ttl *ttl;
    uint64_t hash, timer, deadline_ns;
    size_t klen;
    char key[];
};

struct ttl {
    const struct tenon_host *host;
    struct tenon_instance *self;
    struct entry **slots;
    size_t nslots, count;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the pending expiries, by key -------------------------------------- */

static uint64_t hash_of(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
    return h;
}

static struct entry **find(struct ttl *t, const char *key, size_t klen,
                           uint64_t h)
{
    struct entry **pp = &t->slots[h & (t->nslots - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->klen == klen &&
            memcmp((*pp)->key, key, klen) == 0)
            break;
    return pp;
}

static void grow(struct ttl *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 64;
    struct entry **slots = calloc(n, sizeof *slots);
    if (!slots)
        return; /* longer chains, then */
    for (size_t i = 0; i < t->nslots; i++)
        for (struct entry *e = t->slots[i], *next; e; e = next) {
            next = e->next;
            e->next = slots[e->hash & (n - 1)];
            slots[e->hash & (n - 1)] = e;
        }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
}

static void unlink_entry(struct ttl *t, struct entry *e)
{
    struct entry **pp = find(t, e->key, e->klen, e->hash);
    if (*pp == e) {
        *pp = e->next;
        t->count--;
    }
    free(e);
}

/* Drop the pending expiry of `key`, if any. */
static void cancel(struct ttl *t, const char *key, size_t klen)
{
    struct entry *e;
    if (!t->count || !(e = *find(t, key, klen, hash_of(key, klen))))
        return;
    t->host->timer_cancel(t->self, e->timer);
    unlink_entry(t, e);
}

/* ---- reading and writing the call's buffers ------------------------------ */

/* Buffer `arg` of `call` into a malloc'd string of *len bytes (plus a
 * NUL); NULL when it cannot be read. */
static char *read_arg(struct ttl *t, const struct tenon_op_call *call,
                      uint32_t arg, size_t *len)
{
    size_t n = (size_t)call->argv[arg];
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (t->host->buf_read(t->self, call, arg, 0, s, n) != (int64_t)n) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    *len = n;
    return s;
}

static int64_t reply(struct ttl *t, const struct tenon_op_call *call,
                     int64_t rc, const char *text)
{
    t->host->buf_write(t->self, call, KV_ARG_REPLY, 0, text, strlen(text));
    return rc;
}

/* "1", "0.25", "90.5": seconds as nanoseconds; 0 when it is no such
 * number or out of range. */
static uint64_t parse_seconds(const char *s)
{
    uint64_t sec = 0, frac = 0, scale = 100000000;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((sec = sec * 10 + (uint64_t)(*p - '0')) > MAX_SECONDS)
            return 0;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (uint64_t)(*p - '0') * scale;
    if (*p || (sec == 0 && frac < 1000000) ||
        sec * 1000000000ull + frac > MAX_SECONDS * 1000000000ull)
        return 0;
    return sec * 1000000000ull + frac;
}

/* ---- the timer: the key goes ------------------------------------------------
 */

static void expire(void *ctx, uint64_t id)
{
    struct entry *e = ctx;
    struct ttl *t = e->ttl;
    struct tenon_op_value key = {0, e->key, e->klen};
    int64_t deleted = 0;
    int rc;
    (void)id;

    rc = t->host->op_call(t->self, KV_OP_DEL, &key, 1, &deleted);
    if (rc)
        t->host->log(t->self, TENON_LOG_WARN, "%s: %.*s not deleted: %s",
                     KV_OP_DEL, (int)e->klen, e->key, t->host->last_error());
    else
        TENON_LOG(t->host, t->self, TENON_LOG_DEBUG, "expired %.*s%s",
                  (int)e->klen, e->key, deleted ? "" : " (already gone)");
    unlink_entry(t, e);
}

/* ---- the commands
 * ------------------------------------------------------------ */

static int64_t cmd_expire(struct ttl *t, const struct tenon_op_call *call)
{
    char *key = NULL, *secs = NULL;
    size_t klen = 0, slen;
    uint64_t ns;
    int64_t exists = 0, rc;
    struct tenon_op_value arg;
    struct entry *e;

    if (call->argv[KV_ARG_NARGS] != 2)
        return reply(t, call, TENON_EINVAL,
                     "ERR EXPIRE takes a key and seconds: EXPIRE key seconds");
    if (!(key = read_arg(t, call, KV_ARG_KEY, &klen)) ||
        !(secs = read_arg(t, call, KV_ARG_VALUE, &slen))) {
        rc = reply(t, call, TENON_EIO, "ERR kv-ttl cannot read the command");
        goto out;
    }
    if (!(ns = parse_seconds(secs))) {
        rc = reply(t, call, TENON_EINVAL,
                   "ERR EXPIRE seconds: a number from 0.001 to 31536000, "
                   "e.g. 10 or 0.5");
        goto out;
    }
    arg = (struct tenon_op_value){0, key, klen};
    if ((rc = t->host->op_call(t->self, KV_OP_EXISTS, &arg, 1, &exists)))
        goto out;
    if (!exists) {
        rc = reply(t, call, 0, "NIL");
        goto out;
    }
    cancel(t, key, klen);
    if (t->count >= t->nslots)
        grow(t);
    if (!t->nslots || !(e = malloc(sizeof *e + klen))) {
        rc = reply(t, call, TENON_ENOMEM, "ERR out of memory");
        goto out;
    }
    e->ttl = t;
    e->hash = hash_of(key, klen);
    e->klen = klen;
    e->deadline_ns = now_ns() + ns;
    memcpy(e->key, key, klen);
    if ((rc = t->host->timer_set(t->self, ns, expire, e, &e->timer))) {
        free(e);
        rc = reply(t, call, rc, "ERR kv-ttl cannot set a timer");
        goto out;
    }
    e->next = t->slots[e->hash & (t->nslots - 1)];
    t->slots[e->hash & (t->nslots - 1)] = e;
    t->count++;
    rc = reply(t, call, 0, "OK");
out:
    free(key);
    free(secs);
    return rc;
}

static int64_t cmd_ttl(struct ttl *t, const struct tenon_op_call *call)
{
    char *key, text[48];
    size_t klen;
    struct entry *e = NULL;
    uint64_t now, left;

    if (call->argv[KV_ARG_NARGS] != 1)
        return reply(t, call, TENON_EINVAL, "ERR TTL takes a key: TTL key");
    if (!(key = read_arg(t, call, KV_ARG_KEY, &klen)))
        return reply(t, call, TENON_EIO, "ERR kv-ttl cannot read the command");
    if (t->count)
        e = *find(t, key, klen, hash_of(key, klen));
    free(key);
    if (!e)
        return reply(t, call, 0, "NIL");
    now = now_ns();
    left = e->deadline_ns > now ? e->deadline_ns - now : 0;
    snprintf(text, sizeof text, "VALUE %llu.%03llu",
             (unsigned long long)(left / 1000000000ull),
             (unsigned long long)(left % 1000000000ull / 1000000));
    return reply(t, call, 0, text);
}

/* ---- the hooks
 * ------------------------------------------------------------------ */

static int64_t define_unknown(void *ctx, const struct tenon_op_call *call)
{
    struct ttl *t = ctx;
    char verb[KV_VERB_MAX];
    int64_t n = call->argv[KV_ARG_VERB];

    if (n != 3 && n != 6)
        return TENON_EDECLINE;
    if (t->host->buf_read(t->self, call, KV_ARG_VERB, 0, verb, (uint64_t)n) !=
        n)
        return TENON_EDECLINE;
    if (n == 6 && memcmp(verb, "EXPIRE", 6) == 0)
        return cmd_expire(t, call);
    if (n == 3 && memcmp(verb, "TTL", 3) == 0)
        return cmd_ttl(t, call);
    return TENON_EDECLINE;
}

static int64_t after_command(void *ctx, const struct tenon_op_call *call)
{
    struct ttl *t = ctx;
    char verb[3], *key;
    size_t klen;

    if (!t->count || call->result < 0 || call->argv[KV_ARG_VERB] != 3 ||
        call->argv[KV_ARG_NARGS] < 1)
        return 0;
    if (t->host->buf_read(t->self, call, KV_ARG_VERB, 0, verb, 3) != 3 ||
        (memcmp(verb, "SET", 3) != 0 && memcmp(verb, "DEL", 3) != 0))
        return 0;
    if ((key = read_arg(t, call, KV_ARG_KEY, &klen))) {
        cancel(t, key, klen);
        free(key);
    }
    return 0;
}

static const tenon_hook_fn hook_fns[] = {define_unknown, after_command};
static const struct tenon_hooks_v1 hooks = {sizeof hooks, 2, hook_fns};

/* ---- the entry
 * ------------------------------------------------------------------ */

static int ttl_create(const struct tenon_host *host,
                      struct tenon_instance *self,
                      const struct tenon_args *args,
                      struct tenon_instance *input, void **obj)
{
    struct ttl *t;
    (void)args;
    (void)input;
    if (!TENON_HOST_HAS(host, permitted)) {
        host->set_error(self, "this host has no timers (Tenon < 0.5)");
        return TENON_ENOTSUP;
    }
    if (!(t = calloc(1, sizeof *t)))
        return TENON_ENOMEM;
    t->host = host;
    t->self = self;
    *obj = t;
    return 0;
}

/* The host fires no timer of an instance being destroyed: the entries the
 * pending ones point at can go. */
static void ttl_destroy(void *obj)
{
    struct ttl *t = obj;
    for (size_t i = 0; i < t->nslots; i++)
        for (struct entry *e = t->slots[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->slots);
    free(t);
}

static const void *ttl_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_HOOKS_ID) == 0 ? &hooks : NULL;
}

TENON_PLUGIN_ENTRY(ttl_create, ttl_destroy, ttl_interface, NULL);
