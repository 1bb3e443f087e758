/*
 * Plugins for the services tests (test_services.c), one source built as
 * several plugins by SVC_KIND:
 *   1 "ticker"   declares the callback "tick" (test.tick/1) and fires it on
 *                request (test.ticker/1);
 *   2 "listener" accepts test.ticker/1 and registers a handler on its input
 *                in create() (test.listener/1 counts the events);
 *   3 "needy"    accepts test.ticker/1; its ELF constructor writes the file
 *                named by TENON_TEST_MARKER, so a test can tell it never
 *                loaded;
 *   4..7         providers of test.rank/1 with ranks (SVC_RANK), declining
 *                or failing as SVC_MODE says: 0 succeed, 1 decline unless
 *                the argument take=yes, 2 fail.
 */
#include <tenon/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testapi.h"

struct svc {
    const struct tenon_host *host;
    struct tenon_instance *self;
    struct tenon_callback *cb;
    const struct test_ticker *in;
    void *in_obj;
    uint64_t id;
    int count, last;
};

#if SVC_KIND == 1
TENON_PLUGIN_INFO("ticker", "1.0.0",
    TENON_DESCRIPTION("Fires the callback tick on request")
    TENON_PROVIDES(TEST_TICKER_ID));
#elif SVC_KIND == 2
TENON_PLUGIN_INFO("listener", "1.0.0",
    TENON_DESCRIPTION("Counts the ticks of its input")
    TENON_ACCEPTS(TEST_TICKER_ID) TENON_PROVIDES(TEST_LISTENER_ID));
#elif SVC_KIND == 3
__attribute__((constructor)) static void loaded(void)
{
    const char *path = getenv("TENON_TEST_MARKER");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fputs("loaded\n", f);
        fclose(f);
    }
}
TENON_PLUGIN_INFO("needy", "1.0.0",
    TENON_DESCRIPTION("Needs a ticker; writes a marker when loaded")
    TENON_ACCEPTS(TEST_TICKER_ID));
#else
TENON_PLUGIN_INFO(SVC_NAME, "1.0.0",
    TENON_DESCRIPTION("A ranked provider") SVC_RANK
    TENON_PROVIDES(TEST_RANK_ID) SVC_ALSO
    TENON_ARG_BOOL("take", "no", "take the job instead of declining"));
#endif

static size_t fire(void *obj, int value)
{
    struct svc *s = obj;
    struct test_tick ev = {sizeof ev, value};
    return s->host->callback_fire(s->cb, &ev);
}

static size_t handlers(void *obj)
{
    struct svc *s = obj;
    return s->host->callback_handlers(s->cb);
}

static int declare_again(void *obj)
{
    struct svc *s = obj;
    struct tenon_callback *cb;
    return s->host->callback_declare(s->self, "tick", TEST_TICK_SIG, &cb);
}

static int do_register(void *obj, struct tenon_instance *provider,
                       const char *name, const char *sig, tenon_callback_fn fn,
                       void *ctx, uint64_t *id)
{
    struct svc *s = obj;
    return s->host->callback_register(s->self, provider, name, sig, fn, ctx,
                                      id);
}

static int do_unregister(void *obj, uint64_t id)
{
    struct svc *s = obj;
    return s->host->callback_unregister(s->self, id);
}

static const struct test_ticker ticker_vt = {sizeof ticker_vt, fire,
                                             handlers,         declare_again,
                                             do_register,      do_unregister};

__attribute__((unused)) static void on_tick(void *ctx, const void *event)
{
    struct svc *s = ctx;
    const struct test_tick *ev = event;
    s->count++;
    s->last = ev->value;
}

static int count(void *obj) { return ((struct svc *)obj)->count; }

static int last(void *obj) { return ((struct svc *)obj)->last; }

static const struct test_listener listener_vt = {sizeof listener_vt, count,
                                                 last};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *a, struct tenon_instance *input,
                  void **obj)
{
    struct svc *s = calloc(1, sizeof *s);
    int rc = 0;
    if (!s)
        return TENON_ENOMEM;
    s->host = host;
    s->self = self;
    if (!TENON_HOST_HAS(host, callback_unregister)) {
        host->set_error(self, "the host has no callbacks");
        free(s);
        return TENON_ENOTSUP;
    }
#if SVC_KIND == 1
    (void)a, (void)input;
    rc = host->callback_declare(self, "tick", TEST_TICK_SIG, &s->cb);
#elif SVC_KIND == 2 || SVC_KIND == 3
    (void)a;
    rc = host->callback_register(self, input, "tick", TEST_TICK_SIG, on_tick, s,
                                 &s->id);
#else
    (void)input;
    if (SVC_MODE == 1 && !tenon_arg(a, "take")->i) {
        host->set_error(self, "not asked to take the job (take=yes)");
        rc = TENON_EDECLINE;
    } else if (SVC_MODE == 2) {
        host->set_error(self, "broken on purpose");
        rc = TENON_EIO;
    }
#endif
    if (rc) {
        free(s);
        return rc;
    }
    *obj = s;
    return 0;
}

static void destroy(void *obj) { free(obj); }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    if (strcmp(id, TEST_TICKER_ID) == 0)
        return &ticker_vt;
    if (strcmp(id, TEST_LISTENER_ID) == 0)
        return &listener_vt;
    if (strcmp(id, TEST_RANK_ID) == 0 || strcmp(id, TEST_DECLINE_ID) == 0)
        return &listener_vt; /* any vtable: the tests only create them */
    return NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
