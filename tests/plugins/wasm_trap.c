/* A plugin that misbehaves on request, for test_wasm.c: its define hook on
 * "wt.op" does what argv[0] says (enum wt_mode) with argv[1]. Built as
 * WebAssembly (wasm-trap, wasm-peer) and, for the modes that are safe
 * natively, as a native plugin (native-trap) from this same source. */
#include <tenon/plugin.h>

#include <stdlib.h>
#include <string.h>

#include "wasm_trap.h"

#ifndef WT_NAME
#define WT_NAME "wasm-trap"
#endif

TENON_PLUGIN_INFO(WT_NAME, "1.0.0",
    TENON_DESCRIPTION("test plugin: traps and hostile calls on request")
    TENON_LICENSE("MIT")
    TENON_PROVIDES(TENON_HOOKS_ID)
    TENON_PERMISSION("op")
    TENON_PERMISSION("buffer.read")
    TENON_PERMISSION("buffer.write")
    TENON_PERMISSION("timer")
    TENON_HOOK_DEFINE("wt.op")
    TENON_ARG_INT("level", "3", "a number the plugin reports back"));

struct wt {
    const struct tenon_host *host;
    struct tenon_instance *self;
    const struct tenon_args *args;
    volatile int64_t count; /* wt_count: unlocked read-modify-write */
    int64_t fired;          /* timers that fired */
};

static int64_t other(void *ctx, const struct tenon_op_call *call)
{
    (void)ctx;
    if (call->argv[0] == WT_OTHER_DIV0) {
        volatile int64_t zero = 0;
        return call->argv[0] / zero;
    }
    return 777 + call->argv[0];
}

static void tick(void *ctx, uint64_t id)
{
    struct wt *w = ctx;
    (void)id;
    w->fired++;
}

static int64_t (*volatile recurse_p)(int64_t);
static void *volatile kept;

static int64_t recurse(int64_t n) { return recurse_p(n + 1) + 1; }

static void takes_double(double d) { (void)d; }

static int64_t run(struct wt *w, const struct tenon_op_call *call)
{
    int64_t x = call->argv[1];
    switch (call->argv[0]) {
    case WT_OK: return x * 2 + 1;
    case WT_OOB: return *(volatile int64_t *)(uintptr_t)0x7fff0000u;
    case WT_UNREACHABLE: abort();
    case WT_RECURSE: recurse_p = recurse; return recurse_p(x);
    case WT_DIV0: {
        volatile int64_t zero = 0;
        return x / zero;
    }
    case WT_MEMLIMIT:
        for (;;) {
            /* Kept where the compiler must assume it is read, or it
             * drops the allocation and leaves an endless loop. */
            void *p = malloc(1u << 20);
            if (!p)
                abort(); /* what an xmalloc() does */
            kept = p;
        }
    case WT_BADCALL: {
        int64_t (*volatile f)(int64_t) =
            (int64_t(*)(int64_t))(void (*)(void))takes_double;
        return f(x);
    }
    case WT_MALLOC: {
        void *p = malloc((size_t)x);
        kept = p; /* or malloc() and free() cancel out */
        free(p);
        return p != NULL;
    }
    case WT_BUF_WRITE_BAD:
        /* A pointer the module does not own (a host address, truncated
         * to 32 bits in wasm32, or past its memory). */
        return w->host->buf_write(w->self, call, 2, 0,
                                  (const void *)(uintptr_t)x, 64);
    case WT_PEEK: {
        /* Read 8 bytes at an address the test learned from its own
         * memory: in wasm32 the address is cut to 32 bits and checked. */
        int64_t v;
        memcpy(&v, (const void *)(uintptr_t)x, sizeof v);
        return v;
    }
    case WT_OP_CALL_BAD: {
        struct tenon_op_value v = {0, (const void *)(uintptr_t)x, 4096};
        int64_t r = 0;
        return w->host->op_call(w->self, "wt.op", &v, 1, &r);
    }
    case WT_SET_ERROR:
        w->host->set_error(w->self, "refused %lld on purpose", (long long)x);
        return TENON_EPLUGIN;
    case WT_ARGS: {
        const struct tenon_arg_value *lv = tenon_arg(w->args, "level");
        /* The glue keeps wasm_memory for itself. */
        if (tenon_arg(w->args, "wasm_memory"))
            return -100;
        return lv ? lv->i * 1000 + (int64_t)w->args->count : -1;
    }
    case WT_COUNT:
        for (int64_t i = 0; i < x; i++)
            w->count = w->count + 1;
        return w->count;
    case WT_LOG_LEVEL: return w->host->log_level(w->self);
    case WT_BUF: {
        char buf[64];
        int64_t n = w->host->buf_read(w->self, call, 2, 0, buf, sizeof buf);
        int64_t sum = 0;
        for (int64_t i = 0; i < n; i++)
            sum += (unsigned char)buf[i];
        if (n < 0)
            return n;
        n = w->host->buf_write(w->self, call, 2, 0, "WASM", 4);
        return n < 0 ? n : sum;
    }
    case WT_ATTACH: {
        uint64_t id;
        return w->host->op_attach(w->self, "wt.other", TENON_HOOK_DEFINE,
                                  TENON_HOOK_ALWAYS_ON, other, w, &id);
    }
    case WT_TIMER: {
        uint64_t id;
        int rc = w->host->timer_set(w->self, (uint64_t)x, tick, w, &id);
        return rc < 0 ? rc : w->fired;
    }
    case WT_NESTED_TRAP: {
        char out[8];
        struct tenon_op_value v[3] = {
            {WT_DIV0, NULL, 0}, {1, NULL, 0}, {0, out, sizeof out}};
        int64_t r = 0;
        int rc = w->host->op_call(w->self, "wt.op", v, 3, &r);
        /* Not reached: the inner call's trap ends this one too. */
        return rc < 0 ? rc : 1000 + r;
    }
    case WT_OP_CALL: {
        struct tenon_op_value v = {x, NULL, 0};
        int64_t r = 0;
        int rc = w->host->op_call(w->self, "wt.other", &v, 1, &r);
        return rc < 0 ? rc : r;
    }
    default: return -1;
    }
}

static int64_t define(void *ctx, const struct tenon_op_call *call)
{
    return run(ctx, call);
}

static const tenon_hook_fn fns[] = {define};
static const struct tenon_hooks_v1 hooks = {sizeof hooks, 1, fns};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj)
{
    struct wt *w = calloc(1, sizeof *w);
    (void)input;
    if (!w)
        return TENON_ENOMEM;
    w->host = host;
    w->self = self;
    w->args = args;
    *obj = w;
    return 0;
}

static void destroy(void *obj) { free(obj); }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_HOOKS_ID) == 0 ? &hooks : NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
