/* shout: a plugin of docs/ops.md. It defines the operation text.render of
 * examples/ophost.c (upper-casing the text), refuses empty texts before the
 * call, and enables itself only when its timer fires: until then the host's
 * own code runs. */
#include <tenon/plugin.h>

#include <stdlib.h>

TENON_PLUGIN_INFO("shout", "1.0.0",
    TENON_DESCRIPTION("Renders text.render in capitals")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("log")
    TENON_PERMISSION("buffer.read")
    TENON_PERMISSION("buffer.write")
    TENON_PERMISSION("timer")
    TENON_HOOK_BEFORE_ALWAYS_ON("text.render")
    TENON_HOOK_DEFINE("text.render")
    TENON_ARG_INT("delay_ms", "0", "enable this long after create"));

struct shout {
    const struct tenon_host *host;
    struct tenon_instance *self;
};

/* before: text.render's argument 0 is the text ('b'); refuse an empty one
 * (its length is argv[0]; the bytes are read with buf_read). */
static int64_t refuse_empty(void *ctx, const struct tenon_op_call *call)
{
    struct shout *s = ctx;
    if (call->argv[0] == 0) {
        TENON_LOG(s->host, s->self, TENON_LOG_INFO, "refusing an empty text");
        return TENON_EINVAL;
    }
    return 0;
}

/* define: argument 1 is the output ('w'); copy the text upper-cased. */
static int64_t render(void *ctx, const struct tenon_op_call *call)
{
    struct shout *s = ctx;
    char buf[256];
    int64_t n = s->host->buf_read(s->self, call, 0, 0, buf, sizeof buf);
    if (n < 0)
        return n;
    for (int64_t i = 0; i < n; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z')
            buf[i] = (char)(buf[i] - 'a' + 'A');
    return s->host->buf_write(s->self, call, 1, 0, buf, (uint64_t)n);
}

static const tenon_hook_fn fns[] = {refuse_empty, render};
static const struct tenon_hooks_v1 hooks = {sizeof hooks, 2, fns};

static void enable_now(void *ctx, uint64_t id)
{
    struct shout *s = ctx;
    (void)id;
    s->host->enable(s->self);
}

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *args, struct tenon_instance *input,
                  void **obj)
{
    struct shout *s = calloc(1, sizeof *s);
    uint64_t id;
    (void)input;
    if (!s)
        return TENON_ENOMEM;
    s->host = host;
    s->self = self;
    *obj = s;
    /* pluginop's two-step load: enabled later, by the plugin itself */
    return host->timer_set(self,
                           (uint64_t)tenon_arg(args, "delay_ms")->i * 1000000,
                           enable_now, s, &id);
}

static void destroy(void *obj) { free(obj); }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TENON_HOOKS_ID) == 0 ? &hooks : NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
