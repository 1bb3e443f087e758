/* "marker": its ELF constructor writes the file named by TENON_TEST_MARKER,
 * so a test can tell whether the library was ever loaded. */
#include <tenon/plugin.h>

#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void loaded(void)
{
    const char *path = getenv("TENON_TEST_MARKER");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fputs("loaded\n", f);
        fclose(f);
    }
}

TENON_PLUGIN_INFO("marker", "1.0.0",
    TENON_DESCRIPTION("Writes a marker file when loaded"));

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
