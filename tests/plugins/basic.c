/* "basic": one argument of each type, test.basic/1, and targets. Built as
 * several versions (TP_VERSION) to test version selection. */
#include <tenon/plugin.h>

#include <stdlib.h>
#include <string.h>

#include "testapi.h"

#ifndef TP_VERSION
#define TP_VERSION "1.0.0"
#endif

TENON_PLUGIN_INFO("basic", TP_VERSION,
    TENON_DESCRIPTION("Test plugin with one argument of each type")
    TENON_LICENSE("MIT")
    TENON_URL("https://example.invalid/basic")
    TENON_PROVIDES(TEST_BASIC_ID)
    TENON_PROVIDES("test.extra/2")
    TENON_HELP("Line one.\nLine two.")
    TENON_ARG_STRING("label", "none", "a label (the bare value)")
    TENON_ARG_INT("count", "0", "a number")
    TENON_ARG_BOOL("flag", "no", "a switch")
    TENON_ARG_ENUM("mode", "fast|slow|auto", "auto", "a choice")
    TENON_ARG_INT_OPT("limit", "optional, no default")
    TENON__KV("x-custom", "kept as other info"));

struct basic {
    const struct tenon_host *host;
    struct tenon_instance *self;
    const struct tenon_args *args;
};

static int add(void *obj, int a, int b)
{
    (void)obj;
    return a + b;
}

static void log_all(void *obj)
{
    struct basic *b = obj;
    static const char *const names[] = {"",     "error", "warn",
                                        "info", "debug", "trace"};
    for (int l = TENON_LOG_ERROR; l <= TENON_LOG_TRACE; l++)
        TENON_LOG(b->host, b->self, l, "message at %s", names[l]);
}

static const struct tenon_args *args(void *obj)
{
    return ((struct basic *)obj)->args;
}

static const char *version(void *obj)
{
    (void)obj;
    return TP_VERSION;
}

static int fail_call(void *obj)
{
    struct basic *b = obj;
    b->host->set_error(b->self, "fail() called on purpose");
    return TENON_EPLUGIN;
}

static const struct test_basic vt = {sizeof vt, add,     log_all,
                                     args,      version, fail_call};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *a, struct tenon_instance *input,
                  void **obj)
{
    struct basic *b = calloc(1, sizeof *b);
    (void)input;
    if (!b)
        return TENON_ENOMEM;
    b->host = host;
    b->self = self;
    b->args = a;
    *obj = b;
    return 0;
}

static void destroy(void *obj) { free(obj); }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    /* test.extra/2 is declared but not implemented: the host gets NULL. */
    return strcmp(id, TEST_BASIC_ID) == 0 ? &vt : NULL;
}

static int targets(const struct tenon_host *host, struct tenon_instance *self,
                   tenon_target_fn emit, void *ud)
{
    (void)host;
    (void)self;
    emit(ud, "alpha", "first target");
    emit(ud, "beta", "second target");
    return 0;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, targets);
