/* "oph*": plugins that hook the operations of tests/test_ops.c. Each hook
 * appends "<kind><tag>;" to the writable buffer that is argument 0 of the
 * operation (signature "w..."), so the host reads the order hooks ran in
 * from its own buffer. Built as several variants (OPH_VARIANT):
 *   1 oph      before/define/after t.op (rank 10), always-on before on
 *              t.gate, define t.param[0x1c]; asks op, buffer.*, timer, log
 *   2 ophhigh  define t.op at rank 20
 *   3 ophlow   asks only for log: every other call is refused
 *   4 ophwant  asks for timer and network (policy tests)
 */
#include <tenon/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ophapi.h"

#ifndef OPH_VARIANT
#define OPH_VARIANT 1
#endif

#define OPH_ARGS                                                               \
    TENON_PROVIDES("test.oph/1")                                               \
    TENON_ARG_STRING("tag", "x", "what the hooks write")                       \
    TENON_ARG_INT("refuse", "0", "before hooks refuse with this code (< 0)")   \
    TENON_ARG_BOOL("enable", "yes", "enable itself in create()")

#if OPH_VARIANT == 1
TENON_PLUGIN_INFO("oph", "1.0.0",
    TENON_DESCRIPTION("Test plugin hooking t.op")
    TENON_RANK(10)
    TENON_PERMISSION("log") TENON_PERMISSION("op")
    TENON_PERMISSION("buffer.read") TENON_PERMISSION("buffer.write")
    TENON_PERMISSION("timer")
    TENON_HOOK_BEFORE("t.op")
    TENON_HOOK_DEFINE("t.op")
    TENON_HOOK_AFTER("t.op")
    TENON_HOOK_BEFORE_ALWAYS_ON("t.gate")
    TENON_HOOK_AFTER("t.gate")
    TENON_HOOK_DEFINE("t.param[0x1c]")
    OPH_ARGS);
#define NHOOKS 6
#elif OPH_VARIANT == 2
TENON_PLUGIN_INFO("ophhigh", "1.0.0",
    TENON_DESCRIPTION("Test plugin defining t.op at rank 20")
    TENON_RANK(20)
    TENON_PERMISSION("buffer.write")
    TENON_HOOK_DEFINE("t.op")
    OPH_ARGS);
#define NHOOKS 1
#elif OPH_VARIANT == 3
TENON_PLUGIN_INFO("ophlow", "1.0.0",
    TENON_DESCRIPTION("Test plugin asking only for log")
    TENON_PERMISSION("log")
    OPH_ARGS);
#define NHOOKS 0
#else
TENON_PLUGIN_INFO("ophwant", "1.0.0",
    TENON_DESCRIPTION("Test plugin asking for timer and network")
    TENON_PERMISSION("log") TENON_PERMISSION("timer")
    TENON_PERMISSION("network")
    OPH_ARGS);
#define NHOOKS 0
#endif

struct tmr;
struct oph {
    const struct tenon_host *host;
    struct tenon_instance *self;
    char tag[64];
    int64_t refuse;
    struct tmr *timers; /* pending, freed by destroy */
};

static void put(struct oph *o, const struct tenon_op_call *c, char kind)
{
    char s[80];
    int n = snprintf(s, sizeof s, "%c%s;", kind, o->tag);
    o->host->buf_write(o->self, c, 0, (uint64_t)c->argv[0], s, (uint64_t)n);
}

static int64_t before(void *ctx, const struct tenon_op_call *c)
{
    struct oph *o = ctx;
    put(o, c, 'B');
    return o->refuse;
}

static int64_t define(void *ctx, const struct tenon_op_call *c)
{
    struct oph *o = ctx;
    put(o, c, 'D');
    /* the sum of the integer arguments, plus the parameter */
    int64_t sum = (int64_t)c->param;
    for (uint32_t i = 0; i < c->argc; i++)
        if (c->sig[i] == 'i')
            sum += c->argv[i];
    return 1000 + sum;
}

static int64_t after(void *ctx, const struct tenon_op_call *c)
{
    struct oph *o = ctx;
    char s[96];
    int n = snprintf(s, sizeof s, "A%s=%lld;", o->tag, (long long)c->result);
    o->host->buf_write(o->self, c, 0, (uint64_t)c->argv[0], s, (uint64_t)n);
    return 0;
}

