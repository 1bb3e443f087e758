/* The smallest host, built by tests/pkgconfig.sh with nothing but the flags
 * of tenon-uninstalled.pc: it finds the example plugin in the directory
 * argv[1], checks an argument string for it and prints what it found. */
#include <tenon/host.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    const char *dirs[1];
    struct tenon_options opts = {0};
    const tenon_plugin_t *p;
    tenon_t *t;
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PLUGIN_DIR\n", argv[0]);
        return 2;
    }
    dirs[0] = argv[1];
    opts.struct_size = sizeof opts;
    opts.plugin_paths = dirs;
    opts.plugin_path_count = 1;
    opts.no_cache = 1;
    if (tenon_open(&t, &opts) != 0) {
        fprintf(stderr, "tenon_open: %s\n", tenon_last_error());
        return 1;
    }
    if (tenon_check(t, "hello:Hi,times=2", &p) != 0)
        fprintf(stderr, "tenon_check: %s\n", tenon_last_error());
    else if (printf("%s %s (libtenon %s)\n", tenon_plugin_name(p),
                    tenon_plugin_version(p), TENON_VERSION_STRING) > 0)
        rc = 0;
    tenon_close(t);
    return rc;
}
