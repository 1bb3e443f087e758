/* tenon info: everything the static info of one plugin says. */
#include "tool.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: tenon info NAME[@VERSION] [--json] [--targets] [--no-cache]\n"
    "                  [--plugin-path DIR]...\n"
    "       tenon info FILE [--json]\n"
    "\n"
    "Show a plugin's static info: version, file, ABI, description, license,\n"
    "the interfaces it provides and accepts, the libraries it needs and\n"
    "where it asks the loader to look for them (DT_NEEDED, DT_RUNPATH,\n"
    "DT_RPATH), its arguments (type, range, default, whether required,\n"
    "help), its config schema and its help text. NAME picks the highest\n"
    "version on the search path; NAME@VERSION exactly that one. An operand\n"
    "with a '/' or ending in .so is a FILE, read where it is (the search\n"
    "path and the trust policy play no part; see 'tenon verify').\n"
    "No plugin code runs, unless --targets is given.\n"
    "\n"
    "  --json              print one JSON object (see 'tenon list --help';\n"
    "                      adds license, help, arguments, config_schema,\n"
    "                      needed, runpath, rpath, info, targets)\n"
    "  --targets           load the plugin and list what it can attach to\n"
    "                      (NAME only)\n"
    "  --no-cache          probe every file; neither read nor write the scan\n"
    "                      cache\n"
    "  --plugin-path DIR   search only DIR (repeatable)\n"
    "\n"
    "Exit status: 0 on success, 1 when the plugin is not found or\n"
    "unavailable, 2 on a usage error.\n";

/* Keys shown in their own lines; the rest go under "other info". */
static const char *const known[] = {
    "abi",     "name",          "version",    "description", "license",
    "help",    "provides",      "accepts",    "rank",        "url",
    "contact", "config.schema", "permission", "hook"};

static int is_known(const char *key)
{
    if (strcmp(key, "arg") == 0 || strncmp(key, "arg.", 4) == 0)
        return 1;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(key, known[i]) == 0)
            return 1;
    return 0;
}

static void print_field(const char *label, const char *value)
{
    tool_printf(stdout, "%-12s %s\n", label, value && *value ? value : "-");
}

/* Each line of `text` indented by two spaces; the line breaks are the
 * text's own, everything else is escaped. */
static void print_indented(const char *text)
{
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        int len = nl ? (int)(nl - l) : (int)strlen(l);
        tool_printf(stdout, "  %.*s\n", len, l);
        l += len + (nl != NULL);
    }
}

static void print_args(const tenon_plugin_t *p)
{
    size_t n = tenon_plugin_arg_count(p);
    printf("arguments:%s\n", n ? "" : "  none");
    for (size_t i = 0; i < n; i++) {
        const struct tenon_arg_decl *d = tenon_plugin_arg(p, i);
        tool_printf(stdout, "  %s%s  %s", d->name,
                    i == 0 ? " (bare value)" : "",
                    tenon_arg_type_name(d->type));
        if (d->choices)
            tool_printf(stdout, " (%s)", d->choices);
        if (d->has_min && d->has_max)
            printf(" (%lld..%lld)", (long long)d->min, (long long)d->max);
        else if (d->has_min || d->has_max)
            printf(" (%s %lld)", d->has_min ? ">=" : "<=",
                   (long long)(d->has_min ? d->min : d->max));
        if (d->required)
            printf(", required");
        else if (d->default_value)
            tool_printf(stdout, ", default \"%s\"", d->default_value);
        else
            printf(", optional");
        tool_printf(stdout, "\n      %s\n",
                    d->help && *d->help ? d->help : "-");
    }
}

/* The config schema, pretty-printed, or as written with the reason when
 * the host would refuse it. */
static void print_schema(const char *schema)
{
    char why[512];
    json_t *v = NULL;
    char *text = NULL;
    int rc = tenon__config_schema_check(schema, why, sizeof why);

    if (rc != 0) { /* ERANGE: too big to check for display, not refused */
        tool_printf(stdout, "config schema: (%s: %s)\n",
                    rc == TENON_ERANGE ? "not fully checked" : "refused", why);
        print_indented(schema);
        return;
    }
    v = json_loads(schema, JSON_DECODE_ANY, NULL);
    text = v ? json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                 JSON_ENCODE_ANY)
             : NULL;
    printf("config schema:\n");
    print_indented(text ? text : schema);
    free(text);
    json_decref(v);
}

static void emit_text(void *ud, const char *name, const char *description)
{
    (void)ud;
    tool_printf(stdout, "  %s  %s\n", name, description ? description : "");
}

/* Every value of `key` on one line after `label` ("hooks:" one a line). */
static void print_list(const tenon_plugin_t *p, const char *key,
                       const char *label, const char *none)
{
    size_t n = 0, nkv = tenon_plugin_info_count(p);
    int hooks = strcmp(key, "hook") == 0;
    printf("%-12s", label);
    for (size_t i = 0; i < nkv; i++) {
        const char *k, *v;
        tenon_plugin_info_at(p, i, &k, &v);
        if (strcmp(k, key) != 0)
            continue;
        if (hooks)
            tool_printf(stdout, "%s%s\n", n ? "             " : " ", v);
        else
            tool_printf(stdout, " %s", v);
        n++;
    }
    if (!n)
        printf("%s\n", none);
    else if (!hooks)
        printf("\n");
}

