/* "required": required arguments, so missing ones can be reported. */
#include <tenon/plugin.h>

#include <stdlib.h>

TENON_PLUGIN_INFO("required", "0.1.0",
    TENON_DESCRIPTION("Test plugin with required arguments")
    TENON_ARG_INT_REQ("pid", "process id")
    TENON_ARG_ENUM_REQ("os", "linux|win", "operating system")
    TENON_ARG_STRING_OPT("note", "optional text"));

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *a, struct tenon_instance *input,
                  void **obj)
{
    (void)host, (void)self, (void)a, (void)input;
    *obj = NULL;
    return 0;
}

static void destroy(void *obj) { (void)obj; }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj, (void)id;
    return NULL;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, NULL);
