/* "opbench": the hooks bench/ops measures. One source, built as a native
 * plugin and (with tenon_add_wasm_plugin) as a WebAssembly one:
 *   before bench.obs, after bench.obs  observers that do nothing
 *   the same twice on bench.obs4       four observers
 *   define bench.def                   returns argv[0] + argv[1]
 */
#include <tenon/plugin.h>

#include <string.h>

TENON_PLUGIN_INFO("opbench", "1.0.0",
    TENON_DESCRIPTION("Hooks measured by bench/ops")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("op")
    TENON_HOOK_BEFORE("bench.obs")
    TENON_HOOK_AFTER("bench.obs")
    TENON_HOOK_BEFORE("bench.obs4") TENON_HOOK_BEFORE("bench.obs4")
    TENON_HOOK_AFTER("bench.obs4") TENON_HOOK_AFTER("bench.obs4")
    TENON_HOOK_DEFINE("bench.def"));

static int64_t observe(void *ctx, const struct tenon_op_call *c)
{
    (void)ctx;
    (void)c;
    return 0;
}

static int64_t define(void *ctx, const struct tenon_op_call *c)
{
    (void)ctx;
    return c->argv[0] + c->argv[1];
}

static const tenon_hook_fn fns[] = {observe, observe, observe, observe,
                                    observe, observe, define};
static const struct tenon_hooks_v1 hooks = {sizeof hooks, 7, fns};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj)
{
    static int dummy;
    (void)args;
    (void)input;
    *obj = &dummy;
    return host->enable(self);
}

static void destroy(void *obj) { (void)obj; }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_HOOKS_ID) == 0 ? &hooks : NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
