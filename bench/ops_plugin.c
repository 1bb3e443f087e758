/* The plugin of bench/ops: on operation "bench.op" (signature "ii") a
 * define returning argv[0] + argv[1], and a before and an after that do
 * nothing. Built twice from this one source: natively (bench_ops_native)
 * and as WebAssembly (bench_ops_wasm), to compare the two. */
#include <tenon/plugin.h>

/* bench-ops-native or bench-ops-wasm (bench/CMakeLists.txt). */
#ifndef BENCH_OPS_NAME
#define BENCH_OPS_NAME "bench-ops"
#endif

TENON_PLUGIN_INFO(BENCH_OPS_NAME, "1.0.0",
    TENON_DESCRIPTION("bench/ops: a define, a before and an after")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("op")
    TENON_HOOK_BEFORE("bench.op")
    TENON_HOOK_DEFINE("bench.op")
    TENON_HOOK_AFTER("bench.op"));

static int64_t before(void *ctx, const struct tenon_op_call *call)
{
    (void)ctx, (void)call;
    return 0;
}

static int64_t define(void *ctx, const struct tenon_op_call *call)
{
    (void)ctx;
    return call->argv[0] + call->argv[1];
}

static int64_t after(void *ctx, const struct tenon_op_call *call)
{
    (void)ctx, (void)call;
    return 0;
}

static const tenon_hook_fn fns[] = {before, define, after};
static const struct tenon_hooks_v1 hooks = {sizeof hooks, 3, fns};

static char token;

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj)
{
    (void)host, (void)self, (void)args, (void)input;
    *obj = &token;
    return 0;
}

static void destroy(void *obj) { (void)obj; }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_HOOKS_ID) == 0 ? &hooks : NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
