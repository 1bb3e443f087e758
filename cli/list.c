/* tenon list: the plugins on the search path. */
#include "tool.h"

#include <string.h>

static const char usage[] =
    "usage: tenon list [--all] [--json] [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "List the plugins found on the search path: name, version, the interfaces\n"
    "each provides, and its file. Only headers and the static info of each\n"
    "file are read; no plugin code runs.\n"
    "\n"
    "  --all               also list files that cannot be used (shadowed,\n"
    "                      malformed, wrong architecture or ABI) with the "
    "reason\n"
    "  --json              print a JSON array of objects with name, version,\n"
    "                      path, status, reason, provides, abi, description,\n"
    "                      accepts\n"
    "  --no-cache          probe every file; neither read nor write the scan\n"
    "                      cache\n"
    "  --plugin-path DIR   search only DIR (repeatable); default:\n"
    "                      $TENON_PLUGIN_PATH, ~/.local/lib/tenon,\n"
    "                      <prefix>/lib/tenon\n"
    "\n"
    "Exit status: 0 on success (even when some files are unavailable),\n"
    "1 on failure, 2 on a usage error.\n";

/* "a/1,b/2" or "-" into buf. */
static const char *provides_text(const tenon_plugin_t *p, char *buf, size_t len)
{
    size_t n = tenon_plugin_provides_count(p), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                 tenon_plugin_provides(p, i));
    return n ? buf : "-";
}

static int width(int w, const char *s)
{
    int n = tool_width(s);
    return n > w ? n : w;
}

static void list_unavailable(tenon_t *t, size_t n)
{
    printf("\nunavailable:\n");
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        int st = tenon_plugin_status(p);
        if (st == TENON_AVAILABLE)
            continue;
        tool_printf(stdout, "  %s", tenon_plugin_path(p));
        if (tenon_plugin_name(p) && tenon_plugin_version(p))
            tool_printf(stdout, " (%s %s)", tenon_plugin_name(p),
                        tenon_plugin_version(p));
        tool_printf(stdout, "\n    %s: %s\n", tenon_plugin_status_name(st),
                    tenon_plugin_reason(p));
    }
}

static int list_text(tenon_t *t, int all)
{
    size_t n = tenon_plugin_count(t), shown = 0, bad = 0;
    int wname = 4, wver = 7, wprov = 8;
    char prov[512];

    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        if (tenon_plugin_status(p) != TENON_AVAILABLE) {
            bad++;
            continue;
        }
        wname = width(wname, tenon_plugin_name(p));
        wver = width(wver, tenon_plugin_version(p));
        wprov = width(wprov, provides_text(p, prov, sizeof prov));
    }
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        if (tenon_plugin_status(p) != TENON_AVAILABLE)
            continue;
        if (!shown++)
            printf("%-*s  %-*s  %-*s  %s\n", wname, "NAME", wver, "VERSION",
                   wprov, "PROVIDES", "PATH");
        tool_printf(stdout, "%-*s  %-*s  %-*s  %s\n", wname,
                    tenon_plugin_name(p), wver, tenon_plugin_version(p), wprov,
                    provides_text(p, prov, sizeof prov), tenon_plugin_path(p));
    }
    if (!shown)
        printf("no plugins found in %zu director%s\n",
               tenon_search_path_count(t),
               tenon_search_path_count(t) == 1 ? "y" : "ies");
    if (bad && !all)
        printf("(%zu unavailable file%s not shown; use --all)\n", bad,
               bad == 1 ? "" : "s");
    else if (bad)
        list_unavailable(t, n);
    return EXIT_OK;
}

static int list_json(tenon_t *t, int all)
{
    json_t *arr = json_array();
    size_t n = tenon_plugin_count(t);
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        if (all || tenon_plugin_status(p) == TENON_AVAILABLE)
            json_array_append_new(arr, tool_plugin_json(p));
    }
    return tool_print_json(arr);
}

int cmd_list(int argc, char **argv)
{
    struct tool_opts o = {0};
    tenon_t *t;
    int rc = tool_parse("list", usage, argc, argv,
                        OPT_JSON | OPT_ALL | OPT_NO_CACHE, 0, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (tenon_scan(t) != 0) {
        tool_error("list", "%s", tenon_last_error());
        tenon_close(t);
        return EXIT_FAIL;
    }
    rc = o.json ? list_json(t, o.all) : list_text(t, o.all);
    tenon_close(t);
    return rc;
}