/* The same as a JSON array of strings. */
static json_t *list_json(const tenon_plugin_t *p, const char *key)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < tenon_plugin_info_count(p); i++) {
        const char *k, *v;
        tenon_plugin_info_at(p, i, &k, &v);
        if (strcmp(k, key) == 0)
            json_array_append_new(arr, tool_json_str(v));
    }
    return arr;
}

static int info_text(tenon_t *t, const tenon_plugin_t *p, int targets)
{
    size_t n = tenon_plugin_provides_count(p), nkv = tenon_plugin_info_count(p);
    const char *help = tenon_plugin_get(p, "help");
    int other = 0, rc = EXIT_OK;

    print_field("name:", tenon_plugin_name(p));
    print_field("version:", tenon_plugin_version(p));
    print_field("path:", tenon_plugin_path(p));
    print_field("status:", tenon_plugin_status_name(tenon_plugin_status(p)));
    printf("%-12s %d\n", "abi:", tenon_plugin_abi(p));
    print_field("description:", tenon_plugin_get(p, "description"));
    print_field("license:", tenon_plugin_get(p, "license"));
    if (tenon_plugin_get(p, "url"))
        print_field("url:", tenon_plugin_get(p, "url"));
    if (tenon_plugin_get(p, "contact"))
        print_field("contact:", tenon_plugin_get(p, "contact"));
    printf("%-12s", "provides:");
    for (size_t i = 0; i < n; i++)
        tool_printf(stdout, " %s", tenon_plugin_provides(p, i));
    printf("%s\n", n ? "" : " -");
    print_field("accepts:", tenon_plugin_get(p, "accepts"));
    printf("%-12s %d\n", "rank:", tenon_plugin_rank(p));
    print_list(p, "permission", "permissions:",
               " - (so: log callback event, as before permissions)");
    print_list(p, "hook", "hooks:", " -");
    printf("%-12s", "needs:");
    for (size_t i = 0; i < tenon_plugin_needed_count(p); i++)
        tool_printf(stdout, " %s", tenon_plugin_needed(p, i));
    printf("%s\n", tenon_plugin_needed_count(p) ? "" : " -");
    if (tenon_plugin_runpath(p))
        print_field("runpath:", tenon_plugin_runpath(p));
    if (tenon_plugin_rpath(p))
        print_field("rpath:", tenon_plugin_rpath(p));
    print_args(p);
    if (tenon_plugin_get(p, "config.schema"))
        print_schema(tenon_plugin_get(p, "config.schema"));
    if (help) {
        printf("help:\n");
        print_indented(help);
    }
    for (size_t i = 0; i < nkv; i++) {
        const char *k, *v;
        tenon_plugin_info_at(p, i, &k, &v);
        if (is_known(k))
            continue;
        if (!other++)
            printf("other info:\n");
        tool_printf(stdout, "  %s=%s\n", k, v);
    }
    if (targets) {
        char spec[256];
        snprintf(spec, sizeof spec, "%s@%s", tenon_plugin_name(p),
                 tenon_plugin_version(p));
        printf("targets:\n");
        if (tenon_targets(t, spec, emit_text, NULL) != 0) {
            tool_error("info", "%s", tenon_last_error());
            rc = EXIT_FAIL;
        }
    }
    return rc;
}

static void emit_json(void *ud, const char *name, const char *description)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", tool_json_str(name));
    json_object_set_new(o, "description", tool_json_str(description));
    json_array_append_new(ud, o);
}

