/* tenon check: is "name[@version][:args]" one that would create an instance? */
#include "tool.h"

static const char usage[] =
    "usage: tenon check SPEC [--json] [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "Check SPEC, NAME[@VERSION][:ARGS], as creating an instance would before\n"
    "loading anything: that the plugin exists and is available, and that\n"
    "ARGS match its declared arguments (names, types, choices, ranges,\n"
    "required ones). No plugin code runs. On success prints\n"
    "'ok: NAME VERSION (FILE)'; else the error, naming what was wrong and\n"
    "what was expected.\n"
    "\n"
    "  --json              print one JSON object: spec, ok, error, name,\n"
    "                      version, path (the plugin SPEC names; null when\n"
    "                      none was found)\n"
    "  --no-cache          probe every file; neither read nor write the scan\n"
    "                      cache\n"
    "  --plugin-path DIR   search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 when SPEC is valid, 1 when it is not, 2 on a usage\n"
    "error.\n";

static int check_json(const char *spec, int rc, const tenon_plugin_t *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "spec", tool_json_str(spec));
    json_object_set_new(o, "ok", json_boolean(rc == 0));
    json_object_set_new(o, "error",
                        rc ? tool_json_str(tenon_last_error()) : json_null());
    json_object_set_new(o, "name",
                        tool_json_str(p ? tenon_plugin_name(p) : NULL));
    json_object_set_new(o, "version",
                        tool_json_str(p ? tenon_plugin_version(p) : NULL));
    json_object_set_new(o, "path",
                        tool_json_str(p ? tenon_plugin_path(p) : NULL));
    if (tool_print_json(o) != EXIT_OK)
        return EXIT_FAIL;
    return rc ? EXIT_FAIL : EXIT_OK;
}

int cmd_check(int argc, char **argv)
{
    struct tool_opts o = {0};
    const tenon_plugin_t *p;
    tenon_t *t;
    int rc = tool_parse("check", usage, argc, argv,
                        OPT_JSON | OPT_NO_CACHE | OPT_PATH, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional != 1) {
        tool_error("check", "expected NAME[@VERSION][:ARGS]; see 'tenon "
                            "check --help'");
        return EXIT_USAGE;
    }
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    rc = tenon_check(t, o.positional[0], &p);
    if (o.json)
        rc = check_json(o.positional[0], rc, p);
    else if (rc) {
        tool_error("check", "%s", tenon_last_error());
        rc = EXIT_FAIL;
    } else
        tool_printf(stdout, "ok: %s %s (%s)\n", tenon_plugin_name(p),
                    tenon_plugin_version(p), tenon_plugin_path(p));
    tenon_close(t);
    return rc;
}
