/* "failing": create() always fails, leaving a message. */
#include <tenon/plugin.h>

TENON_PLUGIN_INFO("failing", "1.0.0",
    TENON_DESCRIPTION("Fails to create an instance"));

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *a, struct tenon_instance *input,
                  void **obj)
{
    (void)a, (void)input, (void)obj;
    host->set_error(self, "device /dev/nothing is not there");
    return TENON_ENOENT;
}

static void destroy(void *obj) { (void)obj; }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj, (void)id;
    return NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