static json_t *args_json(const tenon_plugin_t *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < tenon_plugin_arg_count(p); i++) {
        const struct tenon_arg_decl *d = tenon_plugin_arg(p, i);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(d->name));
        json_object_set_new(o, "type",
                            json_string(tenon_arg_type_name(d->type)));
        json_object_set_new(o, "required", json_boolean(d->required));
        json_object_set_new(o, "default", tool_json_str(d->default_value));
        json_object_set_new(o, "help", tool_json_str(d->help));
        json_object_set_new(o, "min",
                            d->has_min ? json_integer(d->min) : json_null());
        json_object_set_new(o, "max",
                            d->has_max ? json_integer(d->max) : json_null());
        if (d->choices) {
            json_t *c = json_array();
            const char *s = d->choices;
            for (;;) {
                const char *bar = strchr(s, '|');
                size_t len = bar ? (size_t)(bar - s) : strlen(s);
                json_array_append_new(c, json_stringn(s, len));
                if (!bar)
                    break;
                s = bar + 1;
            }
            json_object_set_new(o, "choices", c);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

/* "config_schema": the schema as JSON (null when none or not JSON), and
 * "config_schema_error" when the host would refuse it, or
 * "config_schema_unchecked" when its defaults are too many to check for
 * display. */
static void schema_json(json_t *o, const char *schema)
{
    char why[512];
    json_t *v = NULL;
    int rc = schema ? tenon__config_schema_check(schema, why, sizeof why) : 0;

    if (rc == TENON_ERANGE)
        json_object_set_new(o, "config_schema_unchecked", tool_json_str(why));
    else if (rc != 0)
        json_object_set_new(o, "config_schema_error", tool_json_str(why));
    if (schema)
        v = json_loads(schema, JSON_DECODE_ANY, NULL);
    json_object_set_new(o, "config_schema", v ? v : json_null());
}

static int info_json(tenon_t *t, const tenon_plugin_t *p, int targets)
{
    json_t *o = tool_plugin_json(p), *raw = json_array();
    int rc = EXIT_OK;

    json_object_set_new(o, "license",
                        tool_json_str(tenon_plugin_get(p, "license")));
    json_object_set_new(o, "help", tool_json_str(tenon_plugin_get(p, "help")));
    json_object_set_new(o, "url", tool_json_str(tenon_plugin_get(p, "url")));
    json_object_set_new(o, "contact",
                        tool_json_str(tenon_plugin_get(p, "contact")));
    json_object_set_new(o, "permissions", list_json(p, "permission"));
    json_object_set_new(o, "hooks", list_json(p, "hook"));
    json_object_set_new(o, "arguments", args_json(p));
    schema_json(o, tenon_plugin_get(p, "config.schema"));
    json_t *needed = json_array();
    for (size_t i = 0; i < tenon_plugin_needed_count(p); i++)
        json_array_append_new(needed, tool_json_str(tenon_plugin_needed(p, i)));
    json_object_set_new(o, "needed", needed);
    json_object_set_new(o, "runpath", tool_json_str(tenon_plugin_runpath(p)));
    json_object_set_new(o, "rpath", tool_json_str(tenon_plugin_rpath(p)));
    for (size_t i = 0; i < tenon_plugin_info_count(p); i++) {
        const char *k, *v;
        json_t *kv = json_array();
        tenon_plugin_info_at(p, i, &k, &v);
        json_array_append_new(kv, json_string(k));
        json_array_append_new(kv, tool_json_str(v));
        json_array_append_new(raw, kv);
    }
    json_object_set_new(o, "info", raw);
    if (targets) {
        char spec[256];
        json_t *arr = json_array();
        snprintf(spec, sizeof spec, "%s@%s", tenon_plugin_name(p),
                 tenon_plugin_version(p));
        if (tenon_targets(t, spec, emit_json, arr) != 0) {
            tool_error("info", "%s", tenon_last_error());
            rc = EXIT_FAIL;
        }
        json_object_set_new(o, "targets", arr);
    }
    if (tool_print_json(o) != EXIT_OK)
        rc = EXIT_FAIL;
    return rc;
}

/* An operand that names a file rather than a plugin. */
static int is_file(const char *s)
{
    size_t len = strlen(s);
    return strchr(s, '/') || (len >= 3 && strcmp(s + len - 3, ".so") == 0);
}

/* tenon info FILE: the file probed as a scan would, nothing loaded. */
static int info_file(const char *file, int json)
{
    struct tenon_plugin *p = NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), rc;

    if (fd < 0) {
        tool_error("info", "%s: cannot open: %s", file, strerror(errno));
        return EXIT_FAIL;
    }
    if (!(p = tool_probe(file, fd))) {
        tool_error("info", "out of memory");
        rc = EXIT_FAIL;
    } else if (p->status != TENON_AVAILABLE) {
        tool_error("info", "%s is not a usable plugin: %s", file, p->reason);
        rc = EXIT_FAIL;
    } else {
        rc = json ? info_json(NULL, p, 0) : info_text(NULL, p, 0);
    }
    tenon__plugin_free(p);
    close(fd);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    struct tool_opts o = {0};
    const tenon_plugin_t *p;
    tenon_t *t;
    int rc =
        tool_parse("info", usage, argc, argv,
                   OPT_JSON | OPT_TARGETS | OPT_NO_CACHE | OPT_PATH, 1, &o);
    if (rc)
        return rc == TOOL_DONE ? EXIT_OK : rc;
    if (o.npositional != 1) {
        tool_error("info", "expected a plugin name or file; see 'tenon info "
                           "--help'");
        return EXIT_USAGE;
    }
    if (is_file(o.positional[0])) {
        if (o.targets) {
            tool_error("info",
                       "--targets loads the plugin, so it takes NAME[@VERSION] "
                       "from the search path, not the file '%s'",
                       o.positional[0]);
            return EXIT_USAGE;
        }
        return info_file(o.positional[0], o.json);
    }
    if (!(t = tool_open(&o)))
        return EXIT_FAIL;
    if (tenon_find(t, o.positional[0], &p) != 0) {
        tool_error("info", "%s", tenon_last_error());
        tenon_close(t);
        return EXIT_FAIL;
    }
    rc = o.json ? info_json(t, p, o.targets) : info_text(t, p, o.targets);
    tenon_close(t);
    return rc;
}
