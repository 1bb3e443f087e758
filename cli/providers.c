/* tenon providers: who provides an interface, in the order the host tries
 * them. */
#include "tool.h"

#include "internal.h"

#include <stdlib.h>

static const char usage[] =
    "usage: tenon providers ID [--json] [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "List the available plugins that provide interface ID\n"
    "(namespace.name/major, e.g. tenon.osi/1) in the order a command that\n"
    "needs it and names no plugin tries them: highest rank first, then by\n"
    "name; only the newest version of a name. Columns: RANK, NAME, VERSION,\n"
    "PATH. No plugin code runs.\n"
    "\n"
    "  --json              print a JSON array of objects: rank, name,\n"
    "                      version, path\n"
    "  --no-cache          probe every file; neither read nor write the scan\n"
    "                      cache\n"
    "  --plugin-path DIR   search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 on success (also when none provides ID), 1 on failure,\n"
    "2 on a usage error.\n";

static int print(tenon_t *t, const char *id, const tenon_plugin_t **v, size_t n,
                 int json)
{
    int wname = 4, wver = 7;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "rank",
                                json_integer(tenon_plugin_rank(v[i])));
            json_object_set_new(o, "name",
                                tool_json_str(tenon_plugin_name(v[i])));
            json_object_set_new(o, "version",
                                tool_json_str(tenon_plugin_version(v[i])));
            json_object_set_new(o, "path",
                                tool_json_str(tenon_plugin_path(v[i])));
            json_array_append_new(arr, o);
        }
        return tool_print_json(arr);
    }
    if (!n) {
        size_t ndirs = tenon_search_path_count(t);
        tool_printf(stdout, "no plugins providing %s found in %zu director%s\n",
                    id, ndirs, ndirs == 1 ? "y" : "ies");
        return EXIT_OK;
    }
    for (size_t i = 0; i < n; i++) {
        int w = tool_width(tenon_plugin_name(v[i]));
        wname = w > wname ? w : wname;
        w = tool_width(tenon_plugin_version(v[i]));
        wver = w > wver ? w : wver;
    }
    tool_printf(stdout, "%7s  %-*s  %-*s  %s\n", "RANK", wname, "NAME", wver,
                "VERSION", "PATH");
    for (size_t i = 0; i < n; i++)
        tool_printf(stdout, "%7d  %-*s  %-*s  %s\n", tenon_plugin_rank(v[i]),
                    wname, tenon_plugin_name(v[i]), wver,
                    tenon_plugin_version(v[i]), tenon_plugin_path(v[i]));
    return EXIT_OK;
}

int cmd_providers(int argc, char **argv)
{
    struct tool_opts o = {0};
    const tenon_plugin_t **v = NULL;
    const char *id;
    size_t n;
    tenon_t *t;
    int rc = tool_parse("providers", usage, argc, argv,
                        OPT_JSON | OPT_NO_CACHE | OPT_PATH, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional != 1) {
        tool_error("providers", "expected ID; see 'tenon providers --help'");
        return EXIT_USAGE;
    }
    id = o.positional[0];
    if (!tenon__valid_interface_id(id)) {
        tool_error("providers",
                   "'%s': expected an interface id namespace.name/major, "
                   "e.g. tenon.osi/1",
                   id);
        return EXIT_USAGE;
    }
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (tenon_scan(t) != 0) {
        tool_error("providers", "%s", tenon_last_error());
        tenon_close(t);
        return EXIT_FAIL;
    }
    /* The count may grow between the two calls only with a rescan, which
     * nothing here does. */
    n = tenon_providers(t, id, NULL, 0);
    if (n && !(v = calloc(n, sizeof *v))) {
        tool_error("providers", "out of memory");
        rc = EXIT_FAIL;
    } else {
        size_t again = n ? tenon_providers(t, id, v, n) : 0;
        n = again < n ? again : n;
        rc = print(t, id, v, n, o.json);
    }
    free(v);
    tenon_close(t);
    return rc;
}
