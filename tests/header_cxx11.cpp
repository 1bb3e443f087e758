// Compile-only: the SDK and host headers as strict C++11.
#include <tenon/event.h>
#include <tenon/host.h>
#include <tenon/memory.h>
#include <tenon/osi.h>
#include <tenon/plugin.h>

TENON_PLUGIN_INFO("header-cxx11", "1.0.0", TENON_DESCRIPTION("compile test")
                  TENON_ARG_INT("n", "1", "a number"));

static int create(const struct tenon_host *, struct tenon_instance *,
                  const struct tenon_args *a, struct tenon_instance *,
                  void **obj)
{
    *obj = const_cast<tenon_arg_value *>(tenon_arg(a, "n"));
    return 0;
}
static void destroy(void *) {}
static const void *iface(void *, const char *) { return nullptr; }
TENON_PLUGIN_ENTRY(create, destroy, iface, nullptr);
