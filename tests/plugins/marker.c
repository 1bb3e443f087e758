/* "marker": its ELF constructor writes the file named by TENON_TEST_MARKER,
 * so a test can tell whether the library was ever loaded. */
#include <tenon/plugin.h>

#include <stdio.h>
#include <stdlib.h>

#include "stub.h"

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

TENON_PLUGIN_ENTRY(stub_create, stub_destroy, stub_get_interface, NULL);
