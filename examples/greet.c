/*
 * greet - the example host from docs/embedding.md.
 *
 *     greet [--plugin-path DIR] SPEC NAME...
 *
 * Creates an instance from SPEC (e.g. "hello:Bonjour,times=2"), asks it for
 * example.greeter/1 and greets each NAME.
 */
#include <tenon/host.h>

#include <stdio.h>
#include <string.h>

#include "greeter.h"

int main(int argc, char **argv)
{
    const char *dirs[1];
    /* Designated initializers: struct tenon_options grows at the end. */
    struct tenon_options opts = {.struct_size = sizeof opts, .log_level = -1};
    tenon_t *t;
    tenon_instance_t *inst;
    const struct example_greeter *g;
    void *obj;
    int i = 1, rc;

    if (argc > 2 && strcmp(argv[1], "--plugin-path") == 0) {
        dirs[0] = argv[2];
        opts.plugin_paths = dirs;
        opts.plugin_path_count = 1;
        i = 3;
    }
    if (argc - i < 2) {
        fprintf(stderr, "usage: greet [--plugin-path DIR] SPEC NAME...\n");
        return 2;
    }
    if ((rc = tenon_open(&t, &opts)) ||
        (rc = tenon_create(t, argv[i], NULL, &inst))) {
        fprintf(stderr, "greet: %s\n", tenon_last_error());
        tenon_close(t);
        return 1;
    }
    g = tenon_get_interface(inst, EXAMPLE_GREETER_ID, &obj);
    if (!g) {
        fprintf(stderr, "greet: %s does not provide %s\n", argv[i],
                EXAMPLE_GREETER_ID);
        rc = 1;
    }
    for (i++; g && i < argc; i++) {
        char buf[256];
        if (g->greet(obj, argv[i], buf, sizeof buf) != 0) {
            fprintf(stderr, "greet: %s\n", tenon_instance_error(inst));
            rc = 1;
            continue;
        }
        printf("%s\n", buf);
    }
    tenon_destroy(inst);
    tenon_close(t);
    return rc ? 1 : 0;
}
