/* tenon policy: what each plugin asks for and what a permission policy
 * grants it, without loading anything. */
#include "tool.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: tenon policy [FILE] [--json] [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "For each available plugin on the search path, show the permissions it\n"
    "asks for in its static info and what the policy grants it: the policy\n"
    "file FILE, else the one $TENON_POLICY names, else no policy (every\n"
    "plugin gets what it asks for). A plugin asking for more than its line\n"
    "grants would fail to create; those are marked REFUSED with what is\n"
    "missing. A plugin that names no permission asks for log, callback and\n"
    "event. No plugin code runs. Policy files: docs/ops.md.\n"
    "\n"
    "  --json              print a JSON array of objects: name, version,\n"
    "                      path, asks, granted, refused (arrays of names)\n"
    "  --no-cache          probe every file; neither read nor write the scan\n"
    "                      cache\n"
    "  --plugin-path DIR   search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 when every plugin would get what it asks for, 1 when\n"
    "some would be refused or the policy cannot be read, 2 on a usage\n"
    "error.\n";

static void names(uint32_t mask, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < tenon_permission_count(); i++)
        if (mask >> i & 1u) {
            int w = snprintf(buf + n, len - n, "%s%s", n ? "," : "",
                             tenon_permission_name(i));
            if (w < 0 || (size_t)w >= len - n)
                return;
            n += (size_t)w;
        }
    if (!n)
        snprintf(buf, len, "-");
}

static json_t *names_json(uint32_t mask)
{
    json_t *a = json_array();
    for (size_t i = 0; i < tenon_permission_count(); i++)
        if (mask >> i & 1u)
            json_array_append_new(a, json_string(tenon_permission_name(i)));
    return a;
}

int cmd_policy(int argc, char **argv)
{
    struct tool_opts o = {0};
    tenon_t *t;
    int rc = tool_parse("policy", usage, argc, argv,
                        OPT_JSON | OPT_NO_CACHE | OPT_PATH, 1, &o);
    int refused = 0, wname = 4;
    json_t *arr = NULL;

    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (o.npositional == 1 && tenon_policy_load(t, o.positional[0]) != 0) {
        tool_error("policy", "%s", tenon_last_error());
        tenon_close(t);
        return EXIT_FAIL;
    }
    if (tenon_scan(t) != 0) {
        tool_error("policy", "%s", tenon_last_error());
        tenon_close(t);
        return EXIT_FAIL;
    }
    size_t n = tenon_plugin_count(t);
    for (size_t i = 0; i < n; i++) {
        int w = tool_width(tenon_plugin_name(tenon_plugin_at(t, i)));
        wname = w > wname ? w : wname;
    }
    if (o.json)
        arr = json_array();
    else
        tool_printf(stdout, "%-*s  %-8s  %s\n", wname, "NAME", "VERDICT",
                    "PERMISSIONS");
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        uint32_t asked = 0, granted = 0;
        char a[256], g[256], r[256];
        if (tenon_plugin_status(p) != TENON_AVAILABLE)
            continue;
        int bad = tenon_policy_check(t, p, &asked, &granted) != 0;
        refused |= bad;
        if (arr) {
            json_t *j = json_object();
            json_object_set_new(j, "name", tool_json_str(tenon_plugin_name(p)));
            json_object_set_new(j, "version",
                                tool_json_str(tenon_plugin_version(p)));
            json_object_set_new(j, "path", tool_json_str(tenon_plugin_path(p)));
            json_object_set_new(j, "asks", names_json(asked));
            json_object_set_new(j, "granted", names_json(granted));
            json_object_set_new(j, "refused", names_json(asked & ~granted));
            json_array_append_new(arr, j);
            continue;
        }
        names(asked, a, sizeof a);
        names(granted, g, sizeof g);
        names(asked & ~granted, r, sizeof r);
        if (bad)
            tool_printf(stdout, "%-*s  %-8s  asks %s; refused %s\n", wname,
                        tenon_plugin_name(p), "REFUSED", a, r);
        else
            tool_printf(stdout, "%-*s  %-8s  %s\n", wname, tenon_plugin_name(p),
                        "ok", a);
    }
    if (arr && tool_print_json(arr) != EXIT_OK)
        refused = 1;
    tenon_close(t);
    return refused ? EXIT_FAIL : EXIT_OK;
}
