/* "chain": takes an input providing test.basic/1 and builds on it. */
#include <tenon/plugin.h>

#include <stdlib.h>
#include <string.h>

#include "testapi.h"

TENON_PLUGIN_INFO("chain", "1.0.0",
    TENON_DESCRIPTION("Uses its input instance")
    TENON_ACCEPTS(TEST_BASIC_ID)
    TENON_PROVIDES(TEST_CHAIN_ID));

struct chain {
    const struct test_basic *in;
    void *in_obj;
};

static int add_via_input(void *obj, int a, int b)
{
    struct chain *c = obj;
    return c->in->add(c->in_obj, a, b) + 1000;
}

static const struct test_chain vt = {sizeof vt, add_via_input};

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *a, struct tenon_instance *input,
                  void **obj)
{
    struct chain *c = calloc(1, sizeof *c);
    (void)a;
    if (!c)
        return TENON_ENOMEM;
    c->in = host->get_interface(input, TEST_BASIC_ID, &c->in_obj);
    if (!c->in) {
        host->set_error(self, "input lacks %s", TEST_BASIC_ID);
        free(c);
        return TENON_EINVAL;
    }
    *obj = c;
    return 0;
}

static void destroy(void *obj) { free(obj); }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj;
    return strcmp(id, TEST_CHAIN_ID) == 0 ? &vt : NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
