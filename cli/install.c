/* tenon install / tenon remove: put plugin files in a plugin directory and
 * take them out again. */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

static const char install_usage[] =
    "usage: tenon install FILE... [--dir DIR] [--json]\n"
    "\n"
    "Check each FILE with the inventory's rules (ELF class and machine, ABI,\n"
    "static info) and copy it into DIR, default ~/.local/lib/tenon, as\n"
    "NAME-VERSION.so. The copy is written under a temporary name, synced and\n"
    "renamed, so a scan running at the same time never sees part of it.\n"
    "A file that fails the checks is refused with the reason.\n"
    "\n"
    "  --dir DIR   install into DIR (created if missing)\n"
    "  --json      print a JSON array of {file, installed} objects\n"
    "\n"
    "Exit status: 0 when every file was installed, 1 when any was refused,\n"
    "2 on a usage error.\n";

static const char remove_usage[] =
    "usage: tenon remove NAME[@VERSION]... [--dir DIR]\n"
    "\n"
    "Delete the plugin NAME (every version) or NAME@VERSION from DIR,\n"
    "default ~/.local/lib/tenon, with its .meta file. Plugins elsewhere on\n"
    "the search path are not touched.\n"
    "\n"
    "  --dir DIR   remove from DIR\n"
    "\n"
    "Exit status: 0 when every name matched something, 1 otherwise, 2 on a\n"
    "usage error.\n";

int cmd_install(int argc, char **argv)
{
    struct tool_opts o = {0};
    int rc = tool_parse("install", install_usage, argc, argv,
                        OPT_JSON | OPT_DIR, TOOL_MAX_OPERANDS, &o);
    json_t *arr = json_array();
    if (rc) {
        json_decref(arr);
        return rc == TOOL_DONE ? EXIT_OK : rc;
    }
    if (o.npositional == 0) {
        json_decref(arr);
        tool_error("install", "expected a plugin file; see 'tenon install "
                              "--help'");
        return EXIT_USAGE;
    }
    for (int i = 0; i < o.npositional; i++) {
        char *dst = NULL;
        if (tenon_install(o.positional[i], o.dir, &dst) != 0) {
            tool_error("install", "%s", tenon_last_error());
            rc = EXIT_FAIL;
            continue;
        }
        if (o.json) {
            json_t *e = json_object();
            json_object_set_new(e, "file", tool_json_str(o.positional[i]));
            json_object_set_new(e, "installed", tool_json_str(dst));
            json_array_append_new(arr, e);
        } else {
            tool_printf(stdout, "installed %s as %s\n", o.positional[i], dst);
        }
        free(dst);
    }
    if (o.json && tool_print_json(arr) != EXIT_OK)
        rc = EXIT_FAIL;
    else if (!o.json)
        json_decref(arr);
    return rc;
}

int cmd_remove(int argc, char **argv)
{
    struct tool_opts o = {0};
    int rc = tool_parse("remove", remove_usage, argc, argv, OPT_DIR,
                        TOOL_MAX_OPERANDS, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional == 0) {
        tool_error("remove", "expected a plugin name; see 'tenon remove "
                             "--help'");
        return EXIT_USAGE;
    }
    for (int i = 0; i < o.npositional; i++) {
        size_t n = 0;
        if (tenon_remove(o.positional[i], o.dir, &n) != 0) {
            tool_error("remove", "%s", tenon_last_error());
            rc = EXIT_FAIL;
            continue;
        }
        tool_printf(stdout, "removed %zu file%s for %s\n", n, n == 1 ? "" : "s",
                    o.positional[i]);
    }
    return rc;
}
