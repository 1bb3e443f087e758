/*
 * kv-audit - one log line per kvserver command, with its result.
 *
 *     tenon-kvserver --plugin kv-audit
 *     kv-audit: SET user:1 (5 bytes) -> OK
 *
 * An after hook on kv.command (the verb, the key, the value's length and
 * the reply the client got), one on kv.parse (the lines that were no
 * command) and one on kv.del (keys plugins deleted: kv-ttl's expiries). Bytes
 * that are not printable ASCII are written \xHH, so a line of the log is one
 * line whatever the client sent; long keys and replies are cut at `width` bytes
 * with "...".
 */
#include <tenon/plugin.h>

#include <stdio.h>
#include <stdlib.h>

#include "kvops.h"

TENON_PLUGIN_INFO("kv-audit", "0.1.0",
    TENON_DESCRIPTION("Logs every kvserver command with its result")
    TENON_LICENSE("MIT")
    TENON_HELP("After each command of examples/kvserver, logs (level info) "
               "one line: the verb, the key, the value's size and the reply, "
               "e.g. 'SET user:1 (5 bytes) -> OK'; and each line that was "
               "no command with the error it got, and each key a plugin "
               "deleted through kv.del. Non-printable bytes are "
               "written \\xHH.")
    TENON_ARG_INT_RANGE("width", "8", "4096", "64",
                        "bytes of a key or reply shown before '...'")
    TENON_PERMISSION("op")
    TENON_PERMISSION("log")
    TENON_PERMISSION("buffer.read")
    TENON_HOOK_AFTER(KV_OP_COMMAND)
    TENON_HOOK_AFTER(KV_OP_PARSE)
    TENON_HOOK_AFTER(KV_OP_DEL));

struct audit {
    const struct tenon_host *host;
    struct tenon_instance *self;
    size_t width;
    char *raw; /* width bytes */
};

/* At most `width` bytes of buffer `arg`, escaped into out (4 * width + 4). */
static void show(struct audit *a, const struct tenon_op_call *call,
                 uint32_t arg, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t len = call->argv[arg];
    int64_t n = a->host->buf_read(a->self, call, arg, 0, a->raw,
                                  len < a->width ? len : a->width);
    char *o = out;
    for (int64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a->raw[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            *o++ = (char)c;
        } else {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    if (n < 0)
        o += sprintf(o, "(unreadable)");
    else if ((uint64_t)n < len)
        o += sprintf(o, "...");
    *o = '\0';
}

static int64_t after_command(void *ctx, const struct tenon_op_call *call)
{
    struct audit *a = ctx;
    char *verb, *key, *reply, size[40] = "";
    size_t room = 4 * a->width + 8;

    if (a->host->log_level(a->self) < TENON_LOG_INFO)
        return 0;
    if (!(verb = malloc(3 * room)))
        return 0;
    key = verb + room;
    reply = key + room;
    show(a, call, KV_ARG_VERB, verb);
    show(a, call, KV_ARG_KEY, key);
    show(a, call, KV_ARG_REPLY, reply);
    if (call->argv[KV_ARG_NARGS] >= 2)
        snprintf(size, sizeof size, " (%llu byte%s)",
                 (unsigned long long)call->argv[KV_ARG_VALUE],
                 call->argv[KV_ARG_VALUE] == 1 ? "" : "s");
    if (call->argv[KV_ARG_REPLY] > 0)
        a->host->log(a->self, TENON_LOG_INFO, "%s%s%s%s -> %s", verb,
                     *key ? " " : "", key, size, reply);
    else
        a->host->log(a->self, TENON_LOG_INFO, "%s%s%s%s -> result %lld", verb,
                     *key ? " " : "", key, size, (long long)call->result);
    free(verb);
    return 0;
}

static int64_t after_parse(void *ctx, const struct tenon_op_call *call)
{
    struct audit *a = ctx;
    char *reply;

    if (call->result >= 0 || a->host->log_level(a->self) < TENON_LOG_INFO)
        return 0;
    if (!(reply = malloc(4 * a->width + 8)))
        return 0;
    show(a, call, KV_PARSE_REPLY, reply);
    a->host->log(a->self, TENON_LOG_INFO, "bad line (%llu bytes) -> %s",
                 (unsigned long long)call->argv[KV_PARSE_LINE], reply);
    free(reply);
    return 0;
}

/* kv.del is what plugins call (kv-ttl, when a key expires). */
static int64_t after_del(void *ctx, const struct tenon_op_call *call)
{
    struct audit *a = ctx;
    char *key;

    if (a->host->log_level(a->self) < TENON_LOG_INFO)
        return 0;
    if (!(key = malloc(4 * a->width + 8)))
        return 0;
    show(a, call, 0, key);
    a->host->log(a->self, TENON_LOG_INFO, "%s %s -> %s", KV_OP_DEL, key,
                 call->result == 1   ? "deleted"
                 : call->result == 0 ? "not set"
                                     : "failed");
    free(key);
    return 0;
}

static const tenon_hook_fn hook_fns[] = {after_command, after_parse, after_del};
static const struct tenon_hooks_v1 hooks = {sizeof hooks, 3, hook_fns};

static int audit_create(const struct tenon_host *host,
                        struct tenon_instance *self,
                        const struct tenon_args *args,
                        struct tenon_instance *input, void **obj)
{
    struct audit *a;
    (void)input;
    if (!TENON_HOST_HAS(host, permitted)) {
        host->set_error(self, "this host has no operations (Tenon < 0.5)");
        return TENON_ENOTSUP;
    }
    if (!(a = calloc(1, sizeof *a)))
        return TENON_ENOMEM;
    a->host = host;
    a->self = self;
    a->width = (size_t)tenon_arg(args, "width")->i;
    if (!(a->raw = malloc(a->width))) {
        free(a);
        return TENON_ENOMEM;
    }
    *obj = a;
    return 0;
}

static void audit_destroy(void *obj)
{
    struct audit *a = obj;
    free(a->raw);
    free(a);
}

static const void *audit_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_HOOKS_ID) == 0 ? &hooks : NULL;
}

TENON_PLUGIN_ENTRY(audit_create, audit_destroy, audit_interface, NULL);
