/*
 * kv-limit - refuses kvserver SETs whose value is over a size.
 *
 *     tenon-kvserver --plugin kv-limit:max=64
 *     SET big <100 bytes>  ->  ERR value too large: 100 bytes, limit 64
 *
 * A before hook on kv.command: it reads the verb (buffer.read), and for a
 * SET whose value is longer than `max` writes the refusal into the reply
 * (buffer.write) and returns TENON_ERANGE, so kvserver's own SET never
 * runs. Built as WebAssembly (docs/wasm.md) and natively from this one
 * source: it uses nothing but the host API and a little of libc.
 */
#include <tenon/plugin.h>

#include <stdlib.h>

#include "kvops.h"

TENON_PLUGIN_INFO("kv-limit", "0.1.0",
    TENON_DESCRIPTION("Refuses kvserver SETs of values over a size")
    TENON_LICENSE("MIT")
    TENON_HELP("Before each SET of examples/kvserver, compares the value's "
               "length with max; a longer one is refused with 'ERR value too "
               "large: N bytes, limit MAX' and the key keeps its value.")
    TENON_ARG_INT_RANGE("max", "0", "1073741824", "1048576",
                        "the largest value SET accepts, in bytes")
    TENON_PERMISSION("op")
    TENON_PERMISSION("buffer.read")
    TENON_PERMISSION("buffer.write")
    TENON_HOOK_BEFORE(KV_OP_COMMAND));

struct limit {
    const struct tenon_host *host;
    struct tenon_instance *self;
    uint64_t max;
};

/* Append the decimal digits of v at p; returns the new end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static int64_t before_command(void *ctx, const struct tenon_op_call *call)
{
    struct limit *l = ctx;
    uint64_t vlen = (uint64_t)call->argv[KV_ARG_VALUE];
    char verb[3], msg[96], *p;

    if (vlen <= l->max || call->argv[KV_ARG_VERB] != 3 ||
        call->argv[KV_ARG_NARGS] != 2)
        return 0;
    if (l->host->buf_read(l->self, call, KV_ARG_VERB, 0, verb, 3) != 3 ||
        memcmp(verb, "SET", 3) != 0)
        return 0;
    p = put_str(msg, "ERR value too large: ");
    p = put_u64(p, vlen);
    p = put_str(p, " bytes, limit ");
    p = put_u64(p, l->max);
    /* Refused even when the reply cannot be written: kvserver then says
     * "ERR refused" itself. */
    l->host->buf_write(l->self, call, KV_ARG_REPLY, 0, msg,
                       (uint64_t)(p - msg));
    return TENON_ERANGE;
}

static const tenon_hook_fn hook_fns[] = {before_command};
static const struct tenon_hooks_v1 hooks = {sizeof hooks, 1, hook_fns};

static int limit_create(const struct tenon_host *host,
                        struct tenon_instance *self,
                        const struct tenon_args *args,
                        struct tenon_instance *input, void **obj)
{
    struct limit *l;
    (void)input;
    if (!TENON_HOST_HAS(host, permitted)) {
        host->set_error(self, "this host has no operations (Tenon < 0.5)");
        return TENON_ENOTSUP;
    }
    if (!(l = calloc(1, sizeof *l)))
        return TENON_ENOMEM;
    l->host = host;
    l->self = self;
    l->max = (uint64_t)tenon_arg(args, "max")->i;
    *obj = l;
    return 0;
}

static void limit_destroy(void *obj) { free(obj); }

static const void *limit_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_HOOKS_ID) == 0 ? &hooks : NULL;
}

TENON_PLUGIN_ENTRY(limit_create, limit_destroy, limit_interface, NULL);
