/* Plugins whose static info breaks one rule each, chosen by BAD_KIND:
 * 1 invalid semver, 2 invalid name. */
#include <tenon/plugin.h>

#if BAD_KIND == 1
TENON_PLUGIN_INFO("badver", "1.0", TENON_DESCRIPTION("version is not semver"));
#elif BAD_KIND == 2
TENON_PLUGIN_INFO("Bad Name!", "1.0.0", TENON_DESCRIPTION("bad characters"));
#endif

static int create(const struct tenon_host *host, struct tenon_instance *self,
                  const struct tenon_args *a, struct tenon_instance *input,
                  void **obj)
{
    (void)host, (void)self, (void)a, (void)input;
    *obj = 0;
    return 0;
}

static void destroy(void *obj) { (void)obj; }

static const void *get_interface(void *obj, const char *id)
{
    (void)obj, (void)id;
    return 0;
}

TENON_PLUGIN_ENTRY(create, destroy, get_interface, 0);
