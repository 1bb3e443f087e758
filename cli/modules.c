/* tenon modules: the kernel modules a tenon.osi/1 provider lists. */
#include "tool.h"

static const char usage[] =
    "usage: tenon modules [--json] [-o NAME[:ARGS]]... [-c NAME[:ARGS]]...\n"
    "                     [--no-cache] [--plugin-path DIR]...\n"
    "\n"
    "List the kernel modules of a system as a tenon.osi/1 provider sees it:\n"
    "NAME, SIZE in bytes and BASE, the load address ('-' when unknown: Linux\n"
    "shows it to root only). A provider with no kernel to list, such as\n"
    "coredump, makes this fail.\n"
    "\n"
    "  --json                        print a JSON array of objects: name,\n"
    "                                size, base (a hex string, or "
    "null)\n" TOOL_CHAIN_HELP
    "  --no-cache                    probe every file; neither read nor write\n"
    "                                the scan cache\n"
    "  --plugin-path DIR             search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 on success, 1 when the provider does not list modules\n"
    "or listing them fails, 2 on a usage error.\n";

static int on_module(void *ud, const struct tenon_osi_module *m)
{
    json_t *arr = ud;
    char size[24], base[24];
    const char *name =
        TOOL_HAS(m, struct tenon_osi_module, name) && m->name ? m->name : "";
    snprintf(size, sizeof size, "%llu", (unsigned long long)m->size);
    snprintf(base, sizeof base, "0x%llx", (unsigned long long)m->base);
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "name", tool_json_str(name));
        json_object_set_new(o, "size",
                            m->size ? json_integer((json_int_t)m->size)
                                    : json_null());
        json_object_set_new(o, "base",
                            m->has_base ? json_string(base) : json_null());
        return json_array_append_new(arr, o) ? 1 : 0;
    }
    tool_printf(stdout, "%-24s %10s %s\n", name, m->size ? size : "-",
                m->has_base ? base : "-");
    return 0;
}

int cmd_modules(int argc, char **argv)
{
    struct tool_opts o = {0};
    const struct tenon_osi_v1 *osi;
    const void *vt;
    void *obj;
    tenon_instance_t *inst;
    json_t *arr = NULL;
    tenon_t *t;
    int rc = tool_parse("modules", usage, argc, argv,
                        OPT_JSON | OPT_NO_CACHE | OPT_PATH | OPT_CHAIN, 0, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if ((rc = tool_chain_open("modules", t, &o, TENON_OSI_ID, &inst, &vt,
                              &obj))) {
        tenon_close(t);
        return rc;
    }
    osi = vt;
    if (!TOOL_HAS(osi, struct tenon_osi_v1, modules) || !osi->modules) {
        tool_error("modules", "'%s' does not list kernel modules",
                   tenon_plugin_name(tenon_instance_plugin(inst)));
        tenon_destroy(inst);
        tenon_close(t);
        return EXIT_FAIL;
    }
    if (o.json)
        arr = json_array();
    else
        printf("%-24s %10s %s\n", "NAME", "SIZE", "BASE");
    rc = osi->modules(obj, on_module, arr);
    return tool_listing_end("modules", t, inst, rc, "listing the modules", arr);
}
