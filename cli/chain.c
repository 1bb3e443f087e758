/*
 * The chain options of the introspection commands (-o NAME[:ARGS] for an
 * OS step, -c NAME[:ARGS] for a connector step, memflow's syntax), and
 * what the commands share about the providers they read from.
 *
 * Everything the command line alone can get wrong is found here from the
 * inventory, before any plugin code runs, and is a usage error: a step
 * naming a plugin that is not of its kind, a chain whose last plugin lacks
 * the interface the command needs, a step whose `accepts` the step before
 * does not provide. What fails once plugins run (a file that is not a
 * core, a process that does not exist) is a failure, exit status 1.
 */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

static int provides(const tenon_plugin_t *p, const char *id)
{
    for (size_t i = 0; i < tenon_plugin_provides_count(p); i++)
        if (strcmp(tenon_plugin_provides(p, i), id) == 0)
            return 1;
    return 0;
}

static const char *kind_id(char kind)
{
    return kind == 'o' ? "tenon.osi/1" : "tenon.memory/1";
}

/* Check each step's plugin, kind and input against the inventory; stores
 * the entries in p[]. */
static int check_steps(const char *cmd, tenon_t *t, const struct tool_opts *o,
                       const char *need, const tenon_plugin_t **p)
{
    for (size_t i = 0; i < o->nsteps; i++) {
        const char *accepts;
        int rc = tenon_check(t, o->steps[i], &p[i]);
        if (rc) {
            tool_error(cmd, "%s '%s': %s", o->step_kind[i] == 'o' ? "-o" : "-c",
                       o->steps[i], tenon_last_error());
            /* A plugin that is not there or cannot be used is a failure
             * to report; a malformed step or argument is the user's. */
            return rc == TENON_EARG || rc == TENON_EINVAL ? EXIT_USAGE
                                                          : EXIT_FAIL;
        }
        if (!provides(p[i], kind_id(o->step_kind[i]))) {
            tool_error(cmd,
                       "%s '%s': plugin '%s' does not provide %s, which %s "
                       "step must",
                       o->step_kind[i] == 'o' ? "-o" : "-c", o->steps[i],
                       tenon_plugin_name(p[i]), kind_id(o->step_kind[i]),
                       o->step_kind[i] == 'o' ? "an OS (-o)"
                                              : "a connector (-c)");
            return EXIT_USAGE;
        }
        /* The library checks this too, but only once the steps before have
         * run; the same words, found from the command line alone. */
        accepts = tenon_plugin_get(p[i], "accepts");
        if (i > 0 && accepts && !provides(p[i - 1], accepts)) {
            tool_error(cmd,
                       "chain step %zu of %zu ('%s'): plugin '%s' needs an "
                       "input providing %s; '%s' does not provide it",
                       i + 1, o->nsteps, o->steps[i], tenon_plugin_name(p[i]),
                       accepts, tenon_plugin_name(p[i - 1]));
            return EXIT_USAGE;
        }
        if (i > 0 && !accepts) {
            tool_error(cmd,
                       "chain step %zu of %zu ('%s'): plugin '%s' takes no "
                       "input, so it cannot follow '%s'",
                       i + 1, o->nsteps, o->steps[i], tenon_plugin_name(p[i]),
                       tenon_plugin_name(p[i - 1]));
            return EXIT_USAGE;
        }
    }
    if (!provides(p[o->nsteps - 1], need)) {
        tool_error(cmd, "the chain ends in '%s', which does not provide %s%s",
                   tenon_plugin_name(p[o->nsteps - 1]), need,
                   strcmp(need, "tenon.memory/1") == 0 &&
                           provides(p[o->nsteps - 1], "tenon.osi/1")
                       ? "; add a connector step for one of its processes, "
                         "e.g. -c process:pid=PID"
                       : "");
        return EXIT_USAGE;
    }
    return 0;
}

int tool_chain_open(const char *cmd, tenon_t *t, const struct tool_opts *o,
                    const char *need, tenon_instance_t **out, const void **vt,
                    void **obj)
{
    const tenon_plugin_t *p[TOOL_MAX_STEPS];
    tenon_instance_t *input = NULL;
    const char *accepts;
    int rc;

    *out = NULL;
    if (o->nsteps == 0) {
        if (tenon_create_provider(t, need, NULL, out)) {
            tool_error(cmd, "%s", tenon_last_error());
            return EXIT_FAIL;
        }
    } else {
        if ((rc = check_steps(cmd, t, o, need, p)))
            return rc;
        /* A first step that reads from something ("-c process:pid=P") is
         * given the best provider of what it accepts, as a command with no
         * step at all is: "-o native" need not be spelled out. */
        accepts = tenon_plugin_get(p[0], "accepts");
        if (accepts && tenon_create_provider(t, accepts, NULL, &input)) {
            tool_error(cmd, "the input of '%s': %s", o->steps[0],
                       tenon_last_error());
            return EXIT_FAIL;
        }
        rc = tenon_chain(t, o->steps, o->nsteps, input, out);
        tenon_destroy(input); /* the chain holds its own reference */
        if (rc) {
            tool_error(cmd, "%s", tenon_last_error());
            return EXIT_FAIL;
        }
    }
    if (!(*vt = tenon_get_interface(*out, need, obj))) {
        tool_error(cmd, "plugin '%s' lists %s but does not return it",
                   tenon_plugin_name(tenon_instance_plugin(*out)), need);
        tenon_destroy(*out);
        *out = NULL;
        return EXIT_FAIL;
    }
    return 0;
}

int tool_provider_error(const char *cmd, tenon_instance_t *inst, int rc,
                        const char *what)
{
    const char *msg = tenon_instance_error(inst);
    if (msg[0])
        tool_error(cmd, "%s", msg);
    else
        tool_error(cmd, "%s: %s (plugin '%s')", what, tenon_strerror(rc),
                   tenon_plugin_name(tenon_instance_plugin(inst)));
    return EXIT_FAIL;
}

int tool_listing_end(const char *cmd, tenon_t *t, tenon_instance_t *inst,
                     int rc, const char *what, json_t *arr)
{
    if (rc < 0)
        rc = tool_provider_error(cmd, inst, rc, what);
    else if (rc > 0) {
        tool_error(cmd, "out of memory");
        rc = EXIT_FAIL;
    } else if (arr) {
        rc = tool_print_json(arr); /* takes arr */
        arr = NULL;
    }
    json_decref(arr);
    tenon_destroy(inst);
    tenon_close(t);
    return rc;
}

int tool_parse_pid(const char *cmd, const char *s, uint32_t *pid)
{
    char *end;
    unsigned long long v;
    if (s[0] < '0' || s[0] > '9' ||
        ((v = strtoull(s, &end, 10)), *end != '\0') || v >= 0xffffffffull) {
        tool_error(cmd, "'%s' is not a process id; expected a decimal number",
                   s);
        return EXIT_USAGE;
    }
    *pid = (uint32_t)v;
    return 0;
}

int tool_parse_u64(const char *s, int suffixes, uint64_t *out)
{
    int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    const char *p = hex ? s + 2 : s;
    unsigned shift = 0;
    uint64_t v = 0;
    size_t digits = 0;
    for (; *p; p++, digits++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (hex && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (hex && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / (hex ? 16 : 10))
            return -1;
        v = v * (hex ? 16 : 10) + d;
    }
    if (suffixes && *p && !p[1]) {
        const char *units = "kmg", *u = strchr(units, *p | 0x20);
        if (u && *p)
            shift = 10 * (unsigned)(u - units + 1), p++;
    }
    if (!digits || *p || (shift && v > UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}
