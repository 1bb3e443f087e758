/* tenon list: the plugins on the search path. */
#include "tool.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: tenon list [--all] [--provides ID] [--json] [--no-cache]\n"
    "                  [--plugin-path DIR]...\n"
    "\n"
    "List the plugins found on the search path: name, version, the interfaces\n"
    "each provides, and its file. Only headers and the static info of each\n"
    "file are read; no plugin code runs.\n"
    "\n"
    "  --all               also list files that cannot be used (shadowed,\n"
    "                      malformed, wrong architecture or ABI) with the "
    "reason\n"
    "  --provides ID       only plugins whose static info provides the\n"
    "                      interface ID (namespace.name/major)\n"
    "  --json              print a JSON array of objects with name, version,\n"
    "                      path, status, reason, provides, abi, description,\n"
    "                      accepts\n"
    "  --no-cache          probe every file; neither read nor write the scan\n"
    "                      cache\n"
    "  --plugin-path DIR   search only DIR (repeatable); default:\n"
    "                      $TENON_PLUGIN_PATH, ~/.local/lib/tenon,\n"
    "                      <prefix>/lib/tenon\n"
    "\n"
    "Exit status: 0 on success (even when some files are unavailable or none\n"
    "matches), 1 on failure, 2 on a usage error.\n";

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

static int provides(const tenon_plugin_t *p, const char *id)
{
    for (size_t i = 0; i < tenon_plugin_provides_count(p); i++)
        if (strcmp(tenon_plugin_provides(p, i), id) == 0)
            return 1;
    return 0;
}

static int width(int w, const char *s)
{
    int n = tool_width(s);
    return n > w ? n : w;
}

/* The entries to show, in scan order: with `id`, only those that provide
 * it (an unusable file counts when its static info says so). */
struct selection {
    const tenon_plugin_t **v;
    size_t n, bad; /* bad: how many of them are not available */
};

static int select_entries(tenon_t *t, const char *id, struct selection *s)
{
    size_t n = tenon_plugin_count(t);
    memset(s, 0, sizeof *s);
    if (!(s->v = calloc(n ? n : 1, sizeof *s->v)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const tenon_plugin_t *p = tenon_plugin_at(t, i);
        if (id && !provides(p, id))
            continue;
        s->v[s->n++] = p;
        s->bad += tenon_plugin_status(p) != TENON_AVAILABLE;
    }
    return 0;
}

static void list_unavailable(const struct selection *s)
{
    printf("\nunavailable:\n");
    for (size_t i = 0; i < s->n; i++) {
        const tenon_plugin_t *p = s->v[i];
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

static int list_text(tenon_t *t, const struct selection *s, int all,
                     const char *id)
{
    size_t shown = 0, ndirs = tenon_search_path_count(t);
    int wname = 4, wver = 7, wprov = 8;
    char prov[512];

    for (size_t i = 0; i < s->n; i++) {
        const tenon_plugin_t *p = s->v[i];
        if (tenon_plugin_status(p) != TENON_AVAILABLE)
            continue;
        wname = width(wname, tenon_plugin_name(p));
        wver = width(wver, tenon_plugin_version(p));
        wprov = width(wprov, provides_text(p, prov, sizeof prov));
    }
    for (size_t i = 0; i < s->n; i++) {
        const tenon_plugin_t *p = s->v[i];
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
        tool_printf(stdout, "no plugins %s%s%sfound in %zu director%s\n",
                    id ? "providing " : "", id ? id : "", id ? " " : "", ndirs,
                    ndirs == 1 ? "y" : "ies");
    if (s->bad && !all)
        printf("(%zu unavailable file%s not shown; use --all)\n", s->bad,
               s->bad == 1 ? "" : "s");
    else if (s->bad)
        list_unavailable(s);
    return EXIT_OK;
}

static int list_json(const struct selection *s, int all)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n; i++)
        if (all || tenon_plugin_status(s->v[i]) == TENON_AVAILABLE)
            json_array_append_new(arr, tool_plugin_json(s->v[i]));
    return tool_print_json(arr);
}

int cmd_list(int argc, char **argv)
{
    struct tool_opts o = {0};
    struct selection s;
    const char *id;
    tenon_t *t;
    int rc = tool_parse(
        "list", usage, argc, argv,
        OPT_JSON | OPT_ALL | OPT_NO_CACHE | OPT_PROVIDES | OPT_PATH, 0, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    id = o.provides;
    if (id && !tenon__valid_interface_id(id)) {
        tool_error("list",
                   "--provides '%s': expected an interface id "
                   "namespace.name/major, e.g. tenon.osi/1",
                   id);
        return EXIT_USAGE;
    }
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (tenon_scan(t) != 0) {
        tool_error("list", "%s", tenon_last_error());
        tenon_close(t);
        return EXIT_FAIL;
    }
    if (select_entries(t, id, &s) != 0) {
        tool_error("list", "out of memory");
        rc = EXIT_FAIL;
    } else {
        rc = o.json ? list_json(&s, o.all) : list_text(t, &s, o.all, id);
    }
    free(s.v);
    tenon_close(t);
    return rc;
}