#if NHOOKS
static const tenon_hook_fn fns[] = {
#if OPH_VARIANT == 1
    before, define, after, before,
    after,  define
#else
    define
#endif
};
static const struct tenon_hooks_v1 hooks = {sizeof hooks, NHOOKS, fns};
#endif

/* The timer: calls the host's t.fired with its tag and the timer's ctx. */
struct tmr {
    struct oph *o;
    int64_t n;
    uint64_t id;
    struct tmr *next;
};

static void unlink_tmr(struct oph *o, struct tmr *t)
{
    for (struct tmr **pp = &o->timers; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

static void fired(void *ctx, uint64_t id)
{
    struct tmr *t = ctx;
    struct tenon_op_value v[2];
    char s[96];
    int64_t r;
    (void)id;
    unlink_tmr(t->o, t);
    snprintf(s, sizeof s, "%s%lld", t->o->tag, (long long)t->n);
    v[0].data = s;
    v[0].len = strlen(s);
    v[1].i = t->n;
    t->o->host->op_call(t->o->self, "t.fired", v, 2, &r);
    free(t);
}

static int api_timer(void *obj, uint64_t delay_ns, int64_t n, uint64_t *id)
{
    struct oph *o = obj;
    struct tmr *t = malloc(sizeof *t);
    int rc;
    if (!t)
        return TENON_ENOMEM;
    t->o = o;
    t->n = n;
    if ((rc = o->host->timer_set(o->self, delay_ns, fired, t, &t->id))) {
        free(t);
        return rc;
    }
    *id = t->id;
    t->next = o->timers;
    o->timers = t;
    return 0;
}

static int api_cancel(void *obj, uint64_t id)
{
    struct oph *o = obj;
    int rc = o->host->timer_cancel(o->self, id);
    for (struct tmr *t = o->timers; rc == 0 && t; t = t->next)
        if (t->id == id) {
            unlink_tmr(o, t);
            free(t);
            break;
        }
    return rc;
}

static int api_attach(void *obj, const char *op, int kind, uint64_t *id)
{
    struct oph *o = obj;
    tenon_hook_fn f = kind == TENON_HOOK_BEFORE   ? before
                      : kind == TENON_HOOK_DEFINE ? define
                                                  : after;
    return o->host->op_attach(o->self, op, kind, 0, f, o, id);
}

static int api_detach(void *obj, uint64_t id)
{
    struct oph *o = obj;
    return o->host->op_detach(o->self, id);
}

static void api_log(void *obj, const char *msg)
{
    struct oph *o = obj;
    o->host->log(o->self, TENON_LOG_ERROR, "%s", msg);
}

static int api_call(void *obj, const char *op, int64_t *result)
{
    struct oph *o = obj;
    char buf[256];
    struct tenon_op_value v[2];
    v[0].data = buf;
    v[0].len = sizeof buf;
    v[1].i = 5;
    return o->host->op_call(o->self, op, v, 2, result);
}

static int api_enable(void *obj)
{
    struct oph *o = obj;
    return o->host->enable(o->self);
}

static const struct oph_api api = {sizeof api, api_timer,  api_cancel,
                                   api_attach, api_detach, api_log,
                                   api_call,   api_enable};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj)
{
    struct oph *o = calloc(1, sizeof *o);
    (void)input;
    if (!o)
        return TENON_ENOMEM;
    o->host = host;
    o->self = self;
    snprintf(o->tag, sizeof o->tag, "%s", tenon_arg(args, "tag")->str);
    o->refuse = tenon_arg(args, "refuse")->i;
    if (tenon_arg(args, "enable")->i)
        host->enable(self);
    *obj = o;
    return 0;
}

static void destroy(void *obj)
{
    struct oph *o = obj;
    while (o->timers) {
        struct tmr *t = o->timers;
        o->timers = t->next;
        free(t);
    }
    free(o);
}

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
#if NHOOKS
    if (strcmp(id, TENON_HOOKS_ID) == 0)
        return &hooks;
#endif
    if (strcmp(id, "test.oph/1") == 0)
        return &api;
    return NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
