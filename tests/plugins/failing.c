/* "failing": create() always fails, leaving a message. */
#include <tenon/plugin.h>

#include "stub.h"

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

TENON_PLUGIN_ENTRY(create, stub_destroy, stub_get_interface, NULL);
