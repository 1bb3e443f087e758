/*
 * hello - the example plugin from docs/plugin-authoring.md.
 *
 * It provides example.greeter/1 and takes four arguments, one of each type:
 *
 *     tenon info hello
 *     hello:Bonjour,times=2,shout=yes,punct=exclaim
 */
#include <tenon/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greeter.h"

TENON_PLUGIN_INFO("hello", "1.0.0",
    TENON_DESCRIPTION("Greets whoever you name")
    TENON_LICENSE("MIT")
    TENON_PERMISSION("log")
    TENON_PROVIDES(EXAMPLE_GREETER_ID)
    TENON_HELP("The example plugin of the Tenon authoring guide.\n"
               "hello:Bonjour,times=2 greets twice, in French.")
    TENON_ARG_STRING("greeting", "Hello", "the word to greet with")
    TENON_ARG_INT_RANGE("times", "1", "10", "1", "how many times to greet")
    TENON_ARG_BOOL("shout", "no", "upper-case the greeting")
    TENON_ARG_ENUM("punct", "period|exclaim", "exclaim", "how to end it"));

struct hello {
    const struct tenon_host *host;
    struct tenon_instance *self;
    const char *greeting;
    int64_t times;
    int shout;
    const char *end;
};

static int greet(void *obj, const char *who, char *buf, size_t len)
{
    struct hello *h = obj;
    size_t used = 0;

    if (!who || !*who) {
        h->host->set_error(h->self, "greet: nobody to greet (empty name)");
        return TENON_EINVAL;
    }
    TENON_LOG(h->host, h->self, TENON_LOG_DEBUG, "greeting %s", who);
    buf[0] = '\0';
    for (int64_t i = 0; i < h->times && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s, %s%s",
                                 i ? " " : "", h->greeting, who, h->end);
    if (h->shout)
        for (char *c = buf; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
    return 0;
}

static const struct example_greeter greeter = {sizeof greeter, greet};

static int hello_create(const struct tenon_host *host,
                        struct tenon_instance *self,
                        const struct tenon_args *args,
                        struct tenon_instance *input, void **obj)
{
    struct hello *h;
    (void)input;
    int64_t times = tenon_arg(args, "times")->i;
    /* The host checks the declared range, unless it predates arg.min and
     * arg.max (it then ignores them): check anyway. */
    if (times < 1 || times > 10) {
        host->set_error(self, "times=%lld is out of range; expected 1..10",
                        (long long)times);
        return TENON_ERANGE;
    }
    if (!(h = calloc(1, sizeof *h)))
        return TENON_ENOMEM;
    h->host = host;
    h->self = self;
    h->greeting = tenon_arg(args, "greeting")->str; /* valid while we live */
    h->times = times;
    h->shout = (int)tenon_arg(args, "shout")->i;
    h->end = tenon_arg(args, "punct")->i == 0 ? "." : "!";
    *obj = h;
    return 0;
}

static void hello_destroy(void *obj) { free(obj); }

static const void *hello_get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, EXAMPLE_GREETER_ID) == 0 ? &greeter : NULL;
}

static int hello_targets(const struct tenon_host *host,
                         struct tenon_instance *self, tenon_target_fn emit,
                         void *ud)
{
    (void)host;
    (void)self;
    emit(ud, "stdout", "print greetings (the example host does this)");
    return 0;
}

TENON_PLUGIN_ENTRY(hello_create, hello_destroy, hello_get_interface,
                   hello_targets);
