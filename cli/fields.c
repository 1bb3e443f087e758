/* tenon fields: the fields a pipeline can filter on and print. */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: tenon fields [PLUGIN[:ARGS]] [--json] [--no-cache]\n"
    "                    [--plugin-path DIR]...\n"
    "\n"
    "List the fields of PLUGIN, or the built-in fields (evt.*) and those of\n"
    "every plugin that provides tenon.extract/1: NAME (with [KEY] or\n"
    "[INDEX] when it takes an argument, [KEY]? when the argument is\n"
    "optional), TYPE ('list of' for several values per event), PLUGIN and\n"
    "DESCRIPTION. Listing a plugin's fields creates an instance of it (with\n"
    "ARGS, or its defaults), which runs its code.\n"
    "\n"
    "  --json              print a JSON array of objects: name, type, list,\n"
    "                      arg (null, or required, index and key),\n"
    "                      display, description, plugin (null for a\n"
    "                      built-in)\n"
    "  --no-cache          neither read nor write the scan cache\n"
    "  --plugin-path DIR   search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 on success, 1 when PLUGIN cannot be created or does not\n"
    "extract fields (without PLUGIN: when one of the plugins cannot), 2 on\n"
    "a usage error.\n";

/* "json.value[KEY]" for a field that takes an argument. */
static void name_of(const struct tenon_field *f, char *buf, size_t len)
{
    int arg = (f->flags & (TENON_FIELD_ARG_REQ | TENON_FIELD_ARG_INDEX |
                           TENON_FIELD_ARG_KEY)) != 0;
    int index =
        (f->flags & TENON_FIELD_ARG_INDEX) && !(f->flags & TENON_FIELD_ARG_KEY);
    snprintf(buf, len, "%s%s%s", f->name,
             !arg    ? ""
             : index ? "[INDEX]"
                     : "[KEY]",
             arg && !(f->flags & TENON_FIELD_ARG_REQ) ? "?" : "");
}

static void emit(json_t *arr, const struct tenon_field *f, const char *plugin)
{
    char name[160], type[32];
    if (!f->name || (f->flags & TENON_FIELD_HIDDEN))
        return;
    snprintf(type, sizeof type, "%s%s",
             f->flags & TENON_FIELD_LIST ? "list of " : "",
             tenon_field_type_name(f->type));
    if (arr) {
        json_t *o = json_object(), *a = json_null();
        if (f->flags & (TENON_FIELD_ARG_REQ | TENON_FIELD_ARG_INDEX |
                        TENON_FIELD_ARG_KEY)) {
            a = json_object();
            json_object_set_new(a, "required",
                                json_boolean(f->flags & TENON_FIELD_ARG_REQ));
            json_object_set_new(a, "index",
                                json_boolean(f->flags & TENON_FIELD_ARG_INDEX));
            json_object_set_new(a, "key",
                                json_boolean(f->flags & TENON_FIELD_ARG_KEY));
        }
        json_object_set_new(o, "name", tool_json_str(f->name));
        json_object_set_new(o, "type",
                            json_string(tenon_field_type_name(f->type)));
        json_object_set_new(o, "list",
                            json_boolean(f->flags & TENON_FIELD_LIST));
        json_object_set_new(o, "arg", a);
        json_object_set_new(o, "display", tool_json_str(f->display));
        json_object_set_new(o, "description", tool_json_str(f->desc));
        json_object_set_new(o, "plugin", tool_json_str(plugin));
        json_array_append_new(arr, o);
        return;
    }
    name_of(f, name, sizeof name);
    tool_printf(stdout, "%-24s %-15s %-10s %s\n", name, type,
                plugin ? plugin : "(built-in)", f->desc ? f->desc : "");
}

/* The fields of the plugin `spec`, created with its input when it takes
 * one. */
static int plugin_fields(tenon_t *t, const char *spec, json_t *arr)
{
    const tenon_plugin_t *p;
    tenon_instance_t *inst, *input = NULL;
    const struct tenon_extract_v1 *ext;
    const struct tenon_field *f;
    const char *accepts;
    uint32_t n = 0;
    void *obj;
    int rc = tenon_check(t, spec, &p);

    if (rc) {
        tool_error("fields", "'%s': %s", spec, tenon_last_error());
        return rc == TENON_EARG || rc == TENON_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    accepts = tenon_plugin_get(p, "accepts");
    if (accepts && tenon_create_provider(t, accepts, NULL, &input)) {
        tool_error("fields", "the input of '%s': %s", spec, tenon_last_error());
        return EXIT_FAIL;
    }
    rc = tenon_create(t, spec, input, &inst);
    tenon_destroy(input);
    if (rc) {
        tool_error("fields", "%s", tenon_last_error());
        return EXIT_FAIL;
    }
    ext = tenon_get_interface(inst, TENON_EXTRACT_ID, &obj);
    if (!ext) {
        tool_error("fields",
                   "plugin '%s' extracts no fields (it does not "
                   "provide %s)",
                   tenon_plugin_name(p), TENON_EXTRACT_ID);
        tenon_destroy(inst);
        return EXIT_FAIL;
    }
    f = ext->fields(obj, &n);
    for (uint32_t i = 0; f && i < n && i < 65536; i++)
        emit(arr, &f[i], tenon_plugin_name(p));
    tenon_destroy(inst);
    return 0;
}

int cmd_fields(int argc, char **argv)
{
    struct tool_opts o = {0};
    const struct tenon_field *f;
    json_t *arr = NULL;
    uint32_t n;
    tenon_t *t;
    int rc = tool_parse("fields", usage, argc, argv,
                        OPT_JSON | OPT_NO_CACHE | OPT_PATH, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (o.json)
        arr = json_array();
    else
        printf("%-24s %-15s %-10s %s\n", "FIELD", "TYPE", "PLUGIN",
               "DESCRIPTION");
    if (o.npositional == 1) {
        rc = plugin_fields(t, o.positional[0], arr);
    } else {
        size_t np = tenon_providers(t, TENON_EXTRACT_ID, NULL, 0);
        const tenon_plugin_t **ps = calloc(np ? np : 1, sizeof *ps);
        f = tenon_builtin_fields(&n);
        for (uint32_t i = 0; i < n; i++)
            emit(arr, &f[i], NULL);
        if (!ps) {
            tool_error("fields", "out of memory");
            rc = EXIT_FAIL;
        } else {
            np = tenon_providers(t, TENON_EXTRACT_ID, ps, np);
            for (size_t i = 0; i < np; i++) {
                int r = plugin_fields(t, tenon_plugin_name(ps[i]), arr);
                if (r)
                    rc = r;
            }
        }
        free(ps);
    }
    if (arr) { /* what could be listed, also when a plugin failed */
        int prc = tool_print_json(arr);
        rc = rc ? rc : prc;
    }
    tenon_close(t);
    return rc;
}
